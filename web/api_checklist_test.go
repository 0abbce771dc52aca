package web

import (
	"strings"
	"testing"

	"github.com/postdesk/postdesk/tickets"
)

type itemJSON struct {
	ID       int64   `json:"id"`
	Text     string  `json:"text"`
	Done     bool    `json:"done"`
	DoneByID *int64  `json:"done_by_id"`
	DoneAt   *string `json:"done_at"`
	Position float64 `json:"position"`
}

func TestChecklist(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	anna, annaC := h.agent("agent")
	_, outsiderC := h.agent("agent")
	ch := admin.channel("Checklist desk", "tasks", anna.ID)
	tk, err := h.svc.CreateTask(t.Context(), anna, tickets.NewTask{ChannelID: ch, Subject: "Launch", Checklist: []string{"one"}})
	if err != nil {
		t.Fatal(err)
	}
	base := "/api/v1/tickets/" + itoa(int(tk.ID)) + "/checklist"
	progress := func() (int, int) {
		var got tickets.Ticket
		h.svc.DB.Take(&got, tk.ID)
		return got.ChecklistTotal, got.ChecklistDone
	}
	var two, three itemJSON
	annaC.must(201, "POST", base, map[string]any{"text": "two"}, &two)
	annaC.must(201, "POST", base, map[string]any{"text": "three"}, &three)
	if total, done := progress(); total != 3 || done != 0 {
		t.Fatalf("progress %d/%d", done, total)
	}

	t.Run("501_chars_is_422_and_changes_nothing", func(t *testing.T) {
		r := annaC.do("POST", base, map[string]any{"text": strings.Repeat("ж", 501)})
		if r.Status != 422 || r.errFields(t)["text"] == "" {
			t.Fatalf("501 chars: %d %s", r.Status, r.Body)
		}
		r = annaC.do("PATCH", base+"/"+itoa(int(two.ID)), map[string]any{"text": strings.Repeat("x", 501), "done": true})
		if r.Status != 422 {
			t.Fatalf("PATCH 501 chars: %d %s", r.Status, r.Body)
		}
		if total, done := progress(); total != 3 || done != 0 {
			t.Fatalf("rejected input changed progress to %d/%d", done, total)
		}
		var it tickets.ChecklistItem
		h.svc.DB.Take(&it, two.ID)
		if it.Done || it.Text != "two" {
			t.Fatalf("rejected PATCH half-applied: %+v", it)
		}
		// Exactly 500 characters is fine.
		var ok500 itemJSON
		annaC.must(201, "POST", base, map[string]any{"text": strings.Repeat("ж", 500)}, &ok500)
		annaC.must(204, "DELETE", base+"/"+itoa(int(ok500.ID)), nil, nil)
	})
	t.Run("tick_records_who_and_when", func(t *testing.T) {
		var got itemJSON
		annaC.must(200, "PATCH", base+"/"+itoa(int(two.ID)), map[string]any{"done": true}, &got)
		if !got.Done || got.DoneByID == nil || *got.DoneByID != anna.ID || got.DoneAt == nil {
			t.Fatalf("ticked: %+v", got)
		}
		if total, done := progress(); total != 3 || done != 1 {
			t.Fatalf("progress %d/%d", done, total)
		}
		var evs struct {
			Items []struct {
				Kind      string `json:"kind"`
				AgentID   *int64 `json:"agent_id"`
				AgentName string `json:"agent_name"`
				NewValue  string `json:"new_value"`
			}
		}
		annaC.must(200, "GET", "/api/v1/tickets/"+itoa(int(tk.ID))+"/events", nil, &evs)
		last := evs.Items[len(evs.Items)-1]
		if last.Kind != "checklist_checked" || last.AgentID == nil || *last.AgentID != anna.ID || last.NewValue != "two" || last.AgentName != anna.Name {
			t.Fatalf("last event: %+v", last)
		}
		if evs.Items[0].Kind != "created" {
			t.Fatalf("first event: %+v", evs.Items[0])
		}
		annaC.must(200, "PATCH", base+"/"+itoa(int(two.ID)), map[string]any{"done": false}, &got)
		if got.Done || got.DoneByID != nil {
			t.Fatalf("unticked: %+v", got)
		}
	})
	t.Run("reorder", func(t *testing.T) {
		var list struct{ Items []itemJSON }
		annaC.must(200, "GET", base, nil, &list)
		first := list.Items[0].Position
		annaC.must(200, "PATCH", base+"/"+itoa(int(three.ID)), map[string]any{"position": first - 1}, nil)
		annaC.must(200, "GET", base, nil, &list)
		if list.Items[0].ID != three.ID || len(list.Items) != 3 {
			t.Fatalf("order after move: %+v", list.Items)
		}
	})
	t.Run("delete_and_access", func(t *testing.T) {
		annaC.must(204, "DELETE", base+"/"+itoa(int(three.ID)), nil, nil)
		if total, _ := progress(); total != 2 {
			t.Fatalf("total after delete: %d", total)
		}
		annaC.must(404, "DELETE", base+"/"+itoa(int(three.ID)), nil, nil)
		outsiderC.must(404, "GET", base, nil, nil)
		outsiderC.must(404, "POST", base, map[string]any{"text": "sneaky"}, nil)
		outsiderC.must(404, "GET", "/api/v1/tickets/"+itoa(int(tk.ID))+"/events", nil, nil)
	})
	t.Run("templates", func(t *testing.T) {
		tb := "/api/v1/channels/" + itoa(int(ch)) + "/checklist-templates"
		var tpl struct {
			ID    int64
			Items []string
		}
		annaC.must(201, "POST", tb, map[string]any{"name": "Supplier", "items": []string{"VAT id", "References"}}, &tpl)
		if r := annaC.do("POST", tb, map[string]any{"name": "supplier", "items": []string{"x"}}); r.Status != 422 {
			t.Fatalf("duplicate name: %d", r.Status)
		}
		if r := annaC.do("POST", tb, map[string]any{"name": "Long", "items": []string{strings.Repeat("x", 501)}}); r.Status != 422 || r.errFields(t)["items[0]"] == "" {
			t.Fatalf("long item: %d %s", r.Status, r.Body)
		}
		outsiderC.must(404, "GET", tb, nil, nil)
		annaC.must(200, "PATCH", tb+"/"+itoa(int(tpl.ID)), map[string]any{"items": []string{"VAT id", "References", "Bank"}}, &tpl)
		var added struct{ Items []itemJSON }
		annaC.must(201, "POST", base+"/apply", map[string]any{"template_id": tpl.ID}, &added)
		if len(added.Items) != 3 || added.Items[2].Text != "Bank" {
			t.Fatalf("applied: %+v", added.Items)
		}
		if total, _ := progress(); total != 5 {
			t.Fatalf("total after template: %d", total)
		}
		// A template of another channel cannot be applied.
		other := admin.channel("Other checklist desk", "tasks", anna.ID)
		var foreign struct{ ID int64 }
		annaC.must(201, "POST", "/api/v1/channels/"+itoa(int(other))+"/checklist-templates", map[string]any{"name": "F", "items": []string{"x"}}, &foreign)
		if r := annaC.do("POST", base+"/apply", map[string]any{"template_id": foreign.ID}); r.Status != 422 {
			t.Fatalf("foreign template: %d", r.Status)
		}
		annaC.must(204, "DELETE", tb+"/"+itoa(int(tpl.ID)), nil, nil)
		annaC.must(404, "DELETE", tb+"/"+itoa(int(tpl.ID)), nil, nil)
	})
}

