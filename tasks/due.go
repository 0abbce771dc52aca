package tasks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/postdesk/postdesk/tickets"
)

// Due-date reminders: one task at due - lead and one at the due date, each with an
// id made of the ticket, the due date and the kind, so changing the due date
// schedules new ones. The handler re-reads the ticket and sends what is due now;
// ticket_reminders records what was sent, so nothing goes out twice. The sweeper
// sends whatever the tasks missed.
const (
	TypeDueReminder = "ticket:due_reminder"
	TypeDueSweep    = "ticket:due_sweep"
)

type duePayload struct {
	TicketID int64     `json:"ticket_id"`
	DueAt    time.Time `json:"due_at"`
}

// DueTaskID is the deterministic id of one of ticketID's reminders for dueAt.
func DueTaskID(ticketID int64, dueAt time.Time, kind string) string {
	return fmt.Sprintf("due:%d:%d:%s", ticketID, dueAt.UTC().UnixNano(), kind)
}

func (s *Scheduler) lead() time.Duration {
	if s.DueLead <= 0 {
		return tickets.DefaultDueLead
	}
	return s.DueLead
}

// ScheduleDueReminder enqueues the reminder (at dueAt - lead) and the "passed"
// notice (at dueAt). A time already past runs at once.
func (s *Scheduler) ScheduleDueReminder(ctx context.Context, ticketID int64, dueAt time.Time) error {
	b, _ := json.Marshal(duePayload{TicketID: ticketID, DueAt: dueAt.UTC()})
	for kind, at := range map[string]time.Time{tickets.NotifyDueReminder: dueAt.Add(-s.lead()), tickets.NotifyDuePassed: dueAt} {
		err := s.Client.Enqueue(ctx, asynq.NewTask(TypeDueReminder, b), processAt(at),
			asynq.TaskID(DueTaskID(ticketID, dueAt, kind)), asynq.Queue(QueueDefault), asynq.MaxRetry(10))
		if err != nil {
			return err
		}
	}
	return nil
}

func registerDue(w *Worker, d Deps) {
	w.Handle(TypeDueReminder, func(ctx context.Context, t *asynq.Task) error {
		var p duePayload
		if err := json.Unmarshal(t.Payload(), &p); err != nil {
			return fmt.Errorf("%s payload: %w: %w", TypeDueReminder, err, asynq.SkipRetry)
		}
		_, err := d.Tickets.SendDueReminders(ctx, p.TicketID, d.DueLead)
		if err == tickets.ErrNotFound {
			return nil // the ticket was deleted
		}
		return err
	})
	w.Handle(TypeDueSweep, func(ctx context.Context, t *asynq.Task) error {
		n, err := d.Tickets.SweepDueReminders(ctx, d.DueLead, 500)
		if n > 0 {
			d.Log.Info("due sweep sent reminders", "count", n)
		}
		return err
	})
	w.Every(Periodic{Every: SweepEvery, Task: asynq.NewTask(TypeDueSweep, nil)})
}
