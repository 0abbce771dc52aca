package tickets

import (
	"context"
	"log/slog"
	"time"
)

// Scheduler is how the domain asks for work at a later time without importing the
// queue. Scheduling is an optimisation for punctuality: the periodic sweepers in
// tasks/ find everything due from Postgres, so a failed or lost schedule delays a
// wake-up or reminder by at most one sweep and never loses it.
type Scheduler interface {
	// ScheduleWake wakes ticketID at `at` (its snoozed_until).
	ScheduleWake(ctx context.Context, ticketID int64, at time.Time) error
	// ScheduleDueReminder arranges the reminders for ticketID's due date dueAt.
	ScheduleDueReminder(ctx context.Context, ticketID int64, dueAt time.Time) error
}

func logScheduleError(what string, ticketID int64, err error) {
	slog.Warn("schedule "+what+"; the sweeper will catch it", "ticket_id", ticketID, "err", err)
}
