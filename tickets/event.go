package tickets

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// RecordEvent appends an entry to a ticket's timeline inside tx. agentID is nil for
// changes made by the system (mail arrival, a snooze running out).
func RecordEvent(tx *gorm.DB, ticketID int64, agentID *int64, kind, oldValue, newValue string, data JSONMap) error {
	ev := &TicketEvent{TicketID: ticketID, AgentID: agentID, Kind: kind, OldValue: oldValue, NewValue: newValue, Data: data}
	if ev.Data == nil {
		ev.Data = JSONMap{}
	}
	if err := tx.Create(ev).Error; err != nil {
		return fmt.Errorf("record %s event on ticket %d: %w", kind, ticketID, err)
	}
	return nil
}

// MaxTimeline bounds how many events Events returns (the oldest first).
const MaxTimeline = 5000

// TimelineEvent is an event with the acting agent's name, as the timeline shows it.
type TimelineEvent struct {
	TicketEvent
	AgentName string `json:"agent_name"`
}

// Events returns the timeline of a ticket agent a can see, oldest first.
func (s *Service) Events(ctx context.Context, a *Agent, ticketID int64) ([]TimelineEvent, error) {
	if _, err := s.VisibleTicket(ctx, a, ticketID); err != nil {
		return nil, err
	}
	var out []TimelineEvent
	err := s.DB.WithContext(ctx).Raw(`SELECT e.*, COALESCE(ag.name, '') AS agent_name
		FROM ticket_events e LEFT JOIN agents ag ON ag.id = e.agent_id
		WHERE e.ticket_id = ? ORDER BY e.id LIMIT ?`, ticketID, MaxTimeline).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("events of ticket %d: %w", ticketID, err)
	}
	return out, nil
}
