package tasks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Snooze wake-ups. Each snooze enqueues one task at its `until`, with an id made
// of the ticket and that time: snoozing again to another time schedules a new
// task, and the old one finds the ticket not due and does nothing. The sweeper
// wakes anything due from Postgres, so a flushed Redis loses no wake-up.
const (
	TypeSnoozeWake  = "ticket:snooze_wake"
	TypeSnoozeSweep = "ticket:snooze_sweep"
)

// SweepEvery is how often the sweepers look for overdue wake-ups and reminders.
const SweepEvery = time.Minute

type snoozePayload struct {
	TicketID int64     `json:"ticket_id"`
	Until    time.Time `json:"until"`
}

// Scheduler implements tickets.Scheduler on the asynq queue.
type Scheduler struct {
	Client *Client
	// DueLead is how long before a due date the reminder is sent.
	DueLead time.Duration
}

// SnoozeTaskID is the deterministic id of the wake-up of ticketID at `at`.
func SnoozeTaskID(ticketID int64, at time.Time) string {
	return fmt.Sprintf("snooze:%d:%d", ticketID, at.UTC().UnixNano())
}

// ScheduleWake enqueues the wake-up of ticketID at `at`.
func (s *Scheduler) ScheduleWake(ctx context.Context, ticketID int64, at time.Time) error {
	b, _ := json.Marshal(snoozePayload{TicketID: ticketID, Until: at.UTC()})
	return s.Client.Enqueue(ctx, asynq.NewTask(TypeSnoozeWake, b), processAt(at),
		asynq.TaskID(SnoozeTaskID(ticketID, at)), asynq.Queue(QueueDefault), asynq.MaxRetry(10))
}

func registerSnooze(w *Worker, d Deps) {
	w.Handle(TypeSnoozeWake, func(ctx context.Context, t *asynq.Task) error {
		var p snoozePayload
		if err := json.Unmarshal(t.Payload(), &p); err != nil {
			return fmt.Errorf("%s payload: %w: %w", TypeSnoozeWake, err, asynq.SkipRetry)
		}
		_, err := d.Tickets.WakeIfDue(ctx, p.TicketID)
		return err
	})
	w.Handle(TypeSnoozeSweep, func(ctx context.Context, t *asynq.Task) error {
		n, err := d.Tickets.WakeDueTickets(ctx, 500)
		if n > 0 {
			d.Log.Info("snooze sweep woke tickets", "count", n)
		}
		return err
	})
	w.Every(Periodic{Every: SweepEvery, Task: asynq.NewTask(TypeSnoozeSweep, nil)})
}

// processAt schedules a task no earlier than at. asynq keeps scheduled times in
// whole seconds and runs a task once that second has begun, which can be up to a
// second before at; the handler would then find the ticket not yet due. Rounding
// up to the next second keeps "on time" from meaning "a little early".
func processAt(at time.Time) asynq.Option {
	if r := at.Truncate(time.Second); !r.Equal(at) {
		at = r.Add(time.Second)
	}
	return asynq.ProcessAt(at)
}
