package web

import (
	"strings"
	"testing"

	"github.com/postdesk/postdesk/tickets"
)

// firstMessage returns the oldest message of a ticket.
func (h *harness) firstMessage(ticketID int64) *tickets.Message {
	h.t.Helper()
	var m tickets.Message
	if err := h.svc.DB.Where("ticket_id = ?", ticketID).Order("id").Take(&m).Error; err != nil {
		h.t.Fatal(err)
	}
	return &m
}

func TestSpawnTaskAndBoard(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	anna, annaC := h.agent("agent")
	bob, bobC := h.agent("agent")
	support := admin.channel("Spawn support", "email", anna.ID, bob.ID)
	annasTasks := admin.channel("Spawn anna tasks", "tasks", anna.ID)
	bobsTasks := admin.channel("Spawn bob tasks", "tasks", bob.ID)
	src := h.inbound(support, "Wedding flowers", "Please deliver 40 roses on Friday.\nThanks!", "rose@customer.test", "Rose")
	m := h.firstMessage(src.ID)

	t.Run("outside_target_channel_is_404", func(t *testing.T) {
		r := annaC.do("POST", "/api/v1/messages/"+itoa(int(m.ID))+"/spawn-task", map[string]any{"channel_id": bobsTasks})
		if r.Status != 404 {
			t.Fatalf("spawn into a channel anna is not in: %d %s", r.Status, r.Body)
		}
	})
	t.Run("non_task_channel_is_422", func(t *testing.T) {
		r := annaC.do("POST", "/api/v1/messages/"+itoa(int(m.ID))+"/spawn-task", map[string]any{"channel_id": support})
		if r.Status != 422 || r.errFields(t)["channel_id"] == "" {
			t.Fatalf("spawn into an email channel: %d %s", r.Status, r.Body)
		}
	})
	t.Run("message_not_visible_is_404", func(t *testing.T) {
		_, cOut := h.agent("agent")
		if r := cOut.do("POST", "/api/v1/messages/"+itoa(int(m.ID))+"/spawn-task", map[string]any{"channel_id": annasTasks}); r.Status != 404 {
			t.Fatalf("spawn from an invisible message: %d", r.Status)
		}
	})
	var n int64
	h.svc.DB.Model(&tickets.Ticket{}).Where("origin_message_id = ?", m.ID).Count(&n)
	if n != 0 {
		t.Fatalf("%d tasks written by refused spawns", n)
	}

	var task ticketJSON
	annaC.must(201, "POST", "/api/v1/messages/"+itoa(int(m.ID))+"/spawn-task", map[string]any{"channel_id": annasTasks,
		"assignee_id": anna.ID, "due_at": "2031-05-01T09:00:00Z"}, &task)
	if task.Kind != "task" || task.ChannelID != annasTasks || task.OriginMessageID == nil || *task.OriginMessageID != m.ID ||
		task.Subject != "Please deliver 40 roses on Friday." || task.ContactID != nil {
		t.Fatalf("task: %+v", task)
	}
	var quote tickets.Message
	h.svc.DB.Where("ticket_id = ? AND direction = 'note'", task.ID).Take(&quote)
	if !strings.Contains(quote.BodyText, "> Please deliver 40 roses on Friday.") || !strings.Contains(quote.BodyText, "Rose wrote") {
		t.Fatalf("quote: %q", quote.BodyText)
	}
	var links struct {
		Origin  *struct{ ID int64 }  `json:"origin"`
		Spawned []struct{ ID int64 } `json:"spawned"`
	}
	annaC.must(200, "GET", "/api/v1/tickets/"+itoa(int(src.ID))+"/links", nil, &links)
	if len(links.Spawned) != 1 || links.Spawned[0].ID != task.ID {
		t.Fatalf("source links: %+v", links)
	}
	annaC.must(200, "GET", "/api/v1/tickets/"+itoa(int(task.ID))+"/links", nil, &links)
	if links.Origin == nil || links.Origin.ID != src.ID {
		t.Fatalf("task links: %+v", links)
	}
	// Bob sees the source ticket but not anna's tasks channel: the link is not listed to him.
	bobC.must(200, "GET", "/api/v1/tickets/"+itoa(int(src.ID))+"/links", nil, &links)
	if len(links.Spawned) != 0 {
		t.Fatalf("bob sees a task he cannot open: %+v", links)
	}
	var kinds []string
	h.svc.DB.Model(&tickets.TicketEvent{}).Where("ticket_id = ?", src.ID).Order("id").Pluck("kind", &kinds)
	if kinds[len(kinds)-1] != "task_spawned" {
		t.Fatalf("source events: %v", kinds)
	}

	t.Run("board", func(t *testing.T) {
		second, err := h.svc.CreateTask(t.Context(), anna, tickets.NewTask{ChannelID: annasTasks, Subject: "Second",
			Checklist: []string{"a", "b"}})
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Columns []struct {
				Status string
				Cards  []struct {
					ID             int64   `json:"id"`
					AssigneeName   string  `json:"assignee_name"`
					ChecklistTotal int     `json:"checklist_total"`
					Position       float64 `json:"position"`
				}
			}
		}
		annaC.must(200, "GET", "/api/v1/channels/"+itoa(int(annasTasks))+"/board", nil, &b)
		if len(b.Columns) != 5 || b.Columns[0].Status != "new" || len(b.Columns[0].Cards) != 2 {
			t.Fatalf("board: %+v", b)
		}
		if b.Columns[0].Cards[0].ID != task.ID || b.Columns[0].Cards[1].ID != second.ID ||
			b.Columns[0].Cards[1].ChecklistTotal != 2 || b.Columns[0].Cards[0].AssigneeName != anna.Name {
			t.Fatalf("cards: %+v", b.Columns[0].Cards)
		}
		// Moving the second card above the first (as the UI does) reorders the column.
		h.svc.DB.Model(&tickets.Ticket{}).Where("id = ?", second.ID).Update("position", b.Columns[0].Cards[0].Position-1)
		annaC.must(200, "GET", "/api/v1/channels/"+itoa(int(annasTasks))+"/board", nil, &b)
		if b.Columns[0].Cards[0].ID != second.ID {
			t.Fatalf("order after move: %+v", b.Columns[0].Cards)
		}
		bobC.must(404, "GET", "/api/v1/channels/"+itoa(int(annasTasks))+"/board", nil, nil)
	})
}

