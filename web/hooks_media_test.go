package web

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/postdesk/postdesk/tasks"
	"github.com/postdesk/postdesk/tickets"
)

// fetched is what the fake Viber API got when it fetched a media URL.
type fetched struct {
	url, contentType, body string
	status                 int
}

// TestViberReplyMediaFetchedFromSignedURL: an agent replies on a Viber chat with a
// picture and a PDF; the fake Viber API, like the real one, fetches each file from
// the URL in the message — our public media route — and gets the bytes. The same
// link with a changed signature, another attachment id or after its expiry is 404.
func TestViberReplyMediaFetchedFromSignedURL(t *testing.T) {
	h := messengerHarness(t)
	var mu sync.Mutex
	var got []fetched
	var types []string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		types = append(types, fmt.Sprint(m["type"]))
		mu.Unlock()
		if media, ok := m["media"].(string); ok {
			res, err := http.Get(media)
			if err != nil {
				t.Errorf("fetch %s: %v", media, err)
			} else {
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				mu.Lock()
				got = append(got, fetched{media, res.Header.Get("Content-Type"), string(b), res.StatusCode})
				mu.Unlock()
			}
		}
		io.WriteString(w, `{"status":0,"status_message":"ok","message_token":5741311803571721087}`)
	}))
	defer fake.Close()

	agentRow, agentC := h.agent("agent")
	_, admin := h.agent("admin")
	ch := admin.channel("Viber media "+itoa(int(time.Now().UnixNano()%1e6)), "chat", agentRow.ID)
	var mc struct{ ID int64 }
	admin.must(201, "POST", fmt.Sprintf("/api/v1/channels/%d/messengers", ch), map[string]any{"provider": "viber",
		"api_base_url": fake.URL, "credentials": map[string]any{"auth_token": "vb"}}, &mc)
	in := `{"event":"message","timestamp":1700000000000,"message_token":4912661846655238145,
		"sender":{"id":"01234567890A=","name":"Mia"},"message":{"type":"text","text":"Photo of the bouquet please"}}`
	req, _ := http.NewRequest("POST", h.srv.URL+fmt.Sprintf("/hooks/viber/%d", mc.ID), strings.NewReader(in))
	req.Header.Set("X-Viber-Content-Signature", hmacSHA256Hex("vb", in))
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("webhook: %v %v", res, err)
	}
	var tk tickets.Ticket
	if err := h.svc.DB.Where("messenger_connection_id = ?", mc.ID).Take(&tk).Error; err != nil {
		t.Fatal(err)
	}

	var png, pdf tickets.Attachment
	agentC.upload(201, "bouquet.png", []byte("\x89PNG bouquet")).json(t, &png)
	agentC.upload(201, "invoice.pdf", []byte("%PDF-1.4 invoice")).json(t, &pdf)
	h.svc.DB.Model(&tickets.Agent{}).Where("id = ?", agentRow.ID).Update("undo_seconds", 0)
	var reply tickets.Message
	agentC.must(201, "POST", fmt.Sprintf("/api/v1/tickets/%d/messages", tk.ID), map[string]any{
		"body": "Here it is.", "attachment_ids": []int64{png.ID, pdf.ID}}, &reply)

	sender := &tasks.Sender{Tickets: h.svc, Blobs: h.web.blobs, Messengers: h.web.messengers, Log: slog.Default(),
		Config: tasks.SendConfig{BaseURL: h.srv.URL}}
	payload, _ := json.Marshal(map[string]int64{"message_id": reply.ID})
	if err := sender.Handler()(t.Context(), asynq.NewTask(tasks.TypeSend, payload)); err != nil {
		t.Fatal(err)
	}
	var sent tickets.Message
	h.svc.DB.Take(&sent, reply.ID)
	if sent.Status != tickets.MessageSent {
		t.Fatalf("reply %s: %s", sent.Status, sent.FailedReason)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(types, ",") != "text,picture,file" {
		t.Fatalf("viber got %v", types)
	}
	if len(got) != 2 || got[0].status != 200 || got[0].body != "\x89PNG bouquet" || got[0].contentType != "image/png" ||
		got[1].status != 200 || got[1].body != "%PDF-1.4 invoice" || got[1].contentType != "application/pdf" {
		t.Fatalf("fetched %+v", got)
	}

	t.Run("tampered_links_are_404", func(t *testing.T) {
		u, _ := url.Parse(got[0].url)
		q := u.Query()
		sig := q.Get("sig")
		flip := map[byte]byte{'0': '1'}[sig[0]]
		if flip == 0 {
			flip = '0'
		}
		for name, mutate := range map[string]func(u *url.URL){
			"wrong_signature": func(u *url.URL) { q := u.Query(); q.Set("sig", string(flip)+sig[1:]); u.RawQuery = q.Encode() },
			"other_attachment": func(u *url.URL) {
				u.Path = strings.Replace(u.Path, fmt.Sprintf("/media/%d/", png.ID), fmt.Sprintf("/media/%d/", pdf.ID), 1)
			},
			"expired": func(u *url.URL) { q := u.Query(); q.Set("exp", "1700000000"); u.RawQuery = q.Encode() },
			"other_connection": func(u *url.URL) {
				u.Path = strings.Replace(u.Path, fmt.Sprintf("/viber/%d/", mc.ID), fmt.Sprintf("/viber/%d/", mc.ID+1000), 1)
			},
		} {
			v := *u
			mutate(&v)
			res, err := http.Get(v.String())
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", name, res.StatusCode)
			}
		}
	})
}
