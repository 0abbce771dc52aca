package web

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tasks"
	"github.com/postdesk/postdesk/tickets"
)

// mailDesk is an email channel with a mailbox and a ticket opened by a customer.
type mailDesk struct {
	h         *harness
	admin     *tickets.Agent
	api       *apiClient
	channelID int64
	mailbox   *tickets.Mailbox
	ticket    *tickets.Ticket
	inbound   *tickets.Message
}

var deskSeq int

func newMailDesk(t *testing.T, h *harness, undo int) *mailDesk {
	t.Helper()
	deskSeq++
	admin, api := h.agent("admin")
	h.svc.DB.Model(&tickets.Agent{}).Where("id = ?", admin.ID).Update("undo_seconds", undo)
	d := &mailDesk{h: h, admin: admin, api: api}
	d.channelID = api.channel(fmt.Sprintf("Outbound desk %d %d", deskSeq, time.Now().UnixNano()), "email", admin.ID)
	var mb tickets.Mailbox
	api.must(201, "POST", fmt.Sprintf("/api/v1/channels/%d/mailboxes", d.channelID), map[string]any{
		"address": fmt.Sprintf("desk%d.%d@shop.test", deskSeq, time.Now().UnixNano()), "smtp_host": "127.0.0.1",
		"smtp_port": 1, "smtp_security": "plain"}, &mb)
	d.mailbox = &mb
	ctx := context.Background()
	err := h.svc.DB.Transaction(func(tx *gorm.DB) error {
		c, err := h.svc.ResolveContact(ctx, tx, "email", fmt.Sprintf("jane%d.%d@customer.test", deskSeq, time.Now().UnixNano()), "Jane Doe")
		if err != nil {
			return err
		}
		d.ticket, err = h.svc.OpenTicket(ctx, tx, tickets.NewTicket{ChannelID: d.channelID, Subject: "Broken vase",
			ContactID: &c.ID, MailboxID: &mb.ID})
		if err != nil {
			return err
		}
		var ids []tickets.ContactIdentity
		tx.Where("contact_id = ?", c.ID).Find(&ids)
		d.inbound = &tickets.Message{ContactID: &c.ID, FromAddress: ids[0].Value, FromName: "Jane Doe",
			ToAddresses: tickets.StringList{mb.Address}, Subject: "Broken vase", BodyText: "It arrived broken.",
			MessageIDHeader: fmt.Sprintf("j%d@customer.test", time.Now().UnixNano())}
		return h.svc.AddInboundMessage(ctx, tx, d.ticket, d.inbound)
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *mailDesk) messagesPath() string {
	return fmt.Sprintf("/api/v1/tickets/%d/messages", d.ticket.ID)
}

func TestPostReplyQueuesAndUndo(t *testing.T) {
	h := newHarness(t)
	d := newMailDesk(t, h, 30)
	var m tickets.Message
	d.api.must(201, "POST", d.messagesPath(), map[string]any{"body": "Sorry! A new one is on its way."}, &m)
	if m.Status != "queued" || m.Direction != "outbound" || m.SendAt == nil || m.SendAt.Sub(m.CreatedAt) != 30*time.Second {
		t.Fatalf("reply: status %s send_at %v created %v", m.Status, m.SendAt, m.CreatedAt)
	}
	if len(m.ToAddresses) != 1 || !strings.Contains(m.ToAddresses[0], d.inbound.FromAddress) {
		t.Fatalf("default To %v", m.ToAddresses)
	}
	if m.InReplyTo != d.inbound.MessageIDHeader || m.Subject != fmt.Sprintf("Re: Broken vase [#%d]", d.ticket.Number) {
		t.Fatalf("threading %q subject %q", m.InReplyTo, m.Subject)
	}
	if !strings.HasPrefix(m.FromName, d.admin.Name+" from Outbound desk") || m.FromAddress != d.mailbox.Address {
		t.Fatalf("from %q <%s>", m.FromName, m.FromAddress)
	}

	// PATCH the body while it waits, then cancel (undo); cancel again is fine.
	var p tickets.Message
	d.api.must(200, "PATCH", fmt.Sprintf("/api/v1/messages/%d", m.ID), map[string]any{"body": "Edited."}, &p)
	if p.BodyText != "Edited." {
		t.Fatalf("patched body %q", p.BodyText)
	}
	var c tickets.Message
	d.api.must(200, "POST", fmt.Sprintf("/api/v1/messages/%d/cancel", m.ID), nil, &c)
	if c.Status != "canceled" {
		t.Fatalf("cancel gave %s", c.Status)
	}
	d.api.must(200, "POST", fmt.Sprintf("/api/v1/messages/%d/cancel", m.ID), nil, nil)
	// A canceled message cannot be edited or sent now.
	r := d.api.must(409, "POST", fmt.Sprintf("/api/v1/messages/%d/send-now", m.ID), nil, nil)
	if !strings.Contains(string(r.Body), "canceled") {
		t.Fatalf("send-now after cancel: %s", r.Body)
	}
	// Cancel after sending is a clear conflict.
	h.svc.DB.Model(&tickets.Message{}).Where("id = ?", p.ID).Update("status", "sent")
	r = d.api.must(409, "POST", fmt.Sprintf("/api/v1/messages/%d/cancel", p.ID), nil, nil)
	if !strings.Contains(string(r.Body), "already sent") {
		t.Fatalf("cancel after send: %s", r.Body)
	}
}

func TestScheduledListRescheduleSendNow(t *testing.T) {
	h := newHarness(t)
	d := newMailDesk(t, h, 0)
	at := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	var m tickets.Message
	d.api.must(201, "POST", d.messagesPath(), map[string]any{"body": "Later", "send_at": at, "cancel_on_reply": true}, &m)
	if m.Status != "scheduled" || !m.SendAt.Equal(at) || !m.CancelOnReply {
		t.Fatalf("scheduled: %s %v", m.Status, m.SendAt)
	}
	var mine struct{ Items []tickets.Message }
	d.api.must(200, "GET", "/api/v1/messages?status=scheduled&author=me", nil, &mine)
	if len(mine.Items) != 1 || mine.Items[0].ID != m.ID {
		t.Fatalf("my scheduled: %+v", mine.Items)
	}
	// Another agent's list does not show it.
	_, other := h.agent("admin")
	other.must(200, "GET", "/api/v1/messages?status=scheduled&author=me", nil, &mine)
	if len(mine.Items) != 0 {
		t.Fatalf("someone else's scheduled list has %d", len(mine.Items))
	}
	later := at.Add(time.Hour)
	var p tickets.Message
	d.api.must(200, "PATCH", fmt.Sprintf("/api/v1/messages/%d", m.ID), map[string]any{"send_at": later}, &p)
	if !p.SendAt.Equal(later) || p.Status != "scheduled" {
		t.Fatalf("rescheduled: %v %s", p.SendAt, p.Status)
	}
	d.api.must(200, "POST", fmt.Sprintf("/api/v1/messages/%d/send-now", m.ID), nil, &p)
	if p.Status != "queued" || time.Since(*p.SendAt) > time.Minute {
		t.Fatalf("send-now: %s %v", p.Status, p.SendAt)
	}
}

func TestMessageBadInput(t *testing.T) {
	h := newHarness(t)
	d := newMailDesk(t, h, 0)
	past := time.Now().Add(-time.Hour)
	far := time.Now().AddDate(3, 0, 0)
	for name, tc := range map[string]struct {
		body  map[string]any
		field string
	}{
		"send_at_in_the_past":  {map[string]any{"body": "x", "send_at": past}, "send_at"},
		"send_at_years_ahead":  {map[string]any{"body": "x", "send_at": far}, "send_at"},
		"unparseable_to":       {map[string]any{"body": "x", "to": []string{"not an address"}}, "to"},
		"unparseable_cc":       {map[string]any{"body": "x", "cc": []string{"a@b.test", "bob at example"}}, "cc"},
		"empty_body":           {map[string]any{"body": "  "}, "body"},
		"unknown_type":         {map[string]any{"type": "fax", "body": "x"}, "type"},
		"foreign_mailbox":      {map[string]any{"body": "x", "mailbox_id": 999999}, "mailbox_id"},
		"someone_elses_upload": {map[string]any{"body": "x", "attachment_ids": []int64{999999}}, "attachment_ids"},
	} {
		t.Run(name, func(t *testing.T) {
			r := d.api.must(422, "POST", d.messagesPath(), tc.body, nil)
			if f := r.errFields(t); f[tc.field] == "" {
				t.Fatalf("no message for %s: %s", tc.field, r.Body)
			}
		})
	}
	var n int64
	h.svc.DB.Model(&tickets.Message{}).Where("ticket_id = ? AND direction = 'outbound'", d.ticket.ID).Count(&n)
	if n != 0 {
		t.Fatalf("%d outbound rows left behind by rejected requests", n)
	}
	// Unknown fields and wrong types are 400.
	d.api.must(400, "POST", d.messagesPath(), map[string]any{"body": "x", "sendat": "tomorrow"}, nil)
	d.api.must(400, "POST", d.messagesPath(), map[string]any{"body": "x", "send_at": "tomorrow"}, nil)
	// Someone outside the channel sees nothing.
	_, outsider := h.agent("agent")
	outsider.must(404, "POST", d.messagesPath(), map[string]any{"body": "x"}, nil)
}

func TestNoteThroughMessages(t *testing.T) {
	h := newHarness(t)
	d := newMailDesk(t, h, 10)
	var m tickets.Message
	d.api.must(201, "POST", d.messagesPath(), map[string]any{"type": "note", "body": "Customer is a VIP"}, &m)
	if m.Direction != "note" || m.SendAt != nil {
		t.Fatalf("note: %+v", m)
	}
	d.api.must(422, "POST", d.messagesPath(), map[string]any{"type": "note", "body": "x", "to": []string{"a@b.test"}}, nil)
}

func TestStartConversation(t *testing.T) {
	h := newHarness(t)
	d := newMailDesk(t, h, 0)
	var out struct {
		Ticket  tickets.Ticket
		Message tickets.Message
	}
	d.api.must(201, "POST", "/api/v1/tickets", map[string]any{"channel_id": d.channelID,
		"to": []string{"Supplier Sam <sam@supplier.test>"}, "subject": "Order of 200 tulips", "body": "Can you deliver Friday?"}, &out)
	if out.Ticket.ID == 0 || out.Message.TicketID != out.Ticket.ID || out.Message.Status != "queued" ||
		out.Message.Subject != fmt.Sprintf("Order of 200 tulips [#%d]", out.Ticket.Number) || out.Message.InReplyTo != "" {
		t.Fatalf("conversation: %+v", out)
	}
	r := d.api.must(422, "POST", "/api/v1/tickets", map[string]any{"channel_id": d.channelID, "to": []string{"nope"},
		"subject": "x", "body": "y"}, nil)
	if r.errFields(t)["to"] == "" {
		t.Fatalf("bad to: %s", r.Body)
	}
	d.api.must(422, "POST", "/api/v1/tickets", map[string]any{"channel_id": d.channelID, "to": []string{"a@b.test"}, "body": "y"}, nil)
}

func TestTemplates(t *testing.T) {
	h := newHarness(t)
	d := newMailDesk(t, h, 0)
	var tpl struct{ ID int64 }
	d.api.must(201, "POST", "/api/v1/templates", map[string]any{"channel_id": d.channelID, "name": "Broken item",
		"subject": "About ticket {{ticket.number}}",
		"body":    "Hi {{contact.first_name}},\n\nsorry about that. {{ agent.name }} from {{channel.name}}"}, &tpl)
	var pv struct{ Subject, Body string }
	d.api.must(200, "POST", fmt.Sprintf("/api/v1/templates/%d/preview", tpl.ID), map[string]any{"ticket_id": d.ticket.ID}, &pv)
	wantBody := fmt.Sprintf("Hi Jane,\n\nsorry about that. %s from ", d.admin.Name)
	if pv.Subject != fmt.Sprintf("About ticket %d", d.ticket.Number) || !strings.HasPrefix(pv.Body, wantBody) ||
		!strings.Contains(pv.Body, "Outbound desk") {
		t.Fatalf("preview %+v", pv)
	}
	// A reply from the template carries the rendered text.
	var m tickets.Message
	d.api.must(201, "POST", d.messagesPath(), map[string]any{"template_id": tpl.ID}, &m)
	if !strings.HasPrefix(m.BodyText, "Hi Jane,") {
		t.Fatalf("reply from template: %q", m.BodyText)
	}
	// Unknown variables and code are refused with a clear message.
	for _, body := range []string{"Hi {{contact.shoe_size}}", "{{ .Env }}", `{{ printf "%s" 1 }}`, "Hi {{contact.name"} {
		r := d.api.must(422, "POST", "/api/v1/templates", map[string]any{"name": "bad", "channel_id": d.channelID, "body": body}, nil)
		if !strings.Contains(r.errFields(t)["body"], "{{") {
			t.Fatalf("%q: %s", body, r.Body)
		}
	}
	// A global template needs an admin; an agent of the channel may not make one.
	agentA, agentAPI := h.agent("agent")
	d.api.must(200, "PUT", fmt.Sprintf("/api/v1/channels/%d/members/%d", d.channelID, agentA.ID), map[string]any{"role": "member"}, nil)
	agentAPI.must(403, "POST", "/api/v1/templates", map[string]any{"name": "global", "body": "x"}, nil)
	agentAPI.must(201, "POST", "/api/v1/templates", map[string]any{"name": "mine", "body": "x", "channel_id": d.channelID}, nil)
	var list struct{ Items []struct{ ID int64 } }
	agentAPI.must(200, "GET", "/api/v1/templates", nil, &list)
	if len(list.Items) < 2 {
		t.Fatalf("agent sees %d templates", len(list.Items))
	}
	_, outsider := h.agent("agent")
	outsider.must(404, "GET", fmt.Sprintf("/api/v1/templates/%d", tpl.ID), nil, nil)
	d.api.must(200, "PATCH", fmt.Sprintf("/api/v1/templates/%d", tpl.ID), map[string]any{"name": "Renamed"}, nil)
	d.api.must(422, "PATCH", fmt.Sprintf("/api/v1/templates/%d", tpl.ID), map[string]any{"body": "{{nope}}"}, nil)
	d.api.must(204, "DELETE", fmt.Sprintf("/api/v1/templates/%d", tpl.ID), nil, nil)
	d.api.must(404, "GET", fmt.Sprintf("/api/v1/templates/%d", tpl.ID), nil, nil)
}

func TestTrackingPixel(t *testing.T) {
	h := newHarness(t)
	d := newMailDesk(t, h, 0)
	var m tickets.Message
	d.api.must(201, "POST", d.messagesPath(), map[string]any{"body": "tracked"}, &m)
	var token string
	h.svc.DB.Model(&tickets.Message{}).Where("id = ?", m.ID).Pluck("tracking_token", &token)
	if len(token) < 24 {
		t.Fatalf("token %q", token)
	}
	// Sent a minute ago, so opens now are not "seconds after delivery".
	h.svc.DB.Model(&tickets.Message{}).Where("id = ?", m.ID).Updates(map[string]any{"status": "sent",
		"sent_at": time.Now().Add(-time.Minute)})
	fetch := func(path, ua string) *http.Response {
		req, _ := http.NewRequest("GET", h.srv.URL+path, nil)
		req.Header.Set("User-Agent", ua)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	res := fetch("/o/"+token+".gif", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Thunderbird/128.0")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/gif" || !strings.Contains(res.Header.Get("Cache-Control"), "no-store") {
		t.Fatalf("pixel: %d %v", res.StatusCode, res.Header)
	}
	fetch("/o/"+token+".gif", "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)")
	fetch("/o/"+token+".gif", "Mozilla/5.0")
	fetch("/o/"+token+".gif", "Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 (KHTML, like Gecko)")
	if res := fetch("/o/unknown-token-that-is-long-enough.gif", "x"); res.StatusCode != 200 {
		t.Fatalf("unknown token answered %d", res.StatusCode)
	}

	var got tickets.Message
	d.api.must(200, "GET", fmt.Sprintf("/api/v1/messages/%d", m.ID), nil, &got)
	if got.OpenCount != 2 || got.OpenedAt == nil || got.LastOpenedAt == nil || got.LastOpenedAt.Before(*got.OpenedAt) {
		t.Fatalf("counts: %d opened %v last %v", got.OpenCount, got.OpenedAt, got.LastOpenedAt)
	}
	var opens struct{ Items []tickets.MessageOpen }
	d.api.must(200, "GET", fmt.Sprintf("/api/v1/messages/%d/opens", m.ID), nil, &opens)
	if len(opens.Items) != 4 {
		t.Fatalf("%d opens stored", len(opens.Items))
	}
	if opens.Items[0].Flagged || !opens.Items[1].Flagged || opens.Items[1].FlaggedReason != "Gmail image proxy" ||
		opens.Items[2].FlaggedReason != "Apple Mail Privacy Protection" || opens.Items[3].Flagged {
		t.Fatalf("flags: %+v", opens.Items)
	}
	var events int64
	h.svc.DB.Model(&tickets.TicketEvent{}).Where("ticket_id = ? AND kind = 'recipient_opened'", d.ticket.ID).Count(&events)
	if events != 1 {
		t.Fatalf("%d recipient_opened events, want 1", events)
	}

	// A fetch right after delivery is a prefetch, even with a browser's user agent.
	var m2 tickets.Message
	d.api.must(201, "POST", d.messagesPath(), map[string]any{"body": "tracked 2"}, &m2)
	var token2 string
	h.svc.DB.Model(&tickets.Message{}).Where("id = ?", m2.ID).Pluck("tracking_token", &token2)
	h.svc.DB.Model(&tickets.Message{}).Where("id = ?", m2.ID).Updates(map[string]any{"status": "sent", "sent_at": time.Now()})
	fetch("/o/"+token2+".gif", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
	d.api.must(200, "GET", fmt.Sprintf("/api/v1/messages/%d", m2.ID), nil, &got)
	if got.OpenCount != 0 || got.OpenedAt != nil {
		t.Fatalf("prefetch counted as read: %d", got.OpenCount)
	}
}

func TestTrackingOffPerChannel(t *testing.T) {
	h := newHarness(t)
	d := newMailDesk(t, h, 0)
	d.api.must(200, "PATCH", fmt.Sprintf("/api/v1/channels/%d", d.channelID), map[string]any{"read_tracking": false}, nil)
	var m tickets.Message
	d.api.must(201, "POST", d.messagesPath(), map[string]any{"body": "untracked"}, &m)
	var token string
	h.svc.DB.Model(&tickets.Message{}).Where("id = ?", m.ID).Pluck("tracking_token", &token)
	if token != "" {
		t.Fatalf("tracking token %q with tracking off", token)
	}
}

func TestMailboxTestSMTP(t *testing.T) {
	h := newHarness(t)
	sink := testenv.NewSMTPSink(t, testenv.SinkOptions{Username: "shop", Password: "right"})
	h.web.smtpCheck = &tasks.Sender{Tickets: h.svc}
	d := newMailDesk(t, h, 0)
	path := fmt.Sprintf("/api/v1/channels/%d/mailboxes/%d", d.channelID, d.mailbox.ID)
	d.api.must(200, "PATCH", path, map[string]any{"smtp_host": sink.Host, "smtp_port": sink.Port,
		"smtp_username": "shop", "smtp_password": "wrong"}, nil)
	var res struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	d.api.must(200, "POST", path+"/test-smtp", nil, &res)
	if res.OK || !strings.Contains(res.Error, "credentials") {
		t.Fatalf("wrong password: %+v", res)
	}
	d.api.must(200, "PATCH", path, map[string]any{"smtp_password": "right"}, nil)
	d.api.must(200, "POST", path+"/test-smtp", nil, &res)
	if !res.OK {
		t.Fatalf("right password: %+v", res)
	}
	// Only admins test connections.
	a, api := h.agent("agent")
	d.api.must(200, "PUT", fmt.Sprintf("/api/v1/channels/%d/members/%d", d.channelID, a.ID), map[string]any{"role": "member"}, nil)
	api.must(403, "POST", path+"/test-smtp", nil, nil)
}

func TestSignatures(t *testing.T) {
	h := newHarness(t)
	d := newMailDesk(t, h, 0)
	d.api.must(200, "PATCH", fmt.Sprintf("/api/v1/channels/%d", d.channelID),
		map[string]any{"signature": "{{channel.name}} · flowers since 1998"}, nil)
	var sig struct{ Agent, Channel, Text string }
	d.api.must(200, "GET", fmt.Sprintf("/api/v1/channels/%d/signature", d.channelID), nil, &sig)
	if !strings.HasPrefix(sig.Channel, "Outbound desk") || sig.Agent != "" || sig.Text != sig.Channel {
		t.Fatalf("channel only: %+v", sig)
	}
	d.api.must(200, "PUT", fmt.Sprintf("/api/v1/me/signatures/%d", d.channelID),
		map[string]any{"body": "Best,\n{{agent.first_name}}"}, &sig)
	if sig.Agent != "Best,\n"+strings.Fields(d.admin.Name)[0] || !strings.HasPrefix(sig.Text, sig.Agent+"\n\n") {
		t.Fatalf("agent + channel: %+v", sig)
	}
	d.api.must(422, "PUT", fmt.Sprintf("/api/v1/me/signatures/%d", d.channelID), map[string]any{"body": "{{agent.phone}}"}, nil)
	_, outsider := h.agent("agent")
	outsider.must(404, "GET", fmt.Sprintf("/api/v1/channels/%d/signature", d.channelID), nil, nil)
}

func TestDKIMKeysAPI(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	_, plain := h.agent("agent")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	plain.must(403, "PUT", "/api/v1/dkim-keys/shop.test", map[string]any{"selector": "s1", "private_key": keyPEM}, nil)
	r := admin.must(422, "PUT", "/api/v1/dkim-keys/shop.test", map[string]any{"selector": "s1", "private_key": "not a key"}, nil)
	if r.errFields(t)["private_key"] == "" {
		t.Fatalf("bad key: %s", r.Body)
	}
	r = admin.must(200, "PUT", "/api/v1/dkim-keys/Shop.Test", map[string]any{"selector": "s1", "private_key": keyPEM}, nil)
	if strings.Contains(string(r.Body), "PRIVATE") || !strings.Contains(string(r.Body), `"domain":"shop.test"`) {
		t.Fatalf("response leaks or misses: %s", r.Body)
	}
	var list struct{ Items []tickets.DKIMKey }
	admin.must(200, "GET", "/api/v1/dkim-keys", nil, &list)
	if len(list.Items) != 1 || list.Items[0].Selector != "s1" {
		t.Fatalf("list %+v", list.Items)
	}
	admin.must(204, "DELETE", "/api/v1/dkim-keys/shop.test", nil, nil)
	admin.must(404, "DELETE", "/api/v1/dkim-keys/shop.test", nil, nil)
}
