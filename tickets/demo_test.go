package tickets_test

import (
	"context"
	"testing"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tickets"
)

func TestLoadDemo(t *testing.T) {
	ctx := context.Background()
	svc := tickets.NewService(testenv.DB(t))
	if err := svc.LoadDemo(ctx, "flowers and more flowers"); err != nil {
		t.Fatal(err)
	}
	anna, err := svc.Authenticate(ctx, "anna@flowers.example", "flowers and more flowers")
	if err != nil {
		t.Fatal(err)
	}
	ben, err := svc.AgentByEmail(ctx, "ben@flowers.example")
	if err != nil {
		t.Fatal(err)
	}
	chans, err := svc.Channels(ctx, anna)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]tickets.Channel{}
	for _, c := range chans {
		byName[c.Name] = c
	}
	for _, n := range []string{"Customers", "Bookkeeping", "Purchases", "Events", "Planning"} {
		if _, ok := byName[n]; !ok {
			t.Fatalf("channel %s missing", n)
		}
	}
	// Events assigns everything to Anna; Ben sees and can answer it.
	events := byName["Events"].ID
	page, err := svc.ListTickets(ctx, ben, tickets.TicketFilter{ChannelID: &events})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 {
		t.Fatalf("events queue for ben: %d tickets", len(page.Items))
	}
	for _, it := range page.Items {
		if it.AssigneeID == nil || *it.AssigneeID != anna.ID {
			t.Fatalf("events ticket %q assigned to %v", it.Subject, it.AssigneeID)
		}
	}
	// Ben is not in Bookkeeping: its tickets are not his to see.
	book := byName["Bookkeeping"].ID
	if page, err := svc.ListTickets(ctx, ben, tickets.TicketFilter{ChannelID: &book}); err != nil || len(page.Items) != 0 {
		t.Fatalf("ben sees bookkeeping: %v %v", page, err)
	}
	// A living inbox: unread work, an overdue invoice, a snoozed ticket, tasks with checklists.
	v, _, err := svc.Sidebar(ctx, anna)
	if err != nil {
		t.Fatal(err)
	}
	if v.AllOpen < 8 || v.Unread < 5 || v.Overdue < 1 || v.Snoozed != 1 {
		t.Fatalf("sidebar %+v", v)
	}
	plan := byName["Planning"].ID
	page, err = svc.ListTickets(ctx, anna, tickets.TicketFilter{ChannelID: &plan, Kind: "task"})
	if err != nil || len(page.Items) != 4 || page.Items[0].ChecklistTotal == 0 {
		t.Fatalf("planning: %+v %v", page, err)
	}
	if page, err := svc.ListTickets(ctx, anna, tickets.TicketFilter{Query: "渋谷区"}); err != nil || len(page.Items) != 1 {
		t.Fatalf("japanese search: %+v %v", page, err)
	}
	if err := svc.LoadDemo(ctx, "flowers and more flowers"); err == nil {
		t.Fatal("second load accepted")
	}
}
