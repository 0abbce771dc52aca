package tasks

import (
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/postdesk/postdesk/tickets"
)

func TestDueRemindersThroughWorker(t *testing.T) {
	f := newFixture(t, true)
	anna := f.agent(tickets.RoleAgent)
	bob := f.agent(tickets.RoleAgent)
	ch := f.channel(anna.ID, bob.ID)
	if err := f.svc.SetMember(t.Context(), f.admin, ch, bob.ID, tickets.ResponsibleRole); err != nil {
		t.Fatal(err)
	}
	// Due in two seconds with a one-hour lead: the reminder is due at once, the
	// "passed" notice at the due date.
	due := time.Now().Add(2 * time.Second)
	tk := f.ticket(anna, ch, tickets.NewTask{DueAt: &due})
	eventually(t, "the reminder", func() bool { return f.notifications(anna.ID, tk.ID, tickets.NotifyDueReminder) == 1 })
	eventually(t, "the due-passed notice", func() bool { return f.notifications(anna.ID, tk.ID, tickets.NotifyDuePassed) == 1 })
	if f.notifications(bob.ID, tk.ID, tickets.NotifyDuePassed) != 1 {
		t.Fatal("the channel's responsible agent was not told")
	}
	// Running everything again sends nothing twice.
	if n, err := f.svc.SweepDueReminders(t.Context(), time.Hour, 100); err != nil || n != 0 {
		t.Fatalf("sweep after reminders: %d %v", n, err)
	}
	if kind, err := f.svc.SendDueReminders(t.Context(), tk.ID, time.Hour); err != nil || kind != "" {
		t.Fatalf("resend: %q %v", kind, err)
	}
	if f.notifications(anna.ID, tk.ID, tickets.NotifyDueReminder) != 1 || f.notifications(anna.ID, tk.ID, tickets.NotifyDuePassed) != 1 {
		t.Fatal("a reminder was sent twice")
	}
}

func TestDueSweeperAfterRedisFlush(t *testing.T) {
	f := newFixture(t, true)
	anna := f.agent(tickets.RoleAgent)
	ch := f.channel(anna.ID)
	f.svc.Scheduler = nil                    // nothing scheduled: as if Redis had been flushed
	soon := time.Now().Add(30 * time.Minute) // within the hour's lead
	later := time.Now().Add(3 * time.Hour)   // not yet
	past := time.Now().Add(-time.Hour)       // created late: only "passed", no reminder
	a := f.ticket(anna, ch, tickets.NewTask{DueAt: &soon})
	b := f.ticket(anna, ch, tickets.NewTask{DueAt: &later})
	c := f.ticket(anna, ch, tickets.NewTask{DueAt: &past})
	done := f.ticket(anna, ch, tickets.NewTask{DueAt: &past})
	f.svc.DB.Model(&tickets.Ticket{}).Where("id = ?", done.ID).Update("status", tickets.StatusResolved)
	if err := f.client.Enqueue(t.Context(), asynq.NewTask(TypeDueSweep, nil), asynq.Queue(QueueLow)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the sweep", func() bool { return f.notifications(anna.ID, c.ID, tickets.NotifyDuePassed) == 1 })
	eventually(t, "the sweep", func() bool { return f.notifications(anna.ID, a.ID, tickets.NotifyDueReminder) == 1 })
	if f.notifications(anna.ID, b.ID, tickets.NotifyDueReminder) != 0 {
		t.Fatal("reminded three hours early")
	}
	if f.notifications(anna.ID, c.ID, tickets.NotifyDueReminder) != 0 {
		t.Fatal("a reminder sent after the due date passed")
	}
	if f.notifications(anna.ID, done.ID, tickets.NotifyDuePassed) != 0 {
		t.Fatal("a resolved ticket was reminded")
	}
	// A new due date gets reminders of its own.
	moved := time.Now().Add(-time.Minute)
	f.svc.DB.Model(&tickets.Ticket{}).Where("id = ?", c.ID).Update("due_at", moved)
	if kind, err := f.svc.SendDueReminders(t.Context(), c.ID, time.Hour); err != nil || kind != tickets.NotifyDuePassed {
		t.Fatalf("new due date: %q %v", kind, err)
	}
}

// A bulk change of due dates schedules each ticket's reminders as the single PATCH
// does: both tasks, under the ids of the new due date.
func TestBulkDueChangeSchedulesReminders(t *testing.T) {
	f := newFixture(t, false) // no worker: the scheduled tasks stay in Redis to be inspected
	anna := f.agent(tickets.RoleAgent)
	ch := f.channel(anna.ID)
	insp := asynq.NewInspectorFromRedisClient(f.client.Redis())
	scheduled := func(id int64) []string {
		tk := f.reload(id)
		if tk.DueAt == nil {
			t.Fatalf("ticket %d has no due date", id)
		}
		var missing []string
		for _, kind := range []string{tickets.NotifyDueReminder, tickets.NotifyDuePassed} {
			if _, err := insp.GetTaskInfo(QueueDefault, DueTaskID(id, *tk.DueAt, kind)); err != nil {
				missing = append(missing, kind)
			}
		}
		return missing
	}
	due := time.Now().Add(3 * time.Hour)
	dueRef := &due
	single := f.ticket(anna, ch, tickets.NewTask{})
	if _, err := f.svc.UpdateTicket(t.Context(), anna, single.ID, tickets.TicketChange{DueAt: &dueRef}); err != nil {
		t.Fatal(err)
	}
	if missing := scheduled(single.ID); len(missing) > 0 {
		t.Fatalf("PATCH did not schedule %v", missing)
	}
	a, b := f.ticket(anna, ch, tickets.NewTask{}), f.ticket(anna, ch, tickets.NewTask{})
	if _, err := f.svc.BulkUpdate(t.Context(), anna, []int64{a.ID, b.ID}, tickets.TicketChange{DueAt: &dueRef}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{a.ID, b.ID} {
		if missing := scheduled(id); len(missing) > 0 {
			t.Fatalf("bulk change did not schedule %v for ticket %d", missing, id)
		}
	}
	// Moving the date again schedules the new date's reminders too.
	later := due.Add(24 * time.Hour)
	laterRef := &later
	if _, err := f.svc.BulkUpdate(t.Context(), anna, []int64{a.ID}, tickets.TicketChange{DueAt: &laterRef}); err != nil {
		t.Fatal(err)
	}
	if missing := scheduled(a.ID); len(missing) > 0 {
		t.Fatalf("moved due date: %v not scheduled", missing)
	}
}
