package messengers_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/tasks"
	"github.com/postdesk/postdesk/tickets"
)

const tgToken = "123456:ABC-test-token"

var tgSeq int64 = 5000

// tgUpdate builds an Update as the Bot API documents it.
func tgUpdate(chatID int64, msg map[string]any) map[string]any {
	tgSeq++
	m := map[string]any{
		"message_id": tgSeq,
		"from":       map[string]any{"id": chatID, "is_bot": false, "first_name": "Anna", "last_name": "Petrova", "username": "anna", "language_code": "en"},
		"chat":       map[string]any{"id": chatID, "first_name": "Anna", "type": "private"},
		"date":       time.Now().Unix(),
	}
	for k, v := range msg {
		m[k] = v
	}
	return map[string]any{"update_id": tgSeq, "message": m}
}

func tgSecret(s string) map[string]string {
	return map[string]string{"X-Telegram-Bot-Api-Secret-Token": s}
}

// telegramFake serves getFile and file downloads for two files and answers sends.
func telegramFake(t *testing.T) *fake {
	f := newFake(t)
	f.handle("/bot"+tgToken+"/getFile", func(w http.ResponseWriter, r *http.Request) {
		c := f.callsTo("/getFile")
		id, _ := c[len(c)-1].JSON["file_id"].(string)
		fmt.Fprintf(w, `{"ok":true,"result":{"file_id":%q,"file_unique_id":"u%s","file_size":9,"file_path":"files/%s.bin"}}`, id, id, id)
	})
	f.bytes("/file/bot"+tgToken+"/files/PHOTO-BIG.bin", "image/jpeg", "jpeg-bytes")
	f.bytes("/file/bot"+tgToken+"/files/DOC-1.bin", "application/pdf", "%PDF-1.4 invoice")
	f.bytes("/file/bot"+tgToken+"/files/VOICE-1.bin", "audio/ogg", "OggS voice")
	n := 700
	sent := func(w http.ResponseWriter, r *http.Request) {
		n++
		fmt.Fprintf(w, `{"ok":true,"result":{"message_id":%d,"chat":{"id":1,"type":"private"},"date":1,"text":"x"}}`, n)
	}
	f.handle("/bot"+tgToken+"/sendMessage", sent)
	f.handle("/bot"+tgToken+"/sendPhoto", sent)
	f.handle("/bot"+tgToken+"/sendDocument", sent)
	return f
}

