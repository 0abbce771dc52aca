package web

import (
	"strings"
	"testing"

	"github.com/postdesk/postdesk/tickets"
)

type ticketJSON struct {
	ID              int64   `json:"id"`
	ChannelID       int64   `json:"channel_id"`
	Kind            string  `json:"kind"`
	Subject         string  `json:"subject"`
	Status          string  `json:"status"`
	AssigneeID      *int64  `json:"assignee_id"`
	ContactID       *int64  `json:"contact_id"`
	ChecklistTotal  int     `json:"checklist_total"`
	ChecklistDone   int     `json:"checklist_done"`
	OriginMessageID *int64  `json:"origin_message_id"`
	MergedIntoID    *int64  `json:"merged_into_id"`
	Position        float64 `json:"position"`
	Reminder        bool    `json:"reminder"`
	SnoozedUntil    *string `json:"snoozed_until"`
	DueAt           *string `json:"due_at"`
}

func countNotifications(h *harness, agentID int64, kind string) int64 {
	var n int64
	h.svc.DB.Model(&tickets.Notification{}).Where("agent_id = ? AND kind = ?", agentID, kind).Count(&n)
	return n
}

func TestCreateTask(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	anna, annaC := h.agent("agent")
	bob, _ := h.agent("agent")
	outsider, outsiderC := h.agent("agent")
	board := admin.channel("Team tasks", "tasks", anna.ID, bob.ID)
	mail := admin.channel("Team mail", "email", anna.ID, bob.ID)
	admin.must(200, "PUT", "/api/v1/channels/"+itoa(int(board))+"/members/"+itoa(int(bob.ID)), map[string]any{"role": "responsible"}, nil)

	var tk ticketJSON
	annaC.must(201, "POST", "/api/v1/tickets", map[string]any{"kind": "task", "channel_id": board,
		"subject": "Book the venue", "description": "Ask @" + strings.Split(bob.Email, "@")[0] + " about dates",
		"assignee_id": bob.ID, "priority": "high", "checklist": []string{"call", "sign"}, "tags": []string{"events"},
		"due_at": "2030-01-02T15:00:00Z"}, &tk)
	if tk.Kind != "task" || tk.ContactID != nil || tk.AssigneeID == nil || *tk.AssigneeID != bob.ID ||
		tk.ChecklistTotal != 2 || tk.ChecklistDone != 0 || tk.DueAt == nil {
		t.Fatalf("task: %+v", tk)
	}
	var note tickets.Message
	if err := h.svc.DB.Where("ticket_id = ? AND direction = 'note'", tk.ID).Take(&note).Error; err != nil || !strings.Contains(note.BodyText, "about dates") {
		t.Fatalf("description note: %v %+v", err, note)
	}
	if n := countNotifications(h, bob.ID, "assignment"); n != 1 {
		t.Fatalf("bob assignment notifications: %d", n)
	}
	if n := countNotifications(h, bob.ID, "mention"); n != 1 {
		t.Fatalf("bob mention notifications: %d", n)
	}
	if n := countNotifications(h, bob.ID, "new_ticket"); n != 1 {
		t.Fatalf("bob (responsible) new_ticket notifications: %d", n)
	}
	if n := countNotifications(h, anna.ID, "new_ticket"); n != 0 {
		t.Fatalf("anna (member, creator) new_ticket notifications: %d", n)
	}

	t.Run("bad_input_writes_nothing", func(t *testing.T) {
		var before int64
		h.svc.DB.Model(&tickets.Ticket{}).Count(&before)
		cases := []struct {
			name  string
			c     *apiClient
			body  map[string]any
			want  int
			field string
		}{
			{"non_task_channel", annaC, map[string]any{"kind": "task", "channel_id": mail, "subject": "x"}, 422, "channel_id"},
			{"assignee_outside", annaC, map[string]any{"kind": "task", "channel_id": board, "subject": "x", "assignee_id": outsider.ID}, 422, "assignee_id"},
			{"no_subject", annaC, map[string]any{"kind": "task", "channel_id": board}, 422, "subject"},
			{"long_item", annaC, map[string]any{"kind": "task", "channel_id": board, "subject": "x", "checklist": []string{"ok", strings.Repeat("é", 501)}}, 422, "checklist[1]"},
			{"bad_priority", annaC, map[string]any{"kind": "task", "channel_id": board, "subject": "x", "priority": "asap"}, 422, "priority"},
			{"mail_field", annaC, map[string]any{"kind": "task", "channel_id": board, "subject": "x", "to": []string{"a@b.c"}}, 422, "to"},
			{"outsider", outsiderC, map[string]any{"kind": "task", "channel_id": board, "subject": "x"}, 404, ""},
			{"bad_kind", annaC, map[string]any{"kind": "memo", "channel_id": board, "subject": "x"}, 422, "kind"},
		}
		for _, tc := range cases {
			r := tc.c.do("POST", "/api/v1/tickets", tc.body)
			if r.Status != tc.want {
				t.Fatalf("%s: %d %s", tc.name, r.Status, r.Body)
			}
			if tc.field != "" && r.errFields(t)[tc.field] == "" {
				t.Fatalf("%s: no message for %s: %s", tc.name, tc.field, r.Body)
			}
		}
		var after int64
		h.svc.DB.Model(&tickets.Ticket{}).Count(&after)
		if after != before {
			t.Fatalf("%d tickets written by bad requests", after-before)
		}
	})
	t.Run("conversation_not_built_here", func(t *testing.T) {
		r := annaC.do("POST", "/api/v1/tickets", map[string]any{"channel_id": mail, "subject": "Hi", "to": []string{"x@example.com"}, "body": "hi"})
		if r.Status != 501 && r.Status != 201 && r.Status != 422 {
			t.Fatalf("conversation: %d %s", r.Status, r.Body)
		}
	})
}

