package web

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tickets"
)

// sseClient reads an event stream into a channel of events.
type sseEvent struct {
	Name string
	Data tickets.LiveEvent
}

func openStream(t *testing.T, c *apiClient) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/api/v1/events/stream", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	out := make(chan sseEvent, 16)
	go func() {
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.Name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.Data)
			case line == "" && ev.Name != "":
				out <- ev
				ev = sseEvent{}
			}
		}
	}()
	return out
}

// next waits for the next event matching kind and ticket, failing after a timeout.
func next(t *testing.T, ch <-chan sseEvent, kind string, ticketID int64) sseEvent {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-ch:
			if ev.Name == kind && ev.Data.TicketID == ticketID {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event for ticket %d", kind, ticketID)
		}
	}
}

// none asserts that no event for ticketID arrives within a short wait.
func none(t *testing.T, ch <-chan sseEvent, ticketID int64) {
	t.Helper()
	deadline := time.After(700 * time.Millisecond)
	for {
		select {
		case ev := <-ch:
			if ev.Data.TicketID == ticketID {
				t.Fatalf("unexpected %s event for ticket %d", ev.Name, ticketID)
			}
		case <-deadline:
			return
		}
	}
}

func TestLiveStreamAcrossProcesses(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	anna, annaC := h.agent("agent")
	_, bobC := h.agent("agent")
	events := admin.channel("Live Events", "email", anna.ID)

	annaStream := openStream(t, annaC)
	bobStream := openStream(t, bobC)
	adminStream := openStream(t, admin)

	// Another process: its own Redis connection and its own Live.
	other := NewLive(testenv.Redis(t), nil)
	other.Publish(t.Context(), tickets.LiveEvent{Kind: "ticket.created", ChannelID: events, TicketID: 4242})

	if ev := next(t, annaStream, "ticket.created", 4242); ev.Data.ChannelID != events {
		t.Fatalf("anna got %+v", ev)
	}
	next(t, adminStream, "ticket.created", 4242)
	none(t, bobStream, 4242)

	t.Run("notification_goes_to_its_agent_only", func(t *testing.T) {
		other.Publish(t.Context(), tickets.LiveEvent{Kind: LiveNotification, ChannelID: events, TicketID: 4343, AgentID: anna.ID})
		next(t, annaStream, LiveNotification, 4343)
		none(t, adminStream, 4343)
	})
}

func TestPresence(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	anna, annaC := h.agent("agent")
	maria, mariaC := h.agent("agent")
	_, bobC := h.agent("agent")
	ch := admin.channel("Presence", "email", anna.ID, maria.ID)
	tk := &tickets.Ticket{ChannelID: ch, Kind: "conversation", Subject: "Wedding flowers", Status: "new", Priority: "normal"}
	if err := h.svc.DB.Create(tk).Error; err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/tickets/" + itoa(int(tk.ID)) + "/presence"
	annaStream := openStream(t, annaC)

	var l struct{ Items []presenceEntry }
	mariaC.must(200, "POST", path, map[string]any{"state": "replying"}, &l)
	if len(l.Items) != 0 {
		t.Fatalf("maria alone but sees %+v", l.Items)
	}
	ev := next(t, annaStream, LivePresence, tk.ID)
	if ev.Data.AgentID != maria.ID || ev.Data.Data["state"] != "replying" || ev.Data.Data["name"] != maria.Name {
		t.Fatalf("presence event %+v", ev.Data)
	}
	annaC.must(200, "POST", path, map[string]any{"state": "viewing"}, &l)
	if len(l.Items) != 1 || l.Items[0].AgentID != maria.ID || l.Items[0].State != "replying" {
		t.Fatalf("anna sees %+v", l.Items)
	}
	mariaC.must(200, "POST", path, map[string]any{"state": "left"}, nil)
	annaC.must(200, "POST", path, map[string]any{"state": "viewing"}, &l)
	if len(l.Items) != 0 {
		t.Fatalf("after maria left anna sees %+v", l.Items)
	}

	if r := bobC.do("POST", path, map[string]any{"state": "viewing"}); r.Status != 404 {
		t.Fatalf("outsider presence: %d", r.Status)
	}
	if r := annaC.do("POST", path, map[string]any{"state": "dancing"}); r.Status != 422 {
		t.Fatalf("bad state: %d", r.Status)
	}
}