func TestNotificationsAPI(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	anna, annaC := h.agent("agent")
	bob, bobC := h.agent("agent")
	ch := admin.channel("Notify desk", "tasks", anna.ID, bob.ID)
	for i := 0; i < 3; i++ {
		if _, err := h.svc.CreateTask(t.Context(), anna, tickets.NewTask{ChannelID: ch, Subject: "For bob " + itoa(i), AssigneeID: &bob.ID}); err != nil {
			t.Fatal(err)
		}
	}
	type page struct {
		Items []struct {
			ID     int64   `json:"id"`
			Kind   string  `json:"kind"`
			ReadAt *string `json:"read_at"`
		}
		NextCursor  string `json:"next_cursor"`
		UnreadCount int64  `json:"unread_count"`
	}
	var p1, p2 page
	bobC.must(200, "GET", "/api/v1/notifications?limit=2", nil, &p1)
	if len(p1.Items) != 2 || p1.NextCursor == "" || p1.UnreadCount != 3 || p1.Items[0].Kind != "assignment" || p1.Items[0].ID < p1.Items[1].ID {
		t.Fatalf("page 1: %+v", p1)
	}
	bobC.must(200, "GET", "/api/v1/notifications?limit=2&cursor="+p1.NextCursor, nil, &p2)
	if len(p2.Items) != 1 || p2.NextCursor != "" || p2.Items[0].ID >= p1.Items[1].ID {
		t.Fatalf("page 2: %+v", p2)
	}
	// Anna cannot read bob's notifications, nor mark them.
	var annas page
	annaC.must(200, "GET", "/api/v1/notifications", nil, &annas)
	if len(annas.Items) != 0 {
		t.Fatalf("anna sees %+v", annas.Items)
	}
	annaC.must(404, "POST", "/api/v1/notifications/"+itoa(int(p1.Items[0].ID))+"/read", nil, nil)
	bobC.must(204, "POST", "/api/v1/notifications/"+itoa(int(p1.Items[0].ID))+"/read", nil, nil)
	var unread page
	bobC.must(200, "GET", "/api/v1/notifications?unread=true", nil, &unread)
	if len(unread.Items) != 2 || unread.UnreadCount != 2 {
		t.Fatalf("unread after one read: %+v", unread)
	}
	var res struct{ Updated int64 }
	bobC.must(200, "POST", "/api/v1/notifications/read-all", nil, &res)
	if res.Updated != 2 {
		t.Fatalf("read-all updated %d", res.Updated)
	}
	bobC.must(200, "GET", "/api/v1/notifications?unread=true", nil, &unread)
	if len(unread.Items) != 0 || unread.UnreadCount != 0 {
		t.Fatalf("unread after read-all: %+v", unread)
	}
	if r := bobC.do("GET", "/api/v1/notifications?cursor=abc", nil); r.Status != 400 {
		t.Fatalf("bad cursor: %d", r.Status)
	}
}