func TestMergeTickets(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	anna, annaC := h.agent("agent")
	_, outsiderC := h.agent("agent")
	shop := admin.channel("Merge shop", "email", anna.ID)
	events := admin.channel("Merge events", "email", anna.ID)
	a := h.inbound(shop, "Order", "first", "lily@customer.test", "Lily")
	b := h.inbound(events, "Party", "second", "lily@customer.test", "Lily")
	other := h.inbound(events, "Other", "third", "ivy@customer.test", "Ivy")
	p := "/api/v1/tickets/" + itoa(int(a.ID)) + "/merge"
	count := func(id int64) int64 {
		var n int64
		h.svc.DB.Model(&tickets.Message{}).Where("ticket_id = ?", id).Count(&n)
		return n
	}

	r := annaC.do("POST", p, map[string]any{"into_id": other.ID})
	if r.Status != 422 || r.errFields(t)["into_id"] == "" {
		t.Fatalf("different contacts without force: %d %s", r.Status, r.Body)
	}
	if count(a.ID) != 1 || count(other.ID) != 1 {
		t.Fatal("refused merge moved messages")
	}
	if got := h.reloadTicket(a.ID); got.Status == "closed" || got.MergedIntoID != nil {
		t.Fatalf("refused merge closed the ticket: %+v", got)
	}
	if r := annaC.do("POST", p, map[string]any{"into_id": a.ID}); r.Status != 422 {
		t.Fatalf("merge into itself: %d", r.Status)
	}
	if r := outsiderC.do("POST", p, map[string]any{"into_id": b.ID}); r.Status != 404 {
		t.Fatalf("outsider merge: %d", r.Status)
	}

	// Tags and checklist items travel with the merge; the target keeps its own first.
	annaC.must(200, "PATCH", "/api/v1/tickets/"+itoa(int(a.ID)), map[string]any{"tags": []string{"vip", "wedding"}}, nil)
	annaC.must(200, "PATCH", "/api/v1/tickets/"+itoa(int(b.ID)), map[string]any{"tags": []string{"Wedding", "urgent"}}, nil)
	for _, it := range []struct {
		id   int64
		text string
	}{{a.ID, "order roses"}, {a.ID, "book the van"}, {b.ID, "call the venue"}} {
		annaC.must(201, "POST", "/api/v1/tickets/"+itoa(int(it.id))+"/checklist", map[string]any{"text": it.text}, nil)
	}

	var into ticketJSON
	annaC.must(200, "POST", p, map[string]any{"into_id": b.ID}, &into)
	var tags []string
	h.svc.DB.Raw(`SELECT g.name FROM ticket_tags tt JOIN tags g ON g.id = tt.tag_id WHERE tt.ticket_id = ? ORDER BY lower(g.name)`,
		b.ID).Scan(&tags)
	if strings.Join(tags, ",") != "urgent,vip,wedding" && strings.Join(tags, ",") != "urgent,vip,Wedding" {
		t.Fatalf("target tags after merge: %v", tags)
	}
	var items []tickets.ChecklistItem
	h.svc.DB.Where("ticket_id = ?", b.ID).Order("position, id").Find(&items)
	var texts []string
	for _, it := range items {
		texts = append(texts, it.Text)
	}
	if strings.Join(texts, "|") != "call the venue|order roses|book the van" || into.ChecklistTotal != 3 {
		t.Fatalf("target checklist after merge: %v (total %d)", texts, into.ChecklistTotal)
	}
	var ev tickets.TicketEvent
	h.svc.DB.Where("ticket_id = ? AND kind = 'merged_from'", b.ID).Take(&ev)
	if added, _ := ev.Data["tags_added"].([]any); len(added) != 1 || added[0] != "vip" {
		t.Fatalf("merged_from event: %+v", ev.Data)
	}
	if into.ID != b.ID || count(b.ID) != 2 || count(a.ID) != 0 {
		t.Fatalf("after merge: into %+v, messages %d/%d", into, count(a.ID), count(b.ID))
	}
	var moved tickets.Message
	h.svc.DB.Where("ticket_id = ? AND body_text = 'first'", b.ID).Take(&moved)
	if moved.ChannelID != events {
		t.Fatalf("moved message keeps channel %d, want %d", moved.ChannelID, events)
	}
	got := h.reloadTicket(a.ID)
	if got.Status != "closed" || got.MergedIntoID == nil || *got.MergedIntoID != b.ID || got.ClosedAt == nil {
		t.Fatalf("merged ticket: %+v", got)
	}
	if r := annaC.do("POST", p, map[string]any{"into_id": b.ID}); r.Status != 422 {
		t.Fatalf("merging twice: %d", r.Status)
	}
	// force merges tickets of different contacts.
	annaC.must(200, "POST", "/api/v1/tickets/"+itoa(int(other.ID))+"/merge", map[string]any{"into_id": b.ID, "force": true}, nil)
	if count(b.ID) != 3 {
		t.Fatalf("forced merge: %d messages", count(b.ID))
	}
}

