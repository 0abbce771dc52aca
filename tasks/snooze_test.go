package tasks

import (
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/postdesk/postdesk/tickets"
)

func TestSnoozeWakesThroughWorker(t *testing.T) {
	f := newFixture(t, true)
	anna := f.agent(tickets.RoleAgent)
	ch := f.channel(anna.ID)
	tk := f.ticket(anna, ch, tickets.NewTask{})
	until := time.Now().Add(1500 * time.Millisecond)
	if _, err := f.svc.Snooze(t.Context(), anna, tk.ID, &until, true); err != nil {
		t.Fatal(err)
	}
	if got := f.reload(tk.ID); got.SnoozedUntil == nil || got.Reminder {
		t.Fatalf("after snooze: %+v", got)
	}
	eventually(t, "the wake-up task", func() bool { return f.reload(tk.ID).SnoozedUntil == nil })
	got := f.reload(tk.ID)
	if !got.Reminder {
		t.Fatal("woken ticket is not marked as a reminder")
	}
	var woken tickets.TicketEvent
	if err := f.svc.DB.Where("ticket_id = ? AND kind = 'woken'", tk.ID).Take(&woken).Error; err != nil {
		t.Fatal(err)
	}
	if woken.CreatedAt.Before(until) {
		t.Fatalf("woke at %s, before its time %s", woken.CreatedAt, until)
	}
	if n := f.notifications(anna.ID, tk.ID, tickets.NotifySnoozeWakeup); n != 1 {
		t.Fatalf("%d wake-up notifications, want 1", n)
	}
	// The sweeper running afterwards finds nothing and notifies nobody again.
	if n, err := f.svc.WakeDueTickets(t.Context(), 100); err != nil || n != 0 {
		t.Fatalf("sweep after wake: %d %v", n, err)
	}
	if n := f.notifications(anna.ID, tk.ID, tickets.NotifySnoozeWakeup); n != 1 {
		t.Fatalf("%d wake-up notifications after sweep, want 1", n)
	}
}

