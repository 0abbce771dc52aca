package tickets

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// CustomerServiceWindow is WhatsApp's rule: free-form replies only within 24 hours
// of the customer's last message; after that only approved template messages.
const CustomerServiceWindow = 24 * time.Hour

// MessengerTemplate is a provider-approved message template sent instead of free
// text (WhatsApp outside the customer-service window).
type MessengerTemplate struct {
	Name     string   `json:"name"`
	Language string   `json:"language"`
	Params   []string `json:"params,omitempty"`
}

// MessengerWindowOpen reports whether the customer wrote on ticketID through the
// connection within the 24 hours before now.
func MessengerWindowOpen(ctx context.Context, db *gorm.DB, connectionID, ticketID int64, now time.Time) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Model(&Message{}).
		Where("ticket_id = ? AND messenger_connection_id = ? AND direction = ? AND created_at > ?",
			ticketID, connectionID, DirectionInbound, now.Add(-CustomerServiceWindow)).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("customer-service window: %w", err)
	}
	return n > 0, nil
}

// checkMessengerWindow refuses free text on a WhatsApp conversation whose window
// has closed, before anything is queued, so the agent sees why at once (422).
func (s *Service) checkMessengerWindow(tx *gorm.DB, t *Ticket, tpl *MessengerTemplate) error {
	if tpl != nil {
		var v Validator
		v.Check(strings.TrimSpace(tpl.Name) != "", "template.name", "is required")
		v.Check(strings.TrimSpace(tpl.Language) != "", "template.language", "is required")
		return v.Err()
	}
	var provider string
	if err := tx.Table("messenger_connections").Where("id = ?", *t.MessengerConnectionID).
		Pluck("provider", &provider).Error; err != nil {
		return fmt.Errorf("connection of ticket %d: %w", t.ID, err)
	}
	if provider != "whatsapp" {
		return nil
	}
	open, err := MessengerWindowOpen(tx.Statement.Context, tx, *t.MessengerConnectionID, t.ID, s.now())
	if err != nil {
		return err
	}
	if !open {
		return &ValidationError{Message: "the customer last wrote more than 24 hours ago: WhatsApp only accepts " +
			"an approved template message now", Fields: map[string]string{
			"template": "is required outside WhatsApp's 24-hour customer-service window"}}
	}
	return nil
}

// storeMessengerTemplate attaches the template to the outbound message row.
func storeMessengerTemplate(tx *gorm.DB, messageID int64, tpl *MessengerTemplate) error {
	if tpl == nil {
		return nil
	}
	b, _ := json.Marshal(tpl)
	if err := tx.Exec("UPDATE messages SET messenger_template = ?::jsonb WHERE id = ?", string(b), messageID).Error; err != nil {
		return fmt.Errorf("store template of message %d: %w", messageID, err)
	}
	return nil
}