func (h *harness) reloadTicket(id int64) *tickets.Ticket {
	h.t.Helper()
	var t tickets.Ticket
	if err := h.svc.DB.Take(&t, id).Error; err != nil {
		h.t.Fatal(err)
	}
	return &t
}

func TestContacts(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	anna, annaC := h.agent("agent")
	bob, bobC := h.agent("agent")
	shop := admin.channel("Contacts shop", "email", anna.ID)
	books := admin.channel("Contacts books", "email", bob.ID)
	h.inbound(shop, "Order", "hi", "tulip@customer.test", "Tulip Ågren")
	h.inbound(books, "Invoice", "hi", "tulip@customer.test", "Tulip Ågren")
	h.inbound(books, "Bill", "pay", "invoice@supplier.test", "Supplier AB")
	h.inbound(shop, "Again", "hello", "t.agren@other.test", "")

	type contactList struct {
		Items []struct {
			ID          int64 `json:"id"`
			Name        string
			TicketCount int64 `json:"ticket_count"`
			Identities  []struct{ Value string }
		}
		NextCursor string `json:"next_cursor"`
	}
	var l contactList
	annaC.must(200, "GET", "/api/v1/contacts", nil, &l)
	if len(l.Items) != 2 {
		t.Fatalf("anna sees %d contacts, want 2 (tulip and t.agren): %+v", len(l.Items), l.Items)
	}
	annaC.must(200, "GET", "/api/v1/contacts?q=ågren", nil, &l)
	if len(l.Items) != 1 || l.Items[0].TicketCount != 1 || l.Items[0].Identities[0].Value != "tulip@customer.test" {
		t.Fatalf("search by name: %+v", l.Items)
	}
	tulip := l.Items[0].ID
	annaC.must(200, "GET", "/api/v1/contacts?q=SUPPLIER.test", nil, &l)
	if len(l.Items) != 0 {
		t.Fatalf("anna finds bob's supplier: %+v", l.Items)
	}
	bobC.must(200, "GET", "/api/v1/contacts?q=SUPPLIER.test", nil, &l)
	if len(l.Items) != 1 {
		t.Fatalf("search by identity: %+v", l.Items)
	}
	supplier := l.Items[0].ID
	admin.must(200, "GET", "/api/v1/contacts?limit=1", nil, &l)
	if len(l.Items) != 1 || l.NextCursor == "" {
		t.Fatalf("admin page: %+v", l)
	}
	annaC.must(404, "GET", "/api/v1/contacts/"+itoa(int(supplier)), nil, nil)

	var d struct {
		ID         int64
		Identities []struct{ Value string }
		Tickets    []struct{ ID int64 }
	}
	annaC.must(200, "GET", "/api/v1/contacts/"+itoa(int(tulip)), nil, &d)
	if len(d.Tickets) != 1 || len(d.Identities) != 1 {
		t.Fatalf("anna's view of tulip: %+v", d)
	}
	admin.must(200, "GET", "/api/v1/contacts/"+itoa(int(tulip)), nil, &d)
	if len(d.Tickets) != 2 {
		t.Fatalf("admin's view of tulip: %+v", d)
	}

	// Merge t.agren into tulip: identities and tickets move; new mail from the old
	// address lands on the survivor.
	annaC.must(200, "GET", "/api/v1/contacts?q=t.agren", nil, &l)
	agren := l.Items[0].ID
	if r := annaC.do("POST", "/api/v1/contacts/"+itoa(int(agren))+"/merge", map[string]any{"into_id": supplier}); r.Status != 422 {
		t.Fatalf("merge into an invisible contact: %d %s", r.Status, r.Body)
	}
	annaC.must(200, "POST", "/api/v1/contacts/"+itoa(int(agren))+"/merge", map[string]any{"into_id": tulip}, &d)
	if len(d.Identities) != 2 || len(d.Tickets) != 2 {
		t.Fatalf("after merge: %+v", d)
	}
	c, err := h.svc.ResolveContact(t.Context(), h.svc.DB, "email", "t.agren@other.test", "")
	if err != nil || c.ID != tulip {
		t.Fatalf("old identity resolves to %v %v, want %d", c, err, tulip)
	}
	annaC.must(200, "GET", "/api/v1/contacts", nil, &l)
	for _, it := range l.Items {
		if it.ID == agren {
			t.Fatal("merged contact still listed")
		}
	}
	if r := annaC.do("POST", "/api/v1/contacts/"+itoa(int(agren))+"/merge", map[string]any{"into_id": tulip}); r.Status != 422 && r.Status != 404 {
		t.Fatalf("merging a merged contact: %d", r.Status)
	}
}