func TestNoteMentions(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	anna, _ := h.agent("agent")
	bob, _ := h.agent("agent")
	carl, _ := h.agent("agent")
	outsider, _ := h.agent("agent")
	ch := admin.channel("Note desk", "tasks", anna.ID, bob.ID, carl.ID)
	tk, err := h.svc.CreateTask(t.Context(), anna, tickets.NewTask{ChannelID: ch, Subject: "Plan"})
	if err != nil {
		t.Fatal(err)
	}
	local := func(a *tickets.Agent) string { return strings.Split(a.Email, "@")[0] }
	body := "Hi @" + strings.ToUpper(local(bob)) + ", see @[Carl](" + itoa(int(carl.ID)) + ") and @" + local(outsider) +
		" and mail " + local(anna) + "@example.com and @" + local(anna)
	m, err := h.svc.AddNote(t.Context(), anna, tk.ID, body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Direction != "note" || m.AuthorAgentID == nil || *m.AuthorAgentID != anna.ID {
		t.Fatalf("note: %+v", m)
	}
	for _, c := range []struct {
		a    *tickets.Agent
		want int64
	}{{bob, 1}, {carl, 1}, {outsider, 0}, {anna, 0}} {
		if n := countNotifications(h, c.a.ID, "mention"); n != c.want {
			t.Fatalf("%s: %d mention notifications, want %d", c.a.Email, n, c.want)
		}
	}
	if _, err := h.svc.AddNote(t.Context(), outsider, tk.ID, "hi", nil); err != tickets.ErrNotFound {
		t.Fatalf("outsider note: %v", err)
	}
	if _, err := h.svc.AddNote(t.Context(), anna, tk.ID, "  ", nil); err == nil {
		t.Fatal("empty note accepted")
	}
	if _, err := h.svc.AddNote(t.Context(), anna, tk.ID, "with file", []int64{999999}); err == nil {
		t.Fatal("unknown attachment accepted")
	}
	var notes int64
	h.svc.DB.Model(&tickets.Message{}).Where("ticket_id = ? AND direction = 'note'", tk.ID).Count(&notes)
	if notes != 1 {
		t.Fatalf("%d notes stored, want 1 (rejected notes must leave nothing)", notes)
	}
}
