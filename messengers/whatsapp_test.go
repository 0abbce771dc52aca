package messengers_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/tickets"
)

const waSecret = "app-secret-123"

// waHook wraps messages and statuses in the Cloud API's webhook envelope and
// signs it as Meta does.
func waHook(t *testing.T, secret string, value map[string]any) *http.Request {
	value["messaging_product"] = "whatsapp"
	value["metadata"] = map[string]any{"display_phone_number": "15550001111", "phone_number_id": "PNID"}
	body, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{
		map[string]any{"id": "WABA", "changes": []any{map[string]any{"field": "messages", "value": value}}}}})
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return post(t, body, map[string]string{"X-Hub-Signature-256": "sha256=" + hex.EncodeToString(mac.Sum(nil))})
}

func waMessage(from, name string, msg map[string]any) map[string]any {
	msg["from"] = from
	if msg["id"] == nil {
		msg["id"] = fmt.Sprintf("wamid.%s.%d", from, seq.Add(1))
	}
	msg["timestamp"] = fmt.Sprint(time.Now().Unix())
	return map[string]any{"contacts": []any{map[string]any{"profile": map[string]any{"name": name}, "wa_id": from}},
		"messages": []any{msg}}
}

func waStatus(id, status string) map[string]any {
	st := map[string]any{"id": id, "status": status, "timestamp": fmt.Sprint(time.Now().Unix()), "recipient_id": "x"}
	if status == "failed" {
		st["errors"] = []any{map[string]any{"code": 131047, "title": "Re-engagement message",
			"message": "More than 24 hours have passed since the recipient last replied"}}
	}
	return map[string]any{"statuses": []any{st}}
}

func whatsappFake(t *testing.T) *fake {
	f := newFake(t)
	f.handle("/v21.0/MEDIA-IMG", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer wa-token" {
			http.Error(w, `{"error":{"message":"bad token"}}`, 401)
			return
		}
		fmt.Fprintf(w, `{"messaging_product":"whatsapp","url":"%s/whatsapp_binary/img.jpg","mime_type":"image/jpeg","sha256":"x","file_size":9,"id":"MEDIA-IMG"}`, f.srv.URL)
	})
	f.handle("/whatsapp_binary/img.jpg", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer wa-token" {
			http.Error(w, "no", 401)
			return
		}
		w.Write([]byte("whatsapp-jpeg"))
	})
	n := 0
	f.handle("/v21.0/PNID/messages", func(w http.ResponseWriter, r *http.Request) {
		n++
		fmt.Fprintf(w, `{"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],"messages":[{"id":"wamid.OUT%d"}]}`, n)
	})
	f.json("/v21.0/PNID/media", map[string]string{"id": "UPLOADED-1"})
	return f
}

func waConn(e *env, f *fake) *messengers.Conn {
	return e.conn("whatsapp", f.srv.URL, map[string]string{"access_token": "wa-token", "app_secret": waSecret,
		"verify_token": "vt", "phone_number_id": "PNID"}, nil)
}