func TestTelegramInbound(t *testing.T) {
	e := newEnv(t)
	f := telegramFake(t)
	c := e.conn("telegram", f.srv.URL, map[string]string{"bot_token": tgToken, "webhook_secret": "s3cret"}, nil)
	chat := seq.Add(1) + 9000000

	t.Run("text_and_photo_become_a_ticket_with_attachment", func(t *testing.T) {
		up := tgUpdate(chat, map[string]any{"caption": "Are these roses still available?", "photo": []map[string]any{
			{"file_id": "PHOTO-SMALL", "file_unique_id": "a", "width": 90, "height": 90, "file_size": 100},
			{"file_id": "PHOTO-BIG", "file_unique_id": "b", "width": 800, "height": 800, "file_size": 9000}}})
		got, err := e.webhook(c, post(t, up, tgSecret("s3cret")))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !got[0].NewTicket {
			t.Fatalf("want one new ticket, got %+v", got)
		}
		ms := e.messages(c)
		if len(ms) != 1 || ms[0].BodyText != "Are these roses still available?" || ms[0].Direction != "inbound" {
			t.Fatalf("messages: %+v", ms)
		}
		if len(ms[0].Attachments) != 1 || e.readBlob(ms[0].Attachments[0].SHA256) != "jpeg-bytes" ||
			ms[0].Attachments[0].ContentType != "image/jpeg" {
			t.Fatalf("attachment: %+v", ms[0].Attachments)
		}
		tk := e.ticket(ms[0].TicketID)
		if tk.ChannelID != c.ChannelID || tk.MessengerConnectionID == nil || *tk.MessengerConnectionID != c.ID ||
			tk.Subject != "Are these roses still available?" {
			t.Fatalf("ticket: %+v", tk)
		}
		var id tickets.ContactIdentity
		if err := e.svc.DB.Where("kind = 'telegram' AND value = ?", fmt.Sprint(chat)).Take(&id).Error; err != nil ||
			id.ContactID != *tk.ContactID || id.DisplayName != "Anna Petrova" {
			t.Fatalf("identity %+v: %v", id, err)
		}
	})

	t.Run("document_and_voice_thread_into_the_open_ticket", func(t *testing.T) {
		_, err := e.webhook(c, post(t, tgUpdate(chat, map[string]any{"document": map[string]any{
			"file_id": "DOC-1", "file_unique_id": "d", "file_name": "invoice.pdf", "mime_type": "application/pdf"}}),
			tgSecret("s3cret")))
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.webhook(c, post(t, tgUpdate(chat, map[string]any{"voice": map[string]any{
			"file_id": "VOICE-1", "file_unique_id": "v", "duration": 3, "mime_type": "audio/ogg"}}), tgSecret("s3cret")))
		if err != nil {
			t.Fatal(err)
		}
		ms := e.messages(c)
		if len(ms) != 3 || ms[1].TicketID != ms[0].TicketID || ms[2].TicketID != ms[0].TicketID {
			t.Fatalf("want three messages on one ticket, got %+v", ms)
		}
		if a := ms[1].Attachments; len(a) != 1 || a[0].Filename != "invoice.pdf" || e.readBlob(a[0].SHA256) != "%PDF-1.4 invoice" {
			t.Fatalf("document: %+v", a)
		}
		if a := ms[2].Attachments; len(a) != 1 || a[0].Filename != "voice.ogg" || a[0].ContentType != "audio/ogg" {
			t.Fatalf("voice: %+v", a)
		}
	})

	t.Run("wrong_secret_is_rejected_and_stores_nothing", func(t *testing.T) {
		before := len(e.messages(c))
		for _, h := range []map[string]string{tgSecret("wrong"), nil} {
			_, err := e.webhook(c, post(t, tgUpdate(chat, map[string]any{"text": "forged"}), h))
			if !errors.Is(err, messengers.ErrBadSignature) {
				t.Fatalf("err = %v, want ErrBadSignature", err)
			}
		}
		if n := len(e.messages(c)); n != before {
			t.Fatalf("%d messages stored, want %d", n, before)
		}
	})

	t.Run("same_update_twice_is_one_message", func(t *testing.T) {
		before := len(e.messages(c))
		up := tgUpdate(chat, map[string]any{"text": "hello again"})
		for i := 0; i < 2; i++ {
			if _, err := e.webhook(c, post(t, up, tgSecret("s3cret"))); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(e.messages(c)); n != before+1 {
			t.Fatalf("%d messages, want %d", n, before+1)
		}
	})
}

func TestTelegramConversationRules(t *testing.T) {
	e := newEnv(t)
	f := telegramFake(t)
	c := e.conn("telegram", f.srv.URL, map[string]string{"bot_token": tgToken, "webhook_secret": "k"},
		tickets.JSONMap{"reopen_days": 2.0})
	chat := seq.Add(1) + 9100000
	send := func(text string) messengers.Received {
		t.Helper()
		got, err := e.webhook(c, post(t, tgUpdate(chat, map[string]any{"text": text}), tgSecret("k")))
		if err != nil || len(got) != 1 {
			t.Fatalf("webhook: %v %+v", err, got)
		}
		return got[0]
	}
	first := send("first")
	resolve := func(id int64, ago time.Duration) {
		at := time.Now().Add(-ago)
		if err := e.svc.DB.Model(&tickets.Ticket{}).Where("id = ?", id).
			Updates(map[string]any{"status": "resolved", "resolved_at": at}).Error; err != nil {
			t.Fatal(err)
		}
	}
	resolve(first.Ticket.ID, 24*time.Hour)
	second := send("within the window")
	if second.Ticket.ID != first.Ticket.ID || second.NewTicket {
		t.Fatalf("message within the reopen window opened ticket %d, want %d", second.Ticket.ID, first.Ticket.ID)
	}
	if s := e.ticket(first.Ticket.ID).Status; s != tickets.StatusOpen {
		t.Fatalf("status %s, want open", s)
	}
	resolve(first.Ticket.ID, 3*24*time.Hour)
	third := send("long after")
	if third.Ticket.ID == first.Ticket.ID || !third.NewTicket {
		t.Fatalf("message after the window joined ticket %d", third.Ticket.ID)
	}
	if s := e.ticket(first.Ticket.ID).Status; s != tickets.StatusResolved {
		t.Fatalf("old ticket status %s, want resolved", s)
	}
}

func TestTelegramReply(t *testing.T) {
	e := newEnv(t)
	f := telegramFake(t)
	c := e.conn("telegram", f.srv.URL, map[string]string{"bot_token": tgToken, "webhook_secret": "k"}, nil)
	chat := seq.Add(1) + 9200000
	up := tgUpdate(chat, map[string]any{"text": "Do you deliver on Sunday?"})
	got, err := e.webhook(c, post(t, up, tgSecret("k")))
	if err != nil {
		t.Fatal(err)
	}
	in := got[0].Message
	out := e.reply(got[0].Ticket, c, "Yes, from 9 to 14.", e.blob("hours.png", "image/png", "PNG-bytes"),
		e.blob("menu.pdf", "application/pdf", "PDF-bytes"))
	e.svc.DB.Model(out).Update("in_reply_to", in.ProviderMessageID)

	if err := e.deliver(e.sender, out.ID); err != nil {
		t.Fatal(err)
	}
	msgs := f.callsTo("/sendMessage")
	if len(msgs) != 1 {
		t.Fatalf("%d sendMessage calls", len(msgs))
	}
	j := msgs[0].JSON
	wantReply := float64(up["message"].(map[string]any)["message_id"].(int64))
	if j["chat_id"] != fmt.Sprint(chat) || j["text"] != "Yes, from 9 to 14." || j["reply_to_message_id"] != wantReply {
		t.Fatalf("sendMessage payload %v", j)
	}
	photo := f.callsTo("/sendPhoto")
	doc := f.callsTo("/sendDocument")
	if len(photo) != 1 || photo[0].Files["photo"] != "PNG-bytes" || photo[0].Form["chat_id"] != fmt.Sprint(chat) ||
		photo[0].Form["photo.filename"] != "hours.png" {
		t.Fatalf("sendPhoto: %+v", photo)
	}
	if len(doc) != 1 || doc[0].Files["document"] != "PDF-bytes" {
		t.Fatalf("sendDocument: %+v", doc)
	}
	m := e.message(out.ID)
	if m.Status != tickets.MessageSent || m.SentAt == nil || !strings.HasPrefix(m.ProviderMessageID, fmt.Sprint(chat)+":") {
		t.Fatalf("after send: %+v", m)
	}
	// Sending again (a duplicate task) does nothing: the message is no longer queued.
	if err := e.deliver(e.sender, out.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(f.callsTo("/sendMessage")); n != 1 {
		t.Fatalf("resend made %d calls", n)
	}
}

func TestTelegramProviderDown(t *testing.T) {
	e := newEnv(t)
	f := telegramFake(t)
	c := e.conn("telegram", f.srv.URL, map[string]string{"bot_token": tgToken, "webhook_secret": "k"}, nil)
	got, err := e.webhook(c, post(t, tgUpdate(seq.Add(1)+9300000, map[string]any{"text": "hi"}), tgSecret("k")))
	if err != nil {
		t.Fatal(err)
	}
	tk := got[0].Ticket

	t.Run("5xx_is_retried_with_backoff_then_failure_shown", func(t *testing.T) {
		f.handle("/bot"+tgToken+"/sendMessage", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"ok":false,"error_code":502,"description":"Bad Gateway"}`, http.StatusBadGateway)
		})
		out := e.reply(tk, c, "are you there?")
		if err := e.deliver(e.sender, out.ID); err == nil {
			t.Fatal("delivery against a 502 succeeded")
		}
		if m := e.message(out.ID); m.Status != tickets.MessageQueued || m.Attempts != 1 ||
			!strings.Contains(m.FailedReason, "502") {
			t.Fatalf("after a first 502: status %s, %d attempts, reason %q", m.Status, m.Attempts, m.FailedReason)
		}
		// The rest through a real queue: two retries, then the message shows the failure.
		q := e.worker(e.sender, 2)
		if err := q.ScheduleSend(t.Context(), out.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the message to fail", func() bool { return e.message(out.ID).Status == tickets.MessageFailed })
		m := e.message(out.ID)
		if m.Attempts != 4 || !strings.Contains(m.FailedReason, "502") {
			t.Fatalf("after the last attempt: %d attempts, reason %q", m.Attempts, m.FailedReason)
		}
		if n := len(f.callsTo("/sendMessage")); n != 4 {
			t.Fatalf("provider saw %d attempts, want 4", n)
		}
	})

	t.Run("timeout_is_retried", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		f.handle("/bot"+tgToken+"/sendMessage", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		recv := *e.recv
		recv.Registry = messengers.NewRegistry(&http.Client{Timeout: 50 * time.Millisecond})
		sender := *e.sender
		sender.Messengers = &recv
		out := e.reply(tk, c, "still there?")
		err := e.deliver(&sender, out.ID)
		if err == nil || !messengers.IsTemporary(err) {
			t.Fatalf("err = %v, want a temporary timeout", err)
		}
		if m := e.message(out.ID); m.Status != tickets.MessageQueued || m.Attempts != 1 {
			t.Fatalf("after timeout: %s, %d attempts", m.Status, m.Attempts)
		}
	})

	t.Run("4xx_fails_at_once", func(t *testing.T) {
		f.handle("/bot"+tgToken+"/sendMessage", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}`, 403)
		})
		out := e.reply(tk, c, "hello?")
		if err := e.deliver(e.sender, out.ID); err == nil {
			t.Fatal("403 succeeded")
		}
		if m := e.message(out.ID); m.Status != tickets.MessageFailed || !strings.Contains(m.FailedReason, "blocked") {
			t.Fatalf("after 403: %s %q", m.Status, m.FailedReason)
		}
	})
}

