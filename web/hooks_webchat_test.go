package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/postdesk/postdesk/tasks"
	"github.com/postdesk/postdesk/tickets"
)

func TestWebChat(t *testing.T) {
	h := messengerHarness(t)
	// Only live events may wake a stream here: the safety poll would hide a
	// missing one.
	webchatSafetyPoll = time.Hour
	t.Cleanup(func() { webchatSafetyPoll = 30 * time.Second })
	h.svc.Publisher = h.web.Live()
	member, memberC := h.agent("agent")
	adminRow, admin := h.agent("admin")
	ch := admin.channel("Web chat "+itoa(int(time.Now().UnixNano()%1e6)), "chat", member.ID)
	var mc struct{ ID int64 }
	admin.must(201, "POST", fmt.Sprintf("/api/v1/channels/%d/messengers", ch), map[string]any{"provider": "webchat",
		"name": "Flower shop", "settings": map[string]any{"greeting": "Hi! How can we help?"}}, &mc)
	base := fmt.Sprintf("/hooks/webchat/%d", mc.ID)
	visitor := h.anon()

	r := visitor.must(200, "GET", "/widget.js", nil, nil)
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/javascript") || !strings.Contains(string(r.Body), "/hooks/webchat/") {
		t.Fatalf("widget.js: %s", r.Header.Get("Content-Type"))
	}

	var sess struct {
		Token        string `json:"token"`
		AgentsOnline bool   `json:"agents_online"`
		Greeting     string `json:"greeting"`
	}
	r = visitor.must(200, "POST", base+"/session", "{}", &sess)
	if sess.Token == "" || sess.AgentsOnline || sess.Greeting != "Hi! How can we help?" {
		t.Fatalf("session: %+v", sess)
	}
	if r.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatal("no CORS header")
	}
	count := func() int64 {
		var n int64
		h.svc.DB.Model(&tickets.Message{}).Where("messenger_connection_id = ?", mc.ID).Count(&n)
		return n
	}

	t.Run("forged_token_is_401_and_stores_nothing", func(t *testing.T) {
		forged := strings.SplitN(sess.Token, ".", 2)[0] + ".AAAA"
		r := h.anon().do("POST", base+"/messages", fmt.Sprintf(`{"token":%q,"text":"x"}`, forged))
		if r.Status != 401 || count() != 0 {
			t.Fatalf("forged token: %d, %d messages", r.Status, count())
		}
		if r := h.anon().do("POST", base+"/messages", `{"text":"no token"}`); r.Status != 401 {
			t.Fatalf("no token: %d", r.Status)
		}
	})

	body := fmt.Sprintf(`{"token":%q,"text":"Do you have peonies?","client_id":"c1","name":"Mia"}`, sess.Token)
	var posted struct{ ID int64 }
	visitor.must(201, "POST", base+"/messages", body, &posted)
	visitor.must(200, "POST", base+"/messages", body, nil) // the widget retried: stored once
	if count() != 1 {
		t.Fatalf("%d messages after a retried post", count())
	}
	var tk tickets.Ticket
	h.svc.DB.Where("messenger_connection_id = ?", mc.ID).Take(&tk)
	if tk.ChannelID != ch || tk.Subject != "Do you have peonies?" {
		t.Fatalf("ticket: %+v", tk)
	}

	t.Run("offline_visitor_leaves_email", func(t *testing.T) {
		visitor.must(422, "POST", base+"/email", fmt.Sprintf(`{"token":%q,"email":"not an address"}`, sess.Token), nil)
		visitor.must(204, "POST", base+"/email", fmt.Sprintf(`{"token":%q,"email":"Mia@Example.org"}`, sess.Token), nil)
		var id tickets.ContactIdentity
		if err := h.svc.DB.Where("kind = 'email' AND value = 'mia@example.org'").Take(&id).Error; err != nil ||
			id.ContactID != *tk.ContactID {
			t.Fatalf("email identity %+v: %v", id, err)
		}
		var m tickets.Message
		h.svc.DB.Take(&m, posted.ID)
		if m.ReplyTo != "mia@example.org" {
			t.Fatalf("reply_to %q", m.ReplyTo)
		}
		// She writes again; an agent answers by mail through the channel's mailbox.
		visitor.must(201, "POST", base+"/messages", fmt.Sprintf(`{"token":%q,"text":"any news?"}`, sess.Token), nil)
		addr := fmt.Sprintf("shop%d@example.com", mc.ID)
		mb, err := h.svc.CreateMailbox(t.Context(), adminRow, ch, tickets.MailboxInput{Address: &addr})
		if err != nil {
			t.Fatal(err)
		}
		out, err := h.svc.CreateOutbound(t.Context(), adminRow, tk.ID, tickets.OutboundDraft{MailboxID: &mb.ID,
			BodyText: "We have peonies tomorrow."})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.ToAddresses) != 1 || !strings.Contains(out.ToAddresses[0], "mia@example.org") || out.MailboxID == nil {
			t.Fatalf("mail reply: to %v mailbox %v", out.ToAddresses, out.MailboxID)
		}
		h.svc.DB.Model(&tickets.Message{}).Where("id = ?", out.ID).Update("status", tickets.MessageCanceled)
	})

	t.Run("agent_online_and_reply_reaches_the_stream", func(t *testing.T) {
		h.svc.DB.Model(&tickets.Agent{}).Where("id = ?", member.ID).Update("status", "online")
		visitor.must(200, "POST", base+"/session", fmt.Sprintf(`{"token":%q}`, sess.Token), &sess)
		if !sess.AgentsOnline {
			t.Fatal("member online, but agents_online is false")
		}
		reply := sendChatReply(t, h, &tk, mc.ID, member.ID, "Yes, pink and white.")

		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", h.srv.URL+base+"/events?token="+sess.Token, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("events: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		sc := bufio.NewScanner(res.Body)
		var got []string
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "event:") {
				event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			}
			if strings.HasPrefix(line, "data:") && event == "message" {
				got = append(got, strings.TrimSpace(strings.TrimPrefix(line, "data:")))
				if strings.Contains(line, "Yes, pink and white.") {
					break
				}
			}
		}
		if len(got) != 3 || !strings.Contains(got[0], `"from":"visitor"`) || !strings.Contains(got[2], `"from":"agent"`) {
			t.Fatalf("stream: %v", got)
		}
		cancel()
		var m tickets.Message
		deadline := time.Now().Add(5 * time.Second)
		for {
			h.svc.DB.Take(&m, reply.ID)
			if m.Status == tickets.MessageDelivered || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if m.Status != tickets.MessageDelivered {
			t.Fatalf("reply status %s after the stream showed it, want delivered", m.Status)
		}
	})
	t.Run("reply_while_connected_arrives_by_live_event", func(t *testing.T) {
		var last tickets.Message
		h.svc.DB.Where("ticket_id = ?", tk.ID).Order("id DESC").Take(&last)
		ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", h.srv.URL+base+"/events?token="+sess.Token, nil)
		req.Header.Set("Last-Event-ID", itoa(int(last.ID)))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		events := make(chan string, 16)
		go func() {
			sc := bufio.NewScanner(res.Body)
			event := ""
			for sc.Scan() {
				if line := sc.Text(); strings.HasPrefix(line, "event:") {
					event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
				} else if strings.HasPrefix(line, "data:") {
					events <- event + " " + strings.TrimSpace(strings.TrimPrefix(line, "data:"))
				}
			}
			close(events)
		}()
		next := func(what string) string {
			t.Helper()
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("stream ended waiting for %s", what)
				}
				return ev
			case <-ctx.Done():
				t.Fatalf("no %s on the stream", what)
			}
			return ""
		}
		// Nothing after Last-Event-ID: the first event is the presence.
		if ev := next("presence"); ev != `presence {"agents_online":true}` {
			t.Fatalf("first event %q", ev)
		}
		memberC.must(200, "PATCH", "/api/v1/me", map[string]any{"status": "offline"}, nil)
		if ev := next("presence change"); ev != `presence {"agents_online":false}` {
			t.Fatalf("after the agent left: %q", ev)
		}
		memberC.must(200, "PATCH", "/api/v1/me", map[string]any{"status": "online"}, nil)
		if ev := next("presence change"); ev != `presence {"agents_online":true}` {
			t.Fatalf("after the agent came back: %q", ev)
		}
		sendChatReply(t, h, &tk, mc.ID, member.ID, "They arrive at ten.")
		if ev := next("the reply"); !strings.HasPrefix(ev, "message ") || !strings.Contains(ev, "They arrive at ten.") {
			t.Fatalf("after the reply: %q", ev)
		}
	})
}

// sendChatReply writes an agent's reply on a chat ticket and runs the send task
// on it, as the worker would.
func sendChatReply(t *testing.T, h *harness, tk *tickets.Ticket, connID, agentID int64, text string) *tickets.Message {
	t.Helper()
	reply := &tickets.Message{TicketID: tk.ID, ChannelID: tk.ChannelID, Direction: tickets.DirectionOutbound,
		Status: tickets.MessageQueued, AuthorAgentID: &agentID, ContactID: tk.ContactID,
		MessengerConnectionID: &connID, BodyText: text}
	if err := h.svc.DB.Create(reply).Error; err != nil {
		t.Fatal(err)
	}
	sender := &tasks.Sender{Tickets: h.svc, Blobs: h.web.blobs, Messengers: h.web.messengers, Log: slog.Default()}
	payload, _ := json.Marshal(map[string]int64{"message_id": reply.ID})
	if err := sender.Handler()(t.Context(), asynq.NewTask(tasks.TypeSend, payload)); err != nil {
		t.Fatal(err)
	}
	return reply
}
