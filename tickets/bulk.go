package tickets

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// MaxBulk bounds one bulk change.
const MaxBulk = 500

// BulkUpdate applies the same change to every ticket in ids, all or nothing: one
// transaction, the tickets locked in id order (so two bulk changes over
// overlapping sets cannot deadlock), and the first refusal rolls everything back
// and names the ticket.
func (s *Service) BulkUpdate(ctx context.Context, a *Agent, ids []int64, c TicketChange) ([]*TicketUpdate, error) {
	var v Validator
	v.Check(len(ids) > 0, "ids", "is required")
	v.Check(len(ids) <= MaxBulk, "ids", fmt.Sprintf("at most %d tickets at once", MaxBulk))
	seen := map[int64]bool{}
	for _, id := range ids {
		v.Check(!seen[id], "ids", "lists a ticket twice")
		seen[id] = true
	}
	v.Check(!c.Empty(), "ids", "nothing to change")
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := c.normalise(); err != nil {
		return nil, err
	}
	var out []*TicketUpdate
	err := s.Transact(ctx, func(ctx context.Context, tx *gorm.DB) error {
		var ts []Ticket
		err := tx.Scopes(ChannelScope(a, "tickets.channel_id")).Clauses(lockForUpdate).
			Where("tickets.id IN ?", ids).Order("tickets.id").Find(&ts).Error
		if err != nil {
			return fmt.Errorf("lock tickets: %w", err)
		}
		if len(ts) != len(ids) {
			found := map[int64]bool{}
			for _, t := range ts {
				found[t.ID] = true
			}
			for _, id := range ids {
				if !found[id] {
					return Invalid("ids", fmt.Sprintf("ticket %d not found", id))
				}
			}
		}
		for i := range ts {
			up, err := s.applyChange(ctx, tx, a, &ts[i], c)
			if err != nil {
				return bulkError(ts[i].ID, err)
			}
			out = append(out, up)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// After commit, as UpdateTicket does: each ticket whose due date changed gets
	// reminders for the new date (the old ones find the date moved and send nothing).
	for _, up := range out {
		s.rescheduleDue(ctx, up.Ticket.ID, up.Changed)
	}
	return out, nil
}

// bulkError names the ticket a refusal is about, keeping the error's kind.
func bulkError(id int64, err error) error {
	var ve *ValidationError
	if errors.As(err, &ve) {
		fields := map[string]string{"ticket_id": fmt.Sprint(id)}
		for k, m := range ve.Fields {
			fields[k] = fmt.Sprintf("ticket %d: %s", id, m)
		}
		return &ValidationError{Message: ve.Message, Fields: fields}
	}
	return fmt.Errorf("ticket %d: %w", id, err)
}
