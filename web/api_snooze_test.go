package web

import (
	"testing"
	"time"

	"github.com/postdesk/postdesk/tickets"
)

func TestSnoozeAPI(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	anna, annaC := h.agent("agent")
	_, outsiderC := h.agent("agent")
	ch := admin.channel("Snooze desk", "tasks", anna.ID)
	tk, err := h.svc.CreateTask(t.Context(), anna, tickets.NewTask{ChannelID: ch, Subject: "Later"})
	if err != nil {
		t.Fatal(err)
	}
	p := "/api/v1/tickets/" + itoa(int(tk.ID)) + "/snooze"
	for _, body := range []any{map[string]any{}, map[string]any{"until": time.Now().Add(-time.Hour).Format(time.RFC3339)}} {
		r := annaC.do("POST", p, body)
		if r.Status != 422 || r.errFields(t)["until"] == "" {
			t.Fatalf("bad until %v: %d %s", body, r.Status, r.Body)
		}
	}
	if r := outsiderC.do("POST", p, map[string]any{"until": time.Now().Add(time.Hour).Format(time.RFC3339)}); r.Status != 404 {
		t.Fatalf("outsider: %d", r.Status)
	}
	var got ticketJSON
	annaC.must(200, "POST", p, map[string]any{"until": time.Now().Add(time.Hour).Format(time.RFC3339)}, &got)
	if got.SnoozedUntil == nil {
		t.Fatalf("not snoozed: %+v", got)
	}
	annaC.must(200, "DELETE", p, nil, &got)
	if got.SnoozedUntil != nil || got.Reminder {
		t.Fatalf("not woken: %+v", got)
	}
	var kinds []string
	h.svc.DB.Model(&tickets.TicketEvent{}).Where("ticket_id = ?", tk.ID).Order("id").Pluck("kind", &kinds)
	if len(kinds) < 3 || kinds[len(kinds)-2] != "snoozed" || kinds[len(kinds)-1] != "woken" {
		t.Fatalf("events: %v", kinds)
	}
}
