package web

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/postdesk/postdesk/tickets"
)

var wfSeq int

// uniq makes names unique within the package's shared database.
func uniq(s string) string {
	wfSeq++
	return fmt.Sprintf("%s %d-%d", s, wfSeq, time.Now().UnixNano()%1e6)
}

// inbound stores a customer's first mail as a new ticket, as the mail pipeline does.
func (h *harness) inbound(channelID int64, subject, body, from, name string) *tickets.Ticket {
	h.t.Helper()
	ctx := context.Background()
	var t *tickets.Ticket
	err := h.svc.DB.Transaction(func(tx *gorm.DB) error {
		c, err := h.svc.ResolveContact(ctx, tx, "email", from, name)
		if err != nil {
			return err
		}
		t, err = h.svc.OpenTicket(ctx, tx, tickets.NewTicket{ChannelID: channelID, Subject: subject, ContactID: &c.ID})
		if err != nil {
			return err
		}
		return h.svc.AddInboundMessage(ctx, tx, t, &tickets.Message{BodyText: body, FromAddress: from, FromName: name})
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return t
}

// reply adds another customer message to t in its own transaction.
func (h *harness) reply(ticketID int64, body string) {
	h.t.Helper()
	if err := h.svc.DB.Transaction(func(tx *gorm.DB) error { return h.addReply(tx, ticketID, body) }); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) addReply(tx *gorm.DB, ticketID int64, body string) error {
	var t tickets.Ticket
	if err := tx.Take(&t, ticketID).Error; err != nil {
		return err
	}
	return h.svc.AddInboundMessage(context.Background(), tx, &t, &tickets.Message{BodyText: body})
}

type listItem struct {
	ID         int64    `json:"id"`
	Subject    string   `json:"subject"`
	Status     string   `json:"status"`
	Priority   string   `json:"priority"`
	AssigneeID *int64   `json:"assignee_id"`
	Unread     bool     `json:"unread"`
	Tags       []string `json:"tags"`
	OverdueBy  *int64   `json:"overdue_by"`
	Snippet    string   `json:"snippet"`
	ResolvedAt *string  `json:"resolved_at"`
	DueAt      *string  `json:"due_at"`
	Warnings   []string `json:"warnings"`
}

type listPage struct {
	Items      []listItem `json:"items"`
	NextCursor string     `json:"next_cursor"`
}

func ids(items []listItem) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func path(id int64, rest string) string { return fmt.Sprintf("/api/v1/tickets/%d%s", id, rest) }

func TestTicketQueue(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	anna, annaC := h.agent("agent")
	bob, _ := h.agent("agent")
	ch := admin.channel(uniq("Queue"), "email", anna.ID, bob.ID)
	other := admin.channel(uniq("Hidden"), "email", bob.ID)
	// Assignment off so the filters below start from unassigned tickets.
	admin.must(200, "PATCH", fmt.Sprintf("/api/v1/channels/%d", ch), map[string]any{"assignment_mode": "none"}, nil)

	old := h.inbound(ch, "Old normal", "hello", "old@example.com", "Olga")
	urgent := h.inbound(ch, "Urgent wedding", "help", "urgent@example.com", "Uma")
	recent := h.inbound(ch, "Recent normal", "hi", "recent@example.com", "Rita")
	resolved := h.inbound(ch, "Done already", "thanks", "done@example.com", "Dora")
	hidden := h.inbound(other, "Not for Anna", "secret", "hidden@example.com", "Hal")
	admin.must(200, "PATCH", path(urgent.ID, ""), map[string]any{"priority": "urgent", "assignee_id": anna.ID, "tags": []string{"wedding"}}, nil)
	admin.must(200, "PATCH", path(resolved.ID, ""), map[string]any{"status": "resolved"}, nil)
	// Recent activity decides between equal priorities.
	h.svc.DB.Exec("UPDATE tickets SET last_customer_activity_at = now() - interval '1 hour' WHERE id = ?", old.ID)
	task := &tickets.Ticket{ChannelID: ch, Kind: "task", Subject: "Order ribbons", Status: "open", Priority: "normal",
		LastActivityAt: time.Now().Add(-2 * time.Hour), LastCustomerActivityAt: time.Now().Add(-2 * time.Hour)}
	if err := h.svc.DB.Create(task).Error; err != nil {
		t.Fatal(err)
	}
	due := time.Now().Add(-3 * time.Hour).UTC().Format(time.RFC3339)
	admin.must(200, "PATCH", path(task.ID, ""), map[string]any{"due_at": due}, nil)

	list := func(q string) []int64 {
		t.Helper()
		var p listPage
		annaC.must(200, "GET", "/api/v1/tickets?"+q, nil, &p)
		return ids(p.Items)
	}
	eq := func(name string, got []int64, want ...int64) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: got %v, want %v", name, got, want)
		}
	}
	chq := fmt.Sprintf("channel_id=%d&", ch)
	eq("default queue", list(chq), urgent.ID, recent.ID, old.ID, task.ID)
	eq("access: without channel filter", list(""), urgent.ID, recent.ID, old.ID, task.ID)
	eq("status several", list(chq+"status=resolved,new"), urgent.ID, resolved.ID, recent.ID, old.ID)
	eq("assignee me", list(chq+"assignee=me"), urgent.ID)
	eq("assignee none", list(chq+"assignee=none"), recent.ID, old.ID, task.ID)
	eq("assignee id", list(chq+fmt.Sprintf("assignee=%d", anna.ID)), urgent.ID)
	eq("tag", list(chq+"tag=wedding"), urgent.ID)
	eq("kind", list(chq+"kind=task"), task.ID)
	eq("priority", list(chq+"priority=urgent"), urgent.ID)
	eq("due overdue", list(chq+"due=overdue"), task.ID)
	eq("contact", list(chq+fmt.Sprintf("contact_id=%d", *recent.ContactID)), recent.ID)
	eq("sort created asc", list(chq+"sort=created_at&order=asc"), old.ID, urgent.ID, recent.ID, task.ID)
	eq("sort due", list(chq + "sort=due_at")[:1], task.ID)
	eq("unread: new mail is unread, a task nobody wrote on is not", list(chq+"unread=true"), urgent.ID, recent.ID, old.ID)
	eq("other channel invisible to anna", list(fmt.Sprintf("channel_id=%d", other)))
	if r := annaC.do("GET", path(hidden.ID, ""), nil); r.Status != 404 {
		t.Fatalf("hidden ticket: %d", r.Status)
	}

	t.Run("overdue_by_and_tags_in_list", func(t *testing.T) {
		var p listPage
		annaC.must(200, "GET", "/api/v1/tickets?"+chq+"kind=task", nil, &p)
		if p.Items[0].OverdueBy == nil || *p.Items[0].OverdueBy < 3*3600-60 {
			t.Fatalf("overdue_by %v", p.Items[0].OverdueBy)
		}
		annaC.must(200, "GET", "/api/v1/tickets?"+chq+"tag=wedding", nil, &p)
		if len(p.Items[0].Tags) != 1 || p.Items[0].Tags[0] != "wedding" {
			t.Fatalf("tags %v", p.Items[0].Tags)
		}
	})
	t.Run("snoozed_leave_the_queue", func(t *testing.T) {
		h.svc.DB.Exec("UPDATE tickets SET snoozed_until = now() + interval '1 day' WHERE id = ?", old.ID)
		defer h.svc.DB.Exec("UPDATE tickets SET snoozed_until = NULL WHERE id = ?", old.ID)
		eq("queue", list(chq), urgent.ID, recent.ID, task.ID)
		eq("snoozed", list(chq+"snoozed=true"), old.ID)
	})
	t.Run("bad_filters_are_4xx", func(t *testing.T) {
		for q, status := range map[string]int{"status=later": 422, "sort=colour": 422, "due=someday": 422,
			"assignee=x": 422, "unread=maybe": 400, "limit=1000": 422, "cursor=abc": 422, "channel_id=-1": 400} {
			if r := annaC.do("GET", "/api/v1/tickets?"+q, nil); r.Status != status {
				t.Fatalf("%s: %d %s", q, r.Status, r.Body)
			}
		}
	})
	t.Run("sidebar_counts", func(t *testing.T) {
		var cl struct {
			Items []struct {
				ID          int64
				OpenCount   *int64 `json:"open_count"`
				UnreadCount *int64 `json:"unread_count"`
			}
		}
		annaC.must(200, "GET", "/api/v1/channels", nil, &cl)
		if len(cl.Items) != 1 || *cl.Items[0].OpenCount != 4 || *cl.Items[0].UnreadCount != 3 {
			t.Fatalf("channel counts %+v", cl.Items)
		}
		var v struct {
			Mine       int64 `json:"mine"`
			Unassigned int64 `json:"unassigned"`
			AllOpen    int64 `json:"all_open"`
			Unread     int64 `json:"unread"`
			Snoozed    int64 `json:"snoozed"`
			Overdue    int64 `json:"overdue"`
		}
		annaC.must(200, "GET", "/api/v1/views/counts", nil, &v)
		if v.Mine != 1 || v.Unassigned != 3 || v.AllOpen != 4 || v.Unread != 3 || v.Overdue != 1 || v.Snoozed != 0 {
			t.Fatalf("views %+v", v)
		}
		// The UI's sidebar fragment shows the same numbers.
		side := string(annaC.must(200, "GET", "/ui/sidebar", nil, nil).Body)
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`data-view="mine"[^>]*>[^<]*<span class="count">1</span>`),
			regexp.MustCompile(`data-view="unassigned"[^>]*>[^<]*<span class="count">3</span>`),
			regexp.MustCompile(`data-view="all"[^>]*>[^<]*<span class="count">4</span>`),
			regexp.MustCompile(`data-view="overdue"[^>]*>[^<]*<span class="count">1</span>`),
			regexp.MustCompile(fmt.Sprintf(`(?s)data-channel="%d".*?<span class="count unread"[^>]*>3</span>\s*<span class="count"[^>]*>4</span>`, ch)),
		} {
			if !want.MatchString(side) {
				t.Fatalf("sidebar fragment lacks %s:\n%s", want, side)
			}
		}
	})
}

