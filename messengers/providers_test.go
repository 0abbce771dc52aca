package messengers_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/tickets"
)

func hmacHex(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// providerCase drives one provider through the same story: text and media in,
// a forged request refused, a repeat stored once, a reply out, statuses back.
type providerCase struct {
	provider string
	creds    map[string]string
	setup    func(f *fake)
	// inbound returns a signed webhook request carrying text and one media file.
	inbound func(t *testing.T, f *fake, user, mid string) *http.Request
	// forge returns the same request with a wrong signature or secret.
	forge     func(t *testing.T, f *fake, user, mid string) *http.Request
	mediaBody string
	sendPath  string
	checkSend func(t *testing.T, c call, user string)
	// status returns a signed delivery/read callback for provider id pid, or nil.
	status func(t *testing.T, pid, status string) *http.Request
}

func TestProviders(t *testing.T) {
	cases := []providerCase{viberCase(), metaCase("facebook"), metaCase("instagram"), vkCase()}
	for _, pc := range cases {
		t.Run(pc.provider, func(t *testing.T) {
			e := newEnv(t)
			f := newFake(t)
			pc.setup(f)
			c := e.conn(pc.provider, f.srv.URL, pc.creds, nil)
			user := fmt.Sprint(70000000 + seq.Add(1))
			mid := fmt.Sprint(80000000 + seq.Add(1))

			if _, err := e.webhook(c, pc.forge(t, f, user, mid)); !errors.Is(err, messengers.ErrBadSignature) {
				t.Fatalf("forged webhook: err = %v", err)
			}
			if n := len(e.messages(c)); n != 0 {
				t.Fatalf("forged webhook stored %d messages", n)
			}
			for i := 0; i < 2; i++ {
				if _, err := e.webhook(c, pc.inbound(t, f, user, mid)); err != nil {
					t.Fatal(err)
				}
			}
			ms := e.messages(c)
			if len(ms) != 1 {
				t.Fatalf("%d messages after the same webhook twice, want 1", len(ms))
			}
			if ms[0].BodyText != "Hello from "+pc.provider || ms[0].ProviderMessageID == "" {
				t.Fatalf("message: %+v", ms[0])
			}
			if a := ms[0].Attachments; len(a) != 1 || e.readBlob(a[0].SHA256) != pc.mediaBody {
				t.Fatalf("attachments: %+v", a)
			}
			tk := e.ticket(ms[0].TicketID)
			if tk.ChannelID != c.ChannelID || tk.ContactID == nil {
				t.Fatalf("ticket: %+v", tk)
			}

			out := e.reply(tk, c, "Thanks, we are on it.")
			if err := e.deliver(e.sender, out.ID); err != nil {
				t.Fatal(err)
			}
			sends := f.callsTo(pc.sendPath)
			if len(sends) != 1 {
				t.Fatalf("%d calls to %s", len(sends), pc.sendPath)
			}
			pc.checkSend(t, sends[0], user)
			m := e.message(out.ID)
			if m.Status != tickets.MessageSent || m.ProviderMessageID == "" {
				t.Fatalf("after send: %s %q", m.Status, m.ProviderMessageID)
			}
			if pc.status == nil {
				return
			}
			for _, st := range []string{tickets.MessageDelivered, tickets.MessageRead} {
				if _, err := e.webhook(c, pc.status(t, m.ProviderMessageID, st)); err != nil {
					t.Fatal(err)
				}
				if got := e.message(out.ID).Status; got != st {
					t.Fatalf("status %s, want %s", got, st)
				}
			}
		})
	}
}

func viberCase() providerCase {
	sign := func(t *testing.T, token string, v any) *http.Request {
		b, _ := json.Marshal(v)
		return post(t, b, map[string]string{"X-Viber-Content-Signature": hmacHex(token, b)})
	}
	msg := func(f *fake, user, mid string) map[string]any {
		return map[string]any{"event": "message", "timestamp": time.Now().UnixMilli(), "message_token": json.Number(mid),
			"sender":  map[string]any{"id": user + "A==", "name": "Viber User", "api_version": 1},
			"message": map[string]any{"type": "picture", "text": "Hello from viber", "media": f.srv.URL + "/media/v.jpg"}}
	}
	return providerCase{
		provider: "viber", creds: map[string]string{"auth_token": "viber-token"},
		setup: func(f *fake) {
			f.bytes("/media/v.jpg", "image/jpeg", "viber-jpeg")
			f.json("/pa/send_message", map[string]any{"status": 0, "status_message": "ok", "message_token": 5741311803571721087})
		},
		inbound: func(t *testing.T, f *fake, user, mid string) *http.Request {
			return sign(t, "viber-token", msg(f, user, mid))
		},
		forge: func(t *testing.T, f *fake, user, mid string) *http.Request {
			return sign(t, "other", msg(f, user, mid))
		},
		mediaBody: "viber-jpeg", sendPath: "/pa/send_message",
		checkSend: func(t *testing.T, c call, user string) {
			if c.Header.Get("X-Viber-Auth-Token") != "viber-token" || c.JSON["receiver"] != user+"A==" ||
				c.JSON["type"] != "text" || c.JSON["text"] != "Thanks, we are on it." {
				t.Fatalf("viber send: %v", c.JSON)
			}
		},
		status: func(t *testing.T, pid, status string) *http.Request {
			ev := map[string]string{tickets.MessageDelivered: "delivered", tickets.MessageRead: "seen"}[status]
			return sign(t, "viber-token", map[string]any{"event": ev, "timestamp": time.Now().UnixMilli(),
				"message_token": json.Number(pid), "user_id": "x"})
		},
	}
}

func metaCase(provider string) providerCase {
	object := map[string]string{"facebook": "page", "instagram": "instagram"}[provider]
	sign := func(t *testing.T, secret string, messaging map[string]any) *http.Request {
		b, _ := json.Marshal(map[string]any{"object": object, "entry": []any{map[string]any{"id": "PAGE",
			"time": time.Now().UnixMilli(), "messaging": []any{messaging}}}})
		return post(t, b, map[string]string{"X-Hub-Signature-256": "sha256=" + hmacHex(secret, b)})
	}
	msg := func(f *fake, user, mid string) map[string]any {
		return map[string]any{"sender": map[string]any{"id": user}, "recipient": map[string]any{"id": "PAGE"},
			"timestamp": time.Now().UnixMilli(), "message": map[string]any{"mid": "m_" + mid, "text": "Hello from " + provider,
				"attachments": []any{map[string]any{"type": "image", "payload": map[string]any{"url": f.srv.URL + "/cdn/img.jpg"}}}}}
	}
	return providerCase{
		provider: provider, creds: map[string]string{"page_access_token": "page-token", "app_secret": "meta-secret",
			"verify_token": "vt"},
		setup: func(f *fake) {
			f.bytes("/cdn/img.jpg", "image/jpeg", provider+"-jpeg")
			f.json("/v21.0/me/messages", map[string]any{"recipient_id": "x", "message_id": "m_out_1"})
		},
		inbound: func(t *testing.T, f *fake, user, mid string) *http.Request {
			return sign(t, "meta-secret", msg(f, user, mid))
		},
		forge: func(t *testing.T, f *fake, user, mid string) *http.Request {
			return sign(t, "wrong", msg(f, user, mid))
		},
		mediaBody: provider + "-jpeg", sendPath: "/v21.0/me/messages",
		checkSend: func(t *testing.T, c call, user string) {
			rc, _ := c.JSON["recipient"].(map[string]any)
			mm, _ := c.JSON["message"].(map[string]any)
			if c.Header.Get("Authorization") != "Bearer page-token" || rc["id"] != user || mm["text"] != "Thanks, we are on it." ||
				c.JSON["messaging_type"] != "RESPONSE" {
				t.Fatalf("%s send: %v", provider, c.JSON)
			}
		},
		status: func(t *testing.T, pid, status string) *http.Request {
			ev := map[string]any{"sender": map[string]any{"id": "u"}, "recipient": map[string]any{"id": "PAGE"},
				"timestamp": time.Now().UnixMilli()}
			if status == tickets.MessageDelivered {
				ev["delivery"] = map[string]any{"mids": []string{pid}, "watermark": time.Now().UnixMilli()}
			} else {
				ev["read"] = map[string]any{"mid": pid, "watermark": time.Now().UnixMilli()}
			}
			return sign(t, "meta-secret", ev)
		},
	}
}

func vkCase() providerCase {
	cb := func(f *fake, secret, user, mid string) map[string]any {
		return map[string]any{"type": "message_new", "event_id": "e" + mid, "v": "5.199", "group_id": 1, "secret": secret,
			"object": map[string]any{"message": map[string]any{"id": json.Number(mid), "date": time.Now().Unix(),
				"from_id": json.Number(user), "peer_id": json.Number(user), "text": "Hello from vk",
				"attachments": []any{map[string]any{"type": "doc", "doc": map[string]any{"title": "order", "ext": "pdf",
					"url": f.srv.URL + "/doc/order.pdf"}}}}}}
	}
	return providerCase{
		provider: "vk", creds: map[string]string{"access_token": "vk-token", "secret": "vk-secret", "confirmation": "c0nf1rm"},
		setup: func(f *fake) {
			f.bytes("/doc/order.pdf", "application/pdf", "vk-pdf")
			f.json("/method/messages.send", map[string]any{"response": 4711})
		},
		inbound: func(t *testing.T, f *fake, user, mid string) *http.Request {
			return post(t, cb(f, "vk-secret", user, mid), nil)
		},
		forge: func(t *testing.T, f *fake, user, mid string) *http.Request {
			return post(t, cb(f, "guess", user, mid), nil)
		},
		mediaBody: "vk-pdf", sendPath: "/method/messages.send",
		checkSend: func(t *testing.T, c call, user string) {
			if !strings.HasPrefix(c.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
				t.Fatalf("vk content type %s", c.Header.Get("Content-Type"))
			}
		},
	}
}

func TestVKConfirmationAndForm(t *testing.T) {
	e := newEnv(t)
	f := newFake(t)
	var form map[string][]string
	f.handle("/method/messages.send", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		form = r.PostForm
		fmt.Fprint(w, `{"response":4712}`)
	})
	c := e.conn("vk", f.srv.URL, map[string]string{"access_token": "vk-token", "secret": "s", "confirmation": "c0nf1rm"}, nil)
	a, _ := e.recv.Registry.Get("vk")
	up, err := a.Webhook(t.Context(), c, post(t, `{"type":"confirmation","group_id":1,"secret":"s"}`, nil),
		[]byte(`{"type":"confirmation","group_id":1,"secret":"s"}`))
	if err != nil || up.Response != "c0nf1rm" {
		t.Fatalf("confirmation: %+v %v", up, err)
	}
	sent, err := a.Send(t.Context(), c, messengers.Outgoing{To: "2000000001", Text: "hi", ReplyToProviderID: "55", Key: "9"})
	if err != nil || sent.ProviderMessageID != "4712" {
		t.Fatalf("send: %+v %v", sent, err)
	}
	if form["peer_id"][0] != "2000000001" || form["message"][0] != "hi" || form["reply_to"][0] != "55" ||
		form["access_token"][0] != "vk-token" || form["random_id"][0] == "" || form["v"][0] == "" {
		t.Fatalf("form: %v", form)
	}
}