func TestSnoozeSurvivesRedisFlush(t *testing.T) {
	f := newFixture(t, true)
	anna := f.agent(tickets.RoleAgent)
	bob := f.agent(tickets.RoleAgent)
	ch := f.channel(anna.ID, bob.ID)
	tk := f.ticket(anna, ch, tickets.NewTask{AssigneeID: &bob.ID})
	until := time.Now().Add(time.Second)
	if _, err := f.svc.Snooze(t.Context(), anna, tk.ID, &until, true); err != nil {
		t.Fatal(err)
	}
	if err := f.client.Redis().FlushDB(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(until) + 100*time.Millisecond)
	if f.reload(tk.ID).SnoozedUntil == nil {
		t.Fatal("woke although its task was flushed away before the sweep")
	}
	// The scheduler role would enqueue this every minute; enqueue it once here.
	if err := f.client.Enqueue(t.Context(), asynq.NewTask(TypeSnoozeSweep, nil), asynq.Queue(QueueLow)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the sweeper", func() bool { return f.reload(tk.ID).SnoozedUntil == nil })
	if !f.reload(tk.ID).Reminder {
		t.Fatal("swept ticket is not a reminder")
	}
	// The assignee is told, not the agent who snoozed it.
	if f.notifications(bob.ID, tk.ID, tickets.NotifySnoozeWakeup) != 1 || f.notifications(anna.ID, tk.ID, tickets.NotifySnoozeWakeup) != 0 {
		t.Fatal("wake-up notification went to the wrong agent")
	}
}

func TestResnoozeLaterMakesEarlierWakeNoop(t *testing.T) {
	f := newFixture(t, true)
	anna := f.agent(tickets.RoleAgent)
	ch := f.channel(anna.ID)
	tk := f.ticket(anna, ch, tickets.NewTask{})
	first := time.Now().Add(time.Second)
	if _, err := f.svc.Snooze(t.Context(), anna, tk.ID, &first, true); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if _, err := f.svc.Snooze(t.Context(), anna, tk.ID, &later, true); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspectorFromRedisClient(f.client.Redis())
	if _, err := insp.GetTaskInfo(QueueDefault, SnoozeTaskID(tk.ID, later)); err != nil {
		t.Fatalf("later wake-up not scheduled: %v", err)
	}
	// Wait until the worker has run (and so removed) the first wake-up task.
	eventually(t, "the first wake-up to run", func() bool {
		_, err := insp.GetTaskInfo(QueueDefault, SnoozeTaskID(tk.ID, first))
		return errors.Is(err, asynq.ErrTaskNotFound)
	})
	got := f.reload(tk.ID)
	if got.SnoozedUntil == nil || !got.SnoozedUntil.Equal(later.UTC().Truncate(time.Microsecond)) || got.Reminder {
		t.Fatalf("the stale wake-up changed the ticket: %+v", got)
	}
	if n := f.notifications(anna.ID, tk.ID, tickets.NotifySnoozeWakeup); n != 0 {
		t.Fatalf("%d notifications from a stale wake-up", n)
	}
}

func TestSnoozeBadInputAndManualWake(t *testing.T) {
	f := newFixture(t, false)
	anna := f.agent(tickets.RoleAgent)
	outsider := f.agent(tickets.RoleAgent)
	ch := f.channel(anna.ID)
	tk := f.ticket(anna, ch, tickets.NewTask{})
	past := time.Now().Add(-time.Minute)
	var ve *tickets.ValidationError
	if _, err := f.svc.Snooze(t.Context(), anna, tk.ID, nil, true); !errors.As(err, &ve) || ve.Fields["until"] == "" {
		t.Fatalf("no until: %v", err)
	}
	if _, err := f.svc.Snooze(t.Context(), anna, tk.ID, &past, true); !errors.As(err, &ve) || ve.Fields["until"] == "" {
		t.Fatalf("past until: %v", err)
	}
	future := time.Now().Add(time.Hour)
	if _, err := f.svc.Snooze(t.Context(), outsider, tk.ID, &future, true); !errors.Is(err, tickets.ErrNotFound) {
		t.Fatalf("outsider snooze: %v", err)
	}
	if got := f.reload(tk.ID); got.SnoozedUntil != nil {
		t.Fatal("rejected snooze changed the ticket")
	}
	if _, err := f.svc.Snooze(t.Context(), anna, tk.ID, &future, false); err != nil {
		t.Fatal(err)
	}
	if got := f.reload(tk.ID); got.WakeOnReply {
		t.Fatal("wake_on_reply false not stored")
	}
	if _, err := f.svc.Unsnooze(t.Context(), anna, tk.ID); err != nil {
		t.Fatal(err)
	}
	if got := f.reload(tk.ID); got.SnoozedUntil != nil || got.Reminder {
		t.Fatalf("manual wake: %+v", got)
	}
	// The wake-up scheduled for the hour does nothing when it comes.
	if woke, err := f.svc.WakeIfDue(t.Context(), tk.ID); err != nil || woke {
		t.Fatalf("wake after manual wake: %v %v", woke, err)
	}
}

func TestWakeOnReply(t *testing.T) {
	f := newFixture(t, false)
	anna := f.agent(tickets.RoleAgent)
	name, kind := "Support wake", tickets.ChannelEmail
	ms := []tickets.ChannelMember{{AgentID: anna.ID, Role: tickets.MemberRole}}
	ch, err := f.svc.CreateChannel(t.Context(), f.admin, tickets.ChannelInput{Name: &name, Kind: &kind, Members: &ms})
	if err != nil {
		t.Fatal(err)
	}
	open := func(wakeOnReply bool) *tickets.Ticket {
		tx := f.svc.DB.WithContext(t.Context())
		c, err := f.svc.ResolveContact(t.Context(), tx, "email", "customer@example.net", "Customer")
		if err != nil {
			t.Fatal(err)
		}
		tk, err := f.svc.OpenTicket(t.Context(), tx, tickets.NewTicket{ChannelID: ch.ID, Subject: "Question", ContactID: &c.ID})
		if err != nil {
			t.Fatal(err)
		}
		until := time.Now().Add(time.Hour)
		if _, err := f.svc.Snooze(t.Context(), anna, tk.ID, &until, wakeOnReply); err != nil {
			t.Fatal(err)
		}
		tk = f.reload(tk.ID)
		if err := f.svc.AddInboundMessage(t.Context(), tx, tk, &tickets.Message{BodyText: "any news?", ContactID: &c.ID}); err != nil {
			t.Fatal(err)
		}
		return f.reload(tk.ID)
	}
	if got := open(true); got.SnoozedUntil != nil {
		t.Fatal("reply did not wake a wake_on_reply ticket")
	}
	if got := open(false); got.SnoozedUntil == nil {
		t.Fatal("reply woke a ticket snoozed without wake_on_reply")
	}
}