func TestTicketPagination(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	ch := admin.channel(uniq("Pages"), "email")
	var all []int64
	for i := 0; i < 7; i++ {
		all = append(all, h.inbound(ch, fmt.Sprintf("Page %d", i), "x", fmt.Sprintf("p%d-%d@example.com", i, ch), "").ID)
	}
	// Same priority and activity time for all: the id breaks ties.
	h.svc.DB.Exec("UPDATE tickets SET last_customer_activity_at = '2026-01-01T00:00:00Z' WHERE channel_id = ?", ch)
	for _, sort := range []string{"priority", "last_activity", "created_at", "due_at"} {
		for _, order := range []string{"asc", "desc"} {
			var seen []int64
			cur := ""
			for pages := 0; ; pages++ {
				var p listPage
				admin.must(200, "GET", fmt.Sprintf("/api/v1/tickets?channel_id=%d&limit=3&sort=%s&order=%s&cursor=%s",
					ch, sort, order, url.QueryEscape(cur)), nil, &p)
				seen = append(seen, ids(p.Items)...)
				if pages == 0 {
					// A ticket arriving between pages must not shift the pages already read.
					h.inbound(ch, "Late", "x", uniq("late")+"@example.com", "")
					h.svc.DB.Exec("UPDATE tickets SET last_customer_activity_at = '2026-01-01T00:00:00Z' WHERE channel_id = ?", ch)
				}
				if p.NextCursor == "" {
					break
				}
				cur = p.NextCursor
				if pages > 10 {
					t.Fatal("too many pages")
				}
			}
			dup := map[int64]bool{}
			for _, id := range seen {
				if dup[id] {
					t.Fatalf("%s %s: ticket %d twice in %v", sort, order, id, seen)
				}
				dup[id] = true
			}
			for _, id := range all {
				if !dup[id] {
					t.Fatalf("%s %s: ticket %d missing from %v", sort, order, id, seen)
				}
			}
		}
	}
	// A cursor of one order does not continue another.
	var p listPage
	admin.must(200, "GET", fmt.Sprintf("/api/v1/tickets?channel_id=%d&limit=2", ch), nil, &p)
	if r := admin.do("GET", fmt.Sprintf("/api/v1/tickets?channel_id=%d&sort=created_at&cursor=%s", ch, p.NextCursor), nil); r.Status != 422 {
		t.Fatalf("foreign cursor: %d", r.Status)
	}
}