func TestWhatsAppInbound(t *testing.T) {
	e := newEnv(t)
	f := whatsappFake(t)
	c := waConn(e, f)
	from := fmt.Sprint(4915100000000 + seq.Add(1))

	t.Run("verification_handshake", func(t *testing.T) {
		a, _ := e.recv.Registry.Get("whatsapp")
		v := a.(messengers.Verifier)
		r := httptest.NewRequest("GET", "/hooks/whatsapp/1?hub.mode=subscribe&hub.verify_token=vt&hub.challenge=1158201444", nil)
		if got, err := v.VerifyGET(c, r); err != nil || got != "1158201444" {
			t.Fatalf("challenge: %q %v", got, err)
		}
		r = httptest.NewRequest("GET", "/hooks/whatsapp/1?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1", nil)
		if _, err := v.VerifyGET(c, r); err == nil {
			t.Fatal("wrong verify token accepted")
		}
	})

	t.Run("text_and_image_become_a_ticket", func(t *testing.T) {
		if _, err := e.webhook(c, waHook(t, waSecret, waMessage(from, "Olga", map[string]any{
			"type": "text", "text": map[string]any{"body": "Hello, I want tulips"}}))); err != nil {
			t.Fatal(err)
		}
		if _, err := e.webhook(c, waHook(t, waSecret, waMessage(from, "Olga", map[string]any{"type": "image",
			"image": map[string]any{"id": "MEDIA-IMG", "mime_type": "image/jpeg", "sha256": "x", "caption": "like these"}}))); err != nil {
			t.Fatal(err)
		}
		ms := e.messages(c)
		if len(ms) != 2 || ms[0].TicketID != ms[1].TicketID || ms[0].BodyText != "Hello, I want tulips" ||
			ms[1].BodyText != "like these" {
			t.Fatalf("messages: %+v", ms)
		}
		if a := ms[1].Attachments; len(a) != 1 || e.readBlob(a[0].SHA256) != "whatsapp-jpeg" || a[0].ContentType != "image/jpeg" {
			t.Fatalf("attachment: %+v", a)
		}
		var ids []tickets.ContactIdentity
		e.svc.DB.Where("contact_id = ?", *ms[0].ContactID).Order("kind").Find(&ids)
		if len(ids) != 2 || ids[0].Kind != "phone" || ids[0].Value != "+"+from || ids[1].Kind != "whatsapp" {
			t.Fatalf("identities: %+v", ids)
		}
	})

	t.Run("interactive_reply_is_text", func(t *testing.T) {
		_, err := e.webhook(c, waHook(t, waSecret, waMessage(from, "Olga", map[string]any{"type": "interactive",
			"interactive": map[string]any{"type": "button_reply", "button_reply": map[string]any{"id": "b1", "title": "Track my order"}}})))
		if err != nil {
			t.Fatal(err)
		}
		ms := e.messages(c)
		if ms[len(ms)-1].BodyText != "Track my order" {
			t.Fatalf("interactive: %q", ms[len(ms)-1].BodyText)
		}
	})

	t.Run("wrong_signature_stores_nothing", func(t *testing.T) {
		before := len(e.messages(c))
		_, err := e.webhook(c, waHook(t, "not-the-secret", waMessage(from, "Olga", map[string]any{
			"type": "text", "text": map[string]any{"body": "forged"}})))
		if !errors.Is(err, messengers.ErrBadSignature) {
			t.Fatalf("err = %v", err)
		}
		r := waHook(t, waSecret, waMessage(from, "Olga", map[string]any{"type": "text", "text": map[string]any{"body": "x"}}))
		r.Header.Del("X-Hub-Signature-256")
		if _, err := e.webhook(c, r); !errors.Is(err, messengers.ErrBadSignature) {
			t.Fatalf("unsigned: err = %v", err)
		}
		if n := len(e.messages(c)); n != before {
			t.Fatalf("%d messages, want %d", n, before)
		}
	})

	t.Run("same_webhook_twice_is_one_message", func(t *testing.T) {
		before := len(e.messages(c))
		v := waMessage(from, "Olga", map[string]any{"type": "text", "text": map[string]any{"body": "twice"}})
		for i := 0; i < 2; i++ {
			if _, err := e.webhook(c, waHook(t, waSecret, v)); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(e.messages(c)); n != before+1 {
			t.Fatalf("%d messages, want %d", n, before+1)
		}
	})
}

func TestWhatsAppPhoneUnifiesContact(t *testing.T) {
	e := newEnv(t)
	f := whatsappFake(t)
	c := waConn(e, f)
	from := fmt.Sprint(4915200000000 + seq.Add(1))
	known, err := e.svc.ResolveContact(t.Context(), e.svc.DB, "phone", "+"+from, "Known Customer")
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.webhook(c, waHook(t, waSecret, waMessage(from, "K", map[string]any{"type": "text",
		"text": map[string]any{"body": "it's me"}})))
	if err != nil {
		t.Fatal(err)
	}
	if *got[0].Ticket.ContactID != known.ID {
		t.Fatalf("contact %d, want the phone's contact %d", *got[0].Ticket.ContactID, known.ID)
	}
}

func TestWhatsAppReplyAndStatuses(t *testing.T) {
	e := newEnv(t)
	f := whatsappFake(t)
	c := waConn(e, f)
	from := fmt.Sprint(4915300000000 + seq.Add(1))
	got, err := e.webhook(c, waHook(t, waSecret, waMessage(from, "Olga", map[string]any{"id": "wamid.IN1",
		"type": "text", "text": map[string]any{"body": "price?"}})))
	if err != nil {
		t.Fatal(err)
	}
	tk := got[0].Ticket
	out := e.reply(tk, c, "12 EUR a bunch", e.blob("price.pdf", "application/pdf", "PDF!"))
	e.svc.DB.Model(out).Update("in_reply_to", "wamid.IN1")
	if err := e.deliver(e.sender, out.ID); err != nil {
		t.Fatal(err)
	}
	sends := f.callsTo("/PNID/messages")
	if len(sends) != 2 {
		t.Fatalf("%d sends, want text + document", len(sends))
	}
	j := sends[0].JSON
	if j["messaging_product"] != "whatsapp" || j["to"] != from || j["type"] != "text" ||
		j["text"].(map[string]any)["body"] != "12 EUR a bunch" ||
		j["context"].(map[string]any)["message_id"] != "wamid.IN1" ||
		sends[0].Header.Get("Authorization") != "Bearer wa-token" {
		t.Fatalf("text payload: %v", j)
	}
	up := f.callsTo("/PNID/media")
	if len(up) != 1 || up[0].Files["file"] != "PDF!" || up[0].Form["messaging_product"] != "whatsapp" {
		t.Fatalf("upload: %+v", up)
	}
	if d := sends[1].JSON; d["type"] != "document" || d["document"].(map[string]any)["id"] != "UPLOADED-1" ||
		d["document"].(map[string]any)["filename"] != "price.pdf" {
		t.Fatalf("document payload: %v", d)
	}
	m := e.message(out.ID)
	if m.Status != tickets.MessageSent || m.ProviderMessageID != "wamid.OUT1" {
		t.Fatalf("after send: %s %q", m.Status, m.ProviderMessageID)
	}

	status := func(s string) {
		t.Helper()
		if _, err := e.webhook(c, waHook(t, waSecret, waStatus("wamid.OUT1", s))); err != nil {
			t.Fatal(err)
		}
	}
	status("delivered")
	if s := e.message(out.ID).Status; s != tickets.MessageDelivered {
		t.Fatalf("status %s, want delivered", s)
	}
	status("read")
	var opened struct {
		Status    string
		OpenedAt  *time.Time
		OpenCount int
	}
	e.svc.DB.Raw("SELECT status, opened_at, open_count FROM messages WHERE id = ?", out.ID).Scan(&opened)
	if opened.Status != tickets.MessageRead || opened.OpenedAt == nil || opened.OpenCount != 1 {
		t.Fatalf("after read: %+v", opened)
	}
	status("delivered") // late and out of order: must not undo "read"
	if s := e.message(out.ID).Status; s != tickets.MessageRead {
		t.Fatalf("late delivered moved status to %s", s)
	}

	// A failure reported later by the provider shows on the message.
	out2 := e.reply(tk, c, "second")
	if err := e.deliver(e.sender, out2.ID); err != nil {
		t.Fatal(err)
	}
	pid := e.message(out2.ID).ProviderMessageID
	if _, err := e.webhook(c, waHook(t, waSecret, waStatus(pid, "failed"))); err != nil {
		t.Fatal(err)
	}
	if m := e.message(out2.ID); m.Status != tickets.MessageFailed || !strings.Contains(m.FailedReason, "131047") {
		t.Fatalf("after failed status: %s %q", m.Status, m.FailedReason)
	}
}

func TestWhatsAppCustomerServiceWindow(t *testing.T) {
	e := newEnv(t)
	f := whatsappFake(t)
	c := waConn(e, f)
	from := fmt.Sprint(4915400000000 + seq.Add(1))
	got, err := e.webhook(c, waHook(t, waSecret, waMessage(from, "Old", map[string]any{"type": "text",
		"text": map[string]any{"body": "hi"}})))
	if err != nil {
		t.Fatal(err)
	}
	tk := got[0].Ticket
	e.svc.DB.Model(&tickets.Message{}).Where("id = ?", got[0].Message.ID).Update("created_at", time.Now().Add(-25*time.Hour))

	if need, err := messengers.NeedsTemplate(t.Context(), e.svc.DB, tk, time.Now()); err != nil || !need {
		t.Fatalf("NeedsTemplate = %v, %v; want true", need, err)
	}
	// The reply API refuses free text before queueing anything (422 with a field).
	_, err = e.svc.CreateOutbound(t.Context(), e.admin, tk.ID, tickets.OutboundDraft{BodyText: "free text"})
	var ve *tickets.ValidationError
	if !errors.As(err, &ve) || ve.Fields["template"] == "" {
		t.Fatalf("CreateOutbound outside the window: %v", err)
	}
	viaAPI, err := e.svc.CreateOutbound(t.Context(), e.admin, tk.ID, tickets.OutboundDraft{
		MessengerTemplate: &tickets.MessengerTemplate{Name: "order_update", Language: "en_US"}})
	if err != nil {
		t.Fatal(err)
	}
	if tpl, err := messengers.MessageTemplate(t.Context(), e.svc.DB, viaAPI.ID); err != nil || tpl == nil ||
		tpl.Name != "order_update" || viaAPI.MessengerConnectionID == nil {
		t.Fatalf("stored template %+v, %v", tpl, err)
	}
	e.svc.DB.Model(&tickets.Message{}).Where("id = ?", viaAPI.ID).Update("status", tickets.MessageCanceled)

	// The send path checks again, in case the window closed while the reply waited.
	free := e.reply(tk, c, "free text after a day")
	if err := e.deliver(e.sender, free.ID); err == nil {
		t.Fatal("free text outside the window was sent")
	}
	if m := e.message(free.ID); m.Status != tickets.MessageFailed || !strings.Contains(m.FailedReason, "24-hour") {
		t.Fatalf("free text: %s %q", m.Status, m.FailedReason)
	}
	if n := len(f.callsTo("/PNID/messages")); n != 0 {
		t.Fatalf("%d calls reached the provider", n)
	}

	tpl := e.reply(tk, c, "")
	if err := messengers.SetMessageTemplate(t.Context(), e.svc.DB, tpl.ID, messengers.Template{Name: "order_update",
		Language: "en_US", Params: []string{"#1042"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.deliver(e.sender, tpl.ID); err != nil {
		t.Fatal(err)
	}
	sends := f.callsTo("/PNID/messages")
	if len(sends) != 1 || sends[0].JSON["type"] != "template" {
		t.Fatalf("template send: %+v", sends)
	}
	tj := sends[0].JSON["template"].(map[string]any)
	if tj["name"] != "order_update" || tj["language"].(map[string]any)["code"] != "en_US" ||
		!strings.Contains(mustJSON(tj["components"]), `"text":"#1042"`) {
		t.Fatalf("template payload: %v", tj)
	}
}
