package tickets

import (
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
