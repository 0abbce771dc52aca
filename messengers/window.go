package messengers

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/postdesk/postdesk/tickets"
)

// CustomerServiceWindow is WhatsApp's rule: free-form replies only within 24 hours
// of the customer's last message; after that only approved templates.
const CustomerServiceWindow = 24 * time.Hour

// WindowOpen reports whether the customer wrote on ticketID through the connection
// within the last 24 hours (before now).
func WindowOpen(ctx context.Context, db *gorm.DB, connectionID, ticketID int64, now time.Time) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Model(&tickets.Message{}).
		Where("ticket_id = ? AND messenger_connection_id = ? AND direction = ? AND created_at > ?",
			ticketID, connectionID, tickets.DirectionInbound, now.Add(-CustomerServiceWindow)).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("customer-service window: %w", err)
	}
	return n > 0, nil
}

// CheckWindow returns ErrOutsideWindow when a free-form reply may not be sent.
func CheckWindow(ctx context.Context, db *gorm.DB, connectionID, ticketID int64, now time.Time) error {
	open, err := WindowOpen(ctx, db, connectionID, ticketID, now)
	if err != nil {
		return err
	}
	if !open {
		return ErrOutsideWindow
	}
	return nil
}

// NeedsTemplate reports whether a reply on ticket t must be a template: the ticket
// came through a WhatsApp connection whose window is closed. The reply API calls
// this to answer 422 before queueing anything.
func NeedsTemplate(ctx context.Context, db *gorm.DB, t *tickets.Ticket, now time.Time) (bool, error) {
	if t.MessengerConnectionID == nil {
		return false, nil
	}
	var provider string
	db.WithContext(ctx).Table("messenger_connections").Where("id = ?", *t.MessengerConnectionID).
		Pluck("provider", &provider)
	if provider != "whatsapp" {
		return false, nil
	}
	open, err := WindowOpen(ctx, db, *t.MessengerConnectionID, t.ID, now)
	return !open, err
}

// MessageTemplate reads the provider template attached to an outbound message
// (nil when it is free text).
func MessageTemplate(ctx context.Context, db *gorm.DB, messageID int64) (*Template, error) {
	var raw string
	err := db.WithContext(ctx).Raw("SELECT messenger_template::text FROM messages WHERE id = ?", messageID).Scan(&raw).Error
	if err != nil {
		return nil, fmt.Errorf("message %d template: %w", messageID, err)
	}
	var t Template
	if raw == "" || raw == "{}" {
		return nil, nil
	}
	if err := json.Unmarshal([]byte(raw), &t); err != nil {
		return nil, fmt.Errorf("message %d template: %w", messageID, err)
	}
	if t.Name == "" {
		return nil, nil
	}
	return &t, nil
}

// SetMessageTemplate attaches a provider template to an outbound message.
func SetMessageTemplate(ctx context.Context, tx *gorm.DB, messageID int64, t Template) error {
	b, _ := json.Marshal(t)
	return tx.WithContext(ctx).Exec("UPDATE messages SET messenger_template = ?::jsonb WHERE id = ?", string(b),
		messageID).Error
}