func countEvents(h *harness, ticketID int64) int64 {
	var n int64
	h.svc.DB.Model(&tickets.TicketEvent{}).Where("ticket_id = ?", ticketID).Count(&n)
	return n
}

func TestTicketPatch(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	anna, annaC := h.agent("agent")
	outsider, _ := h.agent("agent")
	ch := admin.channel(uniq("Patch"), "email", anna.ID)

	t.Run("state_machine", func(t *testing.T) {
		cases := []struct {
			from, to string
			status   int
		}{
			{"new", "open", 200}, {"new", "resolved", 200}, {"open", "pending", 200}, {"pending", "open", 200},
			{"pending", "resolved", 200}, {"resolved", "open", 200}, {"resolved", "closed", 200},
			{"open", "new", 409}, {"resolved", "pending", 409}, {"closed", "open", 409}, {"closed", "resolved", 409},
			{"open", "later", 422},
		}
		for _, tc := range cases {
			tk := h.inbound(ch, "SM "+tc.from+" "+tc.to, "x", uniq("sm")+"@example.com", "")
			h.svc.DB.Exec("UPDATE tickets SET status = ? WHERE id = ?", tc.from, tk.ID)
			before := countEvents(h, tk.ID)
			r := annaC.do("PATCH", path(tk.ID, ""), map[string]any{"status": tc.to})
			if r.Status != tc.status {
				t.Fatalf("%s → %s: %d %s", tc.from, tc.to, r.Status, r.Body)
			}
			var got tickets.Ticket
			h.svc.DB.Take(&got, tk.ID)
			if tc.status != 200 {
				if got.Status != tc.from || countEvents(h, tk.ID) != before {
					t.Fatalf("%s → %s refused but changed: %s", tc.from, tc.to, got.Status)
				}
				continue
			}
			if got.Status != tc.to || countEvents(h, tk.ID) != before+1 {
				t.Fatalf("%s → %s: status %s, events %d→%d", tc.from, tc.to, got.Status, before, countEvents(h, tk.ID))
			}
			if (tc.to == "resolved" || tc.to == "closed") != (got.ResolvedAt != nil) {
				t.Fatalf("%s → %s: resolved_at %v", tc.from, tc.to, got.ResolvedAt)
			}
		}
	})
	t.Run("closed_is_final_except_for_admins", func(t *testing.T) {
		tk := h.inbound(ch, "Closed", "x", uniq("cl")+"@example.com", "")
		annaC.must(200, "PATCH", path(tk.ID, ""), map[string]any{"status": "closed"}, nil)
		if r := annaC.do("PATCH", path(tk.ID, ""), map[string]any{"priority": "high"}); r.Status != 409 {
			t.Fatalf("agent edits closed ticket: %d", r.Status)
		}
		var it listItem
		admin.must(200, "PATCH", path(tk.ID, ""), map[string]any{"status": "open"}, &it)
		if it.Status != "open" || it.ResolvedAt != nil {
			t.Fatalf("admin reopen: %+v", it)
		}
	})
	t.Run("assignee_outside_channel_is_422_and_nothing_changes", func(t *testing.T) {
		tk := h.inbound(ch, "Assign", "x", uniq("as")+"@example.com", "")
		before := countEvents(h, tk.ID)
		r := annaC.do("PATCH", path(tk.ID, ""), map[string]any{"priority": "high", "assignee_id": outsider.ID})
		if r.Status != 422 || r.errFields(t)["assignee_id"] == "" {
			t.Fatalf("outsider: %d %s", r.Status, r.Body)
		}
		var got tickets.Ticket
		h.svc.DB.Take(&got, tk.ID)
		if got.Priority != "normal" || countEvents(h, tk.ID) != before {
			t.Fatalf("half applied: priority %s, events %d→%d", got.Priority, before, countEvents(h, tk.ID))
		}
		var it listItem
		annaC.must(200, "PATCH", path(tk.ID, ""), map[string]any{"assignee_id": anna.ID}, &it)
		if it.AssigneeID == nil || *it.AssigneeID != anna.ID {
			t.Fatalf("assign: %+v", it)
		}
		annaC.must(200, "PATCH", path(tk.ID, ""), map[string]any{"assignee_id": nil}, &it)
		if it.AssigneeID != nil {
			t.Fatalf("unassign: %+v", it)
		}
		// Assigned by someone else: the new assignee is notified, once, in the same transaction.
		admin.must(200, "PATCH", path(tk.ID, ""), map[string]any{"assignee_id": anna.ID}, nil)
		var notes int64
		h.svc.DB.Table("notifications").Where("agent_id = ? AND ticket_id = ? AND kind = 'assignment'", anna.ID, tk.ID).Count(&notes)
		if notes != 1 {
			t.Fatalf("%d assignment notifications (self-assignment must not notify)", notes)
		}
	})
	t.Run("fields_and_events", func(t *testing.T) {
		tk := h.inbound(ch, "Fields", "x", uniq("f")+"@example.com", "")
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		var it listItem
		annaC.must(200, "PATCH", path(tk.ID, ""), map[string]any{"due_at": past, "tags": []string{"vip", "Roses", "vip"},
			"subject": "  New subject ", "position": 2.5, "priority": "high"}, &it)
		if len(it.Warnings) != 1 || it.OverdueBy == nil || it.Subject != "New subject" || it.Priority != "high" {
			t.Fatalf("patch result %+v", it)
		}
		if strings.Join(it.Tags, ",") != "Roses,vip" {
			t.Fatalf("tags %v", it.Tags)
		}
		var kinds []string
		h.svc.DB.Model(&tickets.TicketEvent{}).Where("ticket_id = ? AND agent_id = ?", tk.ID, anna.ID).Order("id").Pluck("kind", &kinds)
		if strings.Join(kinds, ",") != "priority,due_at,subject,position,tags" {
			t.Fatalf("events %v", kinds)
		}
		// The same values again change nothing and record nothing.
		before := countEvents(h, tk.ID)
		annaC.must(200, "PATCH", path(tk.ID, ""), map[string]any{"tags": []string{"roses", "VIP"}, "priority": "high"}, nil)
		if countEvents(h, tk.ID) != before {
			t.Fatal("no-op patch recorded events")
		}
	})
	t.Run("bad_input", func(t *testing.T) {
		tk := h.inbound(ch, "Bad", "x", uniq("b")+"@example.com", "")
		for body, status := range map[string]int{
			`{"priority":"critical"}`:                        422,
			`{"status":null}`:                                422,
			`{"subject":""}`:                                 422,
			`{"due_at":"tomorrow"}`:                          400,
			`{"colour":"red"}`:                               400,
			`{"subject":"` + strings.Repeat("s", 999) + `"}`: 422,
		} {
			if r := annaC.do("PATCH", path(tk.ID, ""), body); r.Status != status {
				t.Fatalf("%s: %d %s", body, r.Status, r.Body)
			}
		}
	})
}

