package messengers

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/postdesk/postdesk/tickets"
)

// CheckWindow returns ErrOutsideWindow when the customer has not written on the
// ticket through the connection within the last 24 hours (WhatsApp's rule; the
// reply API refuses such replies with 422 earlier, this is the last check before
// the wire).
func CheckWindow(ctx context.Context, db *gorm.DB, connectionID, ticketID int64, now time.Time) error {
	open, err := tickets.MessengerWindowOpen(ctx, db, connectionID, ticketID, now)
	if err != nil {
		return err
	}
	if !open {
		return ErrOutsideWindow
	}
	return nil
}

// NeedsTemplate reports whether a reply on ticket t must be a template: the ticket
// came through a WhatsApp connection whose window is closed (the UI offers the
// template picker then).
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
	open, err := tickets.MessengerWindowOpen(ctx, db, *t.MessengerConnectionID, t.ID, now)
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
	if raw == "" || raw == "{}" {
		return nil, nil
	}
	var t Template
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
