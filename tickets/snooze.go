package tickets

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Snooze hides a ticket agent a can see from the queue until `until`. With
// wakeOnReply an inbound message wakes it early (AddInboundMessage). Snoozing a
// snoozed ticket moves its wake-up; the wake-up scheduled before becomes a no-op
// because waking re-reads snoozed_until.
func (s *Service) Snooze(ctx context.Context, a *Agent, ticketID int64, until *time.Time, wakeOnReply bool) (*Ticket, error) {
	if until == nil {
		return nil, Invalid("until", "is required")
	}
	at := until.UTC()
	if !at.After(s.now()) {
		return nil, Invalid("until", "must be in the future")
	}
	if _, err := s.VisibleTicket(ctx, a, ticketID); err != nil {
		return nil, err
	}
	var t Ticket
	err := s.Transact(ctx, func(ctx context.Context, tx *gorm.DB) error {
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&t, ticketID).Error; err != nil {
			return notFound(err, "ticket %d", ticketID)
		}
		if t.Status == StatusClosed || t.MergedIntoID != nil {
			return Invalid("status", "a closed ticket cannot be snoozed")
		}
		old := ""
		if t.SnoozedUntil != nil {
			old = t.SnoozedUntil.UTC().Format(time.RFC3339)
		}
		err := tx.Model(&t).Updates(map[string]any{"snoozed_until": at, "snoozed_by_id": a.ID,
			"wake_on_reply": wakeOnReply, "reminder": false, "updated_at": s.now()}).Error
		if err != nil {
			return fmt.Errorf("snooze ticket %d: %w", ticketID, err)
		}
		if err := RecordEvent(tx, t.ID, &a.ID, "snoozed", old, at.Format(time.RFC3339),
			JSONMap{"wake_on_reply": wakeOnReply}); err != nil {
			return err
		}
		s.PublishAfterCommit(ctx, LiveEvent{Kind: "ticket.updated", ChannelID: t.ChannelID, TicketID: t.ID})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.Scheduler != nil {
		if err := s.Scheduler.ScheduleWake(ctx, t.ID, at); err != nil {
			logScheduleError("snooze wake-up", t.ID, err)
		}
	}
	return &t, nil
}

// Unsnooze wakes a ticket now at an agent's request. The agent chose to see it, so
// it is not marked as a reminder and nobody is notified. Waking an unsnoozed
// ticket changes nothing.
func (s *Service) Unsnooze(ctx context.Context, a *Agent, ticketID int64) (*Ticket, error) {
	if _, err := s.VisibleTicket(ctx, a, ticketID); err != nil {
		return nil, err
	}
	var t Ticket
	err := s.Transact(ctx, func(ctx context.Context, tx *gorm.DB) error {
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&t, ticketID).Error; err != nil {
			return notFound(err, "ticket %d", ticketID)
		}
		if t.SnoozedUntil == nil {
			return nil
		}
		old := t.SnoozedUntil.UTC().Format(time.RFC3339)
		if err := tx.Model(&t).Updates(map[string]any{"snoozed_until": nil, "reminder": false,
			"updated_at": s.now()}).Error; err != nil {
			return fmt.Errorf("wake ticket %d: %w", ticketID, err)
		}
		if err := RecordEvent(tx, t.ID, &a.ID, "woken", old, "", JSONMap{"reason": "woken by agent"}); err != nil {
			return err
		}
		s.PublishAfterCommit(ctx, LiveEvent{Kind: "ticket.updated", ChannelID: t.ChannelID, TicketID: t.ID})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// WakeIfDue wakes ticketID when its snooze has run out: the ticket returns to the
// queue marked as a reminder and its assignee (or, without one, whoever snoozed
// it) is notified. A ticket snoozed again to a later time, already woken, or never
// snoozed is left alone, so a stale or repeated wake-up is harmless. It reports
// whether it woke the ticket.
func (s *Service) WakeIfDue(ctx context.Context, ticketID int64) (bool, error) {
	woke := false
	err := s.Transact(ctx, func(ctx context.Context, tx *gorm.DB) error {
		var t Ticket
		// The conditional update is the lock: of a wake-up task and a sweeper racing,
		// exactly one sees a row.
		res := tx.Raw(`UPDATE tickets SET snoozed_until = NULL, reminder = true, updated_at = ?
			WHERE id = ? AND snoozed_until IS NOT NULL AND snoozed_until <= ?
			RETURNING *`,
			s.now(), ticketID, s.now()).Scan(&t)
		if res.Error != nil {
			return fmt.Errorf("wake ticket %d: %w", ticketID, res.Error)
		}
		if res.RowsAffected == 0 {
			return nil
		}
		woke = true
		if err := RecordEvent(tx, t.ID, nil, "woken", "", "", JSONMap{"reason": "snooze ended"}); err != nil {
			return err
		}
		to := t.AssigneeID
		if to == nil {
			to = t.SnoozedByID
		}
		if to != nil {
			if err := s.Notify(ctx, tx, Notification{AgentID: *to, Kind: NotifySnoozeWakeup, TicketID: &t.ID,
				Data: JSONMap{"subject": t.Subject}}); err != nil {
				return err
			}
		}
		s.PublishAfterCommit(ctx, LiveEvent{Kind: "ticket.updated", ChannelID: t.ChannelID, TicketID: t.ID})
		return nil
	})
	return woke, err
}

// WakeDueTickets wakes up to limit tickets whose snooze has run out. The periodic
// sweeper calls it, so wake-ups lost with Redis still happen.
func (s *Service) WakeDueTickets(ctx context.Context, limit int) (int, error) {
	var ids []int64
	err := s.DB.WithContext(ctx).Model(&Ticket{}).Where("snoozed_until IS NOT NULL AND snoozed_until <= ?", s.now()).
		Order("snoozed_until").Limit(limit).Pluck("id", &ids).Error
	if err != nil {
		return 0, fmt.Errorf("due snoozes: %w", err)
	}
	n := 0
	for _, id := range ids {
		woke, err := s.WakeIfDue(ctx, id)
		if err != nil {
			return n, err
		}
		if woke {
			n++
		}
	}
	return n, nil
}