func TestTicketBulk(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	anna, annaC := h.agent("agent")
	ch := admin.channel(uniq("Bulk"), "email", anna.ID)
	a := h.inbound(ch, "Bulk A", "x", uniq("ba")+"@example.com", "")
	b := h.inbound(ch, "Bulk B", "x", uniq("bb")+"@example.com", "")
	c := h.inbound(ch, "Bulk C", "x", uniq("bc")+"@example.com", "")
	h.svc.DB.Exec("UPDATE tickets SET status = 'closed' WHERE id = ?", c.ID)

	r := annaC.do("POST", "/api/v1/tickets/bulk", map[string]any{"ids": []int64{a.ID, b.ID, c.ID}, "status": "pending", "tags": []string{"batch"}})
	if r.Status != 409 {
		t.Fatalf("bulk with a closed ticket: %d %s", r.Status, r.Body)
	}
	var n int64
	h.svc.DB.Model(&tickets.Ticket{}).Where("id IN ? AND status = 'pending'", []int64{a.ID, b.ID}).Count(&n)
	var tagged int64
	h.svc.DB.Table("ticket_tags").Where("ticket_id IN ?", []int64{a.ID, b.ID, c.ID}).Count(&tagged)
	if n != 0 || tagged != 0 {
		t.Fatalf("bulk half applied: %d pending, %d tagged", n, tagged)
	}
	var out struct{ Items []listItem }
	annaC.must(200, "POST", "/api/v1/tickets/bulk", map[string]any{"ids": []int64{a.ID, b.ID}, "status": "pending", "assignee_id": anna.ID}, &out)
	if len(out.Items) != 2 || out.Items[0].Status != "pending" || *out.Items[1].AssigneeID != anna.ID {
		t.Fatalf("bulk: %+v", out.Items)
	}
	if r := annaC.do("POST", "/api/v1/tickets/bulk", map[string]any{"ids": []int64{a.ID, 999999999}, "priority": "high"}); r.Status != 422 {
		t.Fatalf("unknown id: %d", r.Status)
	}
	if r := annaC.do("POST", "/api/v1/tickets/bulk", map[string]any{"ids": []int64{}, "priority": "high"}); r.Status != 422 {
		t.Fatalf("no ids: %d", r.Status)
	}
}