func TestTelegramPolling(t *testing.T) {
	e := newEnv(t)
	f := telegramFake(t)
	c := e.conn("telegram", f.srv.URL, map[string]string{"bot_token": tgToken}, tickets.JSONMap{"mode": "polling"})
	chat := seq.Add(1) + 9400000
	u1, u2 := tgUpdate(chat, map[string]any{"text": "one"}), tgUpdate(chat, map[string]any{"text": "two"})
	batch := []any{u1, u2}
	f.handle("/bot"+tgToken+"/getUpdates", func(w http.ResponseWriter, r *http.Request) {
		calls := f.callsTo("/getUpdates")
		off, _ := calls[len(calls)-1].JSON["offset"].(float64)
		var res []any
		for _, u := range batch {
			if float64(u.(map[string]any)["update_id"].(int64)) >= off {
				res = append(res, u)
			}
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":true,"result":%s}`, mustJSON(res))
	})
	for i := 0; i < 2; i++ {
		if err := tasks.PollMessenger(t.Context(), tasks.Deps{Tickets: e.svc, Messengers: e.recv}, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	ms := e.messages(c)
	if len(ms) != 2 || ms[0].BodyText != "one" || ms[1].BodyText != "two" || ms[0].TicketID != ms[1].TicketID {
		t.Fatalf("messages: %+v", ms)
	}
	calls := f.callsTo("/getUpdates")
	want := float64(u2["update_id"].(int64) + 1)
	if len(calls) != 2 || calls[1].JSON["offset"] != want {
		t.Fatalf("second poll offset %v, want %v", calls[1].JSON["offset"], want)
	}
	c2, _ := messengers.LoadConn(t.Context(), e.svc.DB, c.ID)
	if c2.PollOffset != int64(want) {
		t.Fatalf("stored offset %d", c2.PollOffset)
	}
}

func mustJSON(v any) string {
	b, _ := jsonMarshal(v)
	return string(b)
}
