package tickets

import (
	"context"
	"fmt"
)

// TicketDetail is one ticket with everything its page shows.
type TicketDetail struct {
	TicketListItem
	Messages  []Message       `json:"messages"`
	Checklist []ChecklistItem `json:"checklist"`
	Contact   *Contact        `json:"contact"`
}

// TicketDetail loads ticket id for agent a. With markRead it records that a has seen
// it, using the arrival counter read before the messages, so a message committed in
// between still leaves the ticket unread. Unread in the result is the state before
// this read.
func (s *Service) TicketDetail(ctx context.Context, a *Agent, id int64, markRead bool) (*TicketDetail, error) {
	item, err := s.TicketItem(ctx, a, id)
	if err != nil {
		return nil, err
	}
	d := &TicketDetail{TicketListItem: *item, Messages: []Message{}, Checklist: []ChecklistItem{}}
	db := s.DB.WithContext(ctx)
	if err := db.Preload("Attachments").Where("ticket_id = ?", id).Order("id").Find(&d.Messages).Error; err != nil {
		return nil, fmt.Errorf("ticket %d messages: %w", id, err)
	}
	if err := db.Where("ticket_id = ?", id).Order("position, id").Find(&d.Checklist).Error; err != nil {
		return nil, fmt.Errorf("ticket %d checklist: %w", id, err)
	}
	if d.ContactID != nil {
		var c Contact
		if err := db.Preload("Identities").Take(&c, *d.ContactID).Error; err != nil {
			return nil, notFound(err, "ticket %d contact", id)
		}
		d.Contact = &c
	}
	if markRead {
		if err := s.markSeen(db, a.ID, id, d.ActivitySeq); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// TicketItem loads ticket id as listings show it, for agent a.
func (s *Service) TicketItem(ctx context.Context, a *Agent, id int64) (*TicketListItem, error) {
	scope, args := ChannelScopeSQL(a, "t.channel_id")
	var items []TicketListItem
	err := s.DB.WithContext(ctx).Raw(`SELECT t.*, `+unreadSQL+` AS unread, COALESCE(c.name, '') AS contact_name
FROM tickets t
LEFT JOIN ticket_reads r ON r.agent_id = ? AND r.ticket_id = t.id
LEFT JOIN contacts c ON c.id = t.contact_id
WHERE t.id = ? AND `+scope, append([]any{a.ID, id}, args...)...).Scan(&items).Error
	if err != nil {
		return nil, fmt.Errorf("ticket %d: %w", id, err)
	}
	if len(items) == 0 {
		return nil, ErrNotFound
	}
	if err := s.decorate(ctx, items); err != nil {
		return nil, err
	}
	return &items[0], nil
}