func TestAssignment(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	var agents []*tickets.Agent
	var clients []*apiClient
	for i := 0; i < 3; i++ {
		a, c := h.agent("agent")
		agents = append(agents, a)
		clients = append(clients, c)
	}
	status := func(i int, s string) {
		var me struct{ Status string }
		clients[i].must(200, "PATCH", "/api/v1/me", map[string]any{"status": s}, &me)
		if me.Status != s {
			t.Fatalf("status %s", me.Status)
		}
	}
	assignee := func(tk *tickets.Ticket) int64 {
		var got tickets.Ticket
		h.svc.DB.Take(&got, tk.ID)
		if got.AssigneeID == nil {
			return 0
		}
		return *got.AssigneeID
	}
	setup := func(mode string, cap any) int64 {
		ch := admin.channel(uniq("Assign "+mode), "email", agents[0].ID, agents[1].ID, agents[2].ID)
		admin.must(200, "PATCH", fmt.Sprintf("/api/v1/channels/%d", ch), map[string]any{"assignment_mode": mode, "assignment_cap": cap}, nil)
		return ch
	}

	t.Run("default_assignee", func(t *testing.T) {
		ch := admin.channel(uniq("Assign default"), "email", agents[0].ID, agents[1].ID)
		admin.must(200, "PATCH", fmt.Sprintf("/api/v1/channels/%d", ch),
			map[string]any{"assignment_mode": "default", "default_assignee_id": agents[1].ID}, nil)
		tk := h.inbound(ch, "Default", "x", uniq("def")+"@example.com", "")
		if a := assignee(tk); a != agents[1].ID {
			t.Fatalf("default assignee: %d, want %d", a, agents[1].ID)
		}
		var kinds []string
		h.svc.DB.Raw("SELECT kind FROM ticket_events WHERE ticket_id = ? ORDER BY id", tk.ID).Scan(&kinds)
		if fmt.Sprint(kinds) != "[created assigned]" {
			t.Fatalf("timeline %v, want created then assigned", kinds)
		}
		var n int64
		h.svc.DB.Raw("SELECT count(*) FROM notifications WHERE agent_id = ? AND ticket_id = ? AND kind = ?",
			agents[1].ID, tk.ID, tickets.NotifyAssignment).Scan(&n)
		if n != 1 {
			t.Fatalf("%d assignment notifications, want 1", n)
		}
		// With the mode elsewhere, the default assignee is not applied.
		admin.must(200, "PATCH", fmt.Sprintf("/api/v1/channels/%d", ch), map[string]any{"assignment_mode": "none"}, nil)
		if a := assignee(h.inbound(ch, "None", "x", uniq("none")+"@example.com", "")); a != 0 {
			t.Fatalf("mode none assigned %d", a)
		}
	})
	t.Run("round_robin_skips_away_agents", func(t *testing.T) {
		status(0, "online")
		status(1, "away")
		status(2, "online")
		ch := setup("round_robin", nil)
		var got []int64
		for i := 0; i < 4; i++ {
			got = append(got, assignee(h.inbound(ch, "RR", "x", uniq("rr")+"@example.com", "")))
		}
		want := []int64{agents[0].ID, agents[2].ID, agents[0].ID, agents[2].ID}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("round robin %v, want %v", got, want)
		}
		status(1, "online")
		if a := assignee(h.inbound(ch, "RR", "x", uniq("rr")+"@example.com", "")); a != agents[0].ID {
			t.Fatalf("after 2 comes 0: %d", a)
		}
		if a := assignee(h.inbound(ch, "RR", "x", uniq("rr")+"@example.com", "")); a != agents[1].ID {
			t.Fatalf("back online agent 1 gets a turn: %d", a)
		}
	})
	t.Run("least_open", func(t *testing.T) {
		for i := range agents {
			status(i, "online")
		}
		ch := setup("least_open", nil)
		// Agent 0 already holds two tickets, agent 1 one.
		for i, n := range []int{2, 1} {
			for j := 0; j < n; j++ {
				tk := h.inbound(ch, "pre", "x", uniq("lo")+"@example.com", "")
				h.svc.DB.Exec("UPDATE tickets SET assignee_id = ? WHERE id = ?", agents[i].ID, tk.ID)
			}
		}
		if a := assignee(h.inbound(ch, "LO", "x", uniq("lo")+"@example.com", "")); a != agents[2].ID {
			t.Fatalf("least open: %d, want %d", a, agents[2].ID)
		}
		status(2, "offline")
		if a := assignee(h.inbound(ch, "LO", "x", uniq("lo")+"@example.com", "")); a != agents[1].ID {
			t.Fatalf("least open among online: %d, want %d", a, agents[1].ID)
		}
	})
	t.Run("cap", func(t *testing.T) {
		status(0, "online")
		status(1, "offline")
		status(2, "offline")
		ch := setup("round_robin", 2)
		got := []int64{}
		for i := 0; i < 3; i++ {
			got = append(got, assignee(h.inbound(ch, "Cap", "x", uniq("cap")+"@example.com", "")))
		}
		if fmt.Sprint(got) != fmt.Sprint([]int64{agents[0].ID, agents[0].ID, 0}) {
			t.Fatalf("cap 2: %v", got)
		}
	})
	t.Run("profile_bad_input", func(t *testing.T) {
		if r := clients[0].do("PATCH", "/api/v1/me", map[string]any{"status": "busy"}); r.Status != 422 {
			t.Fatalf("status busy: %d", r.Status)
		}
		if r := clients[0].do("PATCH", "/api/v1/me", map[string]any{"undo_seconds": 301}); r.Status != 422 {
			t.Fatalf("undo 301: %d", r.Status)
		}
		var me struct {
			Name        string
			UndoSeconds int `json:"undo_seconds"`
		}
		clients[0].must(200, "PATCH", "/api/v1/me", map[string]any{"name": "Anna K", "undo_seconds": 30}, &me)
		if me.Name != "Anna K" || me.UndoSeconds != 30 {
			t.Fatalf("profile %+v", me)
		}
	})
}

