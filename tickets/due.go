package tickets

import (
	"context"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
)

// DefaultDueLead is how long before a due date the first reminder goes out.
const DefaultDueLead = time.Hour

// maxLateReminder bounds how far back the sweeper looks for due dates that passed
// without a reminder (the system was down): older ones are not worth a late ping,
// and the bound keeps the sweep on a short stretch of the due-date index.
const maxLateReminder = 7 * 24 * time.Hour

// ScheduleDue asks the scheduler for t's due-date reminders. Call it after a due
// date is set or changed (and committed). Failures only delay reminders until the
// next sweep.
func (s *Service) ScheduleDue(ctx context.Context, t *Ticket) {
	if s.Scheduler == nil || t.DueAt == nil {
		return
	}
	if err := s.Scheduler.ScheduleDueReminder(ctx, t.ID, *t.DueAt); err != nil {
		logScheduleError("due reminder", t.ID, err)
	}
}

// rescheduleDue schedules the reminders of a ticket whose change touched due_at.
func (s *Service) rescheduleDue(ctx context.Context, ticketID int64, changed []string) {
	if s.Scheduler == nil || !slices.Contains(changed, "due_at") {
		return
	}
	var t Ticket
	if err := s.DB.WithContext(ctx).Take(&t, ticketID).Error; err == nil {
		s.ScheduleDue(ctx, &t)
	}
}

// SendDueReminders sends what is due for ticketID's due date now: a reminder once
// within lead of the due date, and a "passed" notice once it has passed. Each is
// recorded per due date and sent at most once; a finished ticket gets none. The
// assignee and the channel's responsible agents are notified. It returns the kind
// sent, or "" when nothing was due.
func (s *Service) SendDueReminders(ctx context.Context, ticketID int64, lead time.Duration) (string, error) {
	if lead <= 0 {
		lead = DefaultDueLead
	}
	sent := ""
	err := s.Transact(ctx, func(ctx context.Context, tx *gorm.DB) error {
		var t Ticket
		if err := tx.Take(&t, ticketID).Error; err != nil {
			return notFound(err, "ticket %d", ticketID)
		}
		if t.DueAt == nil || !(t.Status == StatusNew || t.Status == StatusOpen || t.Status == StatusPending) {
			return nil
		}
		now := s.now()
		due := t.DueAt.UTC()
		kind := ""
		switch {
		case !now.Before(due):
			kind = NotifyDuePassed
		case !now.Before(due.Add(-lead)):
			kind = NotifyDueReminder
		default:
			return nil
		}
		res := tx.Exec(`INSERT INTO ticket_reminders (ticket_id, kind, due_at, sent_at) VALUES (?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, t.ID, kind, due, now)
		if res.Error != nil {
			return fmt.Errorf("record %s for ticket %d: %w", kind, t.ID, res.Error)
		}
		if res.RowsAffected == 0 {
			return nil // already sent
		}
		if kind == NotifyDuePassed {
			// A reminder that never went out (created already late, or the worker
			// was down) is superseded: do not send it after the "passed" notice.
			if err := tx.Exec(`INSERT INTO ticket_reminders (ticket_id, kind, due_at, sent_at) VALUES (?, ?, ?, ?)
				ON CONFLICT DO NOTHING`, t.ID, NotifyDueReminder, due, now).Error; err != nil {
				return fmt.Errorf("record reminder for ticket %d: %w", t.ID, err)
			}
		}
		ids, err := responsibleIDs(tx, t.ChannelID)
		if err != nil {
			return err
		}
		if t.AssigneeID != nil {
			ids = append([]int64{*t.AssigneeID}, ids...)
		}
		sent = kind
		if err := RecordEvent(tx, t.ID, nil, kind, "", due.Format(time.RFC3339), nil); err != nil {
			return err
		}
		return s.notifyMany(ctx, tx, ids, nil, Notification{Kind: kind, TicketID: &t.ID,
			Data: JSONMap{"subject": t.Subject, "due_at": due.Format(time.RFC3339)}})
	})
	return sent, err
}

// SweepDueReminders sends every due-date reminder that is due and was not sent
// (its scheduled task was lost with Redis, or never scheduled), up to limit
// tickets. It returns how many were sent.
func (s *Service) SweepDueReminders(ctx context.Context, lead time.Duration, limit int) (int, error) {
	if lead <= 0 {
		lead = DefaultDueLead
	}
	now := s.now()
	var ids []int64
	err := s.DB.WithContext(ctx).Raw(`SELECT t.id FROM tickets t
		WHERE t.due_at IS NOT NULL AND t.status IN ('new', 'open', 'pending')
		  AND t.due_at <= ? AND t.due_at > ?
		  AND NOT EXISTS (SELECT 1 FROM ticket_reminders r WHERE r.ticket_id = t.id AND r.due_at = t.due_at
		                  AND r.kind = CASE WHEN t.due_at <= ? THEN 'due_passed' ELSE 'due_reminder' END)
		ORDER BY t.due_at LIMIT ?`, now.Add(lead), now.Add(-maxLateReminder), now, limit).Scan(&ids).Error
	if err != nil {
		return 0, fmt.Errorf("due reminders: %w", err)
	}
	n := 0
	for _, id := range ids {
		kind, err := s.SendDueReminders(ctx, id, lead)
		if err != nil {
			return n, err
		}
		if kind != "" {
			n++
		}
	}
	return n, nil
}