func TestReadState(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	anna, annaC := h.agent("agent")
	ch := admin.channel(uniq("Read"), "email", anna.ID)
	admin.must(200, "PATCH", fmt.Sprintf("/api/v1/channels/%d", ch), map[string]any{"assignment_mode": "none"}, nil)
	unread := func() int64 {
		var cl struct {
			Items []struct {
				UnreadCount int64 `json:"unread_count"`
			}
		}
		annaC.must(200, "GET", "/api/v1/channels", nil, &cl)
		return cl.Items[0].UnreadCount
	}
	tk := h.inbound(ch, "Read me", "x", uniq("r")+"@example.com", "")
	if unread() != 1 {
		t.Fatal("new ticket not unread")
	}
	var d struct {
		Unread   bool
		Messages []struct {
			BodyText string `json:"body_text"`
		}
	}
	annaC.must(200, "GET", path(tk.ID, ""), nil, &d)
	if !d.Unread || len(d.Messages) != 1 || unread() != 0 {
		t.Fatalf("opening: %+v, unread %d", d, unread())
	}
	annaC.must(204, "POST", path(tk.ID, "/unread"), nil, nil)
	if unread() != 1 {
		t.Fatal("mark unread")
	}
	annaC.must(204, "POST", path(tk.ID, "/read"), nil, nil)
	if unread() != 0 {
		t.Fatal("mark read")
	}
	annaC.must(200, "GET", path(tk.ID, "?mark_read=false"), nil, nil)
	h.reply(tk.ID, "another")
	annaC.must(200, "GET", path(tk.ID, "?mark_read=false"), nil, nil)
	if unread() != 1 {
		t.Fatal("reply did not make it unread, or mark_read=false marked it")
	}

	t.Run("arrival_committing_while_reading_stays_unread", func(t *testing.T) {
		annaC.must(204, "POST", path(tk.ID, "/read"), nil, nil)
		tx := h.svc.DB.Begin()
		if err := h.addReply(tx, tk.ID, "during the read"); err != nil {
			t.Fatal(err)
		}
		// Anna opens the ticket before the arrival commits: she cannot have seen it.
		annaC.must(200, "GET", path(tk.ID, ""), nil, nil)
		if err := tx.Commit().Error; err != nil {
			t.Fatal(err)
		}
		if unread() != 1 {
			t.Fatal("message committed after the read was lost")
		}
	})
	t.Run("concurrent_arrivals_and_reads", func(t *testing.T) {
		var tks []*tickets.Ticket
		for i := 0; i < 5; i++ {
			tks = append(tks, h.inbound(ch, "Busy", "x", uniq("busy")+"@example.com", ""))
		}
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for _, tk := range tks {
			for j := 0; j < 4; j++ {
				wg.Add(2)
				go func() {
					defer wg.Done()
					errs <- h.svc.DB.Transaction(func(tx *gorm.DB) error { return h.addReply(tx, tk.ID, "more") })
				}()
				go func() {
					defer wg.Done()
					_, err := h.svc.TicketDetail(context.Background(), anna, tk.ID, true)
					errs <- err
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		// Whatever interleaving happened, reading each ticket once more leaves nothing unread,
		// and one more arrival on two of them makes exactly two unread.
		for _, tk := range tks {
			annaC.must(200, "GET", path(tk.ID, ""), nil, nil)
		}
		annaC.must(200, "GET", path(tk.ID, ""), nil, nil)
		if n := unread(); n != 0 {
			t.Fatalf("after reading all: %d unread", n)
		}
		h.reply(tks[0].ID, "again")
		h.reply(tks[3].ID, "again")
		if n := unread(); n != 2 {
			t.Fatalf("after two arrivals: %d unread", n)
		}
	})
}

func TestSearch(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	anna, annaC := h.agent("agent")
	bob, _ := h.agent("agent")
	ch := admin.channel(uniq("Search"), "email", anna.ID)
	other := admin.channel(uniq("Search other"), "email", bob.ID)
	thai := h.inbound(ch, "สั่งดอกไม้", "สวัสดีครับ ผมอยากสั่งดอกกุหลาบสีแดงสำหรับงานแต่งงาน", uniq("th")+"@example.com", "สมชาย")
	jp := h.inbound(ch, "ご注文について", "東京都渋谷区の花屋さんへ、結婚式用のバラを注文したいです。", uniq("jp")+"@example.com", "田中")
	ru := h.inbound(ch, "Заказ цветов", "Здравствуйте, хочу заказать букет тюльпанов на свадьбу", uniq("ru")+"@example.com", "Иван")
	ar := h.inbound(ch, "طلب زهور", "مرحبا، أريد طلب باقة من الورود الحمراء", uniq("ar")+"@example.com", "أحمد")
	en := h.inbound(ch, "Invoice question", "Please send the invoice for order 4711 and the red roses", "karin.meyer@example.org", "Karin Meyer")
	hidden := h.inbound(other, "Hidden roses", "ดอกกุหลาบ 東京都 zqxsecret", uniq("hid")+"@example.com", "")
	h.svc.DB.Exec("UPDATE tickets SET status = 'closed' WHERE id = ?", en.ID) // searches include finished tickets

	search := func(q string) listPage {
		t.Helper()
		var p listPage
		annaC.must(200, "GET", "/api/v1/tickets?q="+url.QueryEscape(q), nil, &p)
		return p
	}
	for _, tc := range []struct {
		q       string
		want    int64
		snippet string
	}{
		{"ดอกกุหลาบ", thai.ID, "<mark>ดอกกุหลาบ</mark>"}, // Thai substring inside a run with no spaces
		{"渋谷区の花屋", jp.ID, "<mark>渋谷区の花屋</mark>"},         // Japanese substring
		{"тюльпан", ru.ID, "<mark>тюльпан</mark>"},       // Russian, inflected form's stem
		{"الورود", ar.ID, "<mark>الورود</mark>"},         // Arabic
		{"order 4711", en.ID, "<mark>order 4711</mark>"}, // English phrase
		{"KARIN.MEYER", en.ID, ""},                       // contact identity, any case
		{"invoice roses", en.ID, "<mark>invoice</mark>"}, // words apart
		{"roses 4711 of send", en.ID, ""},                // any order; "of" too short to filter
		{"voice ROSE", en.ID, ""},                        // inside longer words, any case
		{"สมชาย", thai.ID, "<mark>สมชาย</mark>"},         // contact name
	} {
		p := search(tc.q)
		if len(p.Items) != 1 || p.Items[0].ID != tc.want {
			t.Fatalf("%q: got %v, want [%d]", tc.q, ids(p.Items), tc.want)
		}
		if tc.snippet != "" && !strings.Contains(p.Items[0].Snippet, tc.snippet) {
			t.Fatalf("%q: snippet %q", tc.q, p.Items[0].Snippet)
		}
	}
	// Every word of a query must occur: one missing word is no match.
	if p := search("invoice tulips"); len(p.Items) != 0 {
		t.Fatalf("%q matched %v", "invoice tulips", ids(p.Items))
	}
	// Ranking: a subject hit outranks a body hit.
	h.inbound(ch, "Bouquet", "Ich hätte gern Tulpen", uniq("de")+"@example.com", "")
	subj := h.inbound(ch, "Tulpen bestellen", "Guten Tag", uniq("de2")+"@example.com", "")
	if p := search("tulpen"); len(p.Items) != 2 || p.Items[0].ID != subj.ID {
		t.Fatalf("ranking: %v", ids(p.Items))
	}
	// The other channel's ticket matches the same words but is not Anna's to see.
	for _, q := range []string{"zqxsecret", "Hidden roses"} {
		if p := search(q); len(p.Items) != 0 {
			t.Fatalf("%q leaked %v", q, ids(p.Items))
		}
	}
	var p listPage
	admin.must(200, "GET", "/api/v1/tickets?q=zqxsecret", nil, &p)
	if len(p.Items) != 1 || p.Items[0].ID != hidden.ID {
		t.Fatalf("admin search: %v", ids(p.Items))
	}
	// q as a filter in another order.
	annaC.must(200, "GET", "/api/v1/tickets?sort=created_at&status=new,closed&q=roses", nil, &p)
	if len(p.Items) != 1 || p.Items[0].ID != en.ID {
		t.Fatalf("filtered search: %v", ids(p.Items))
	}
}
