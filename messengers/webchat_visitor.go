package messengers

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"gorm.io/gorm"

	"github.com/postdesk/postdesk/tickets"
)

// AgentsOnline reports whether a member of the channel is online (agents.status),
// which decides whether the widget offers a live chat or asks for an e-mail.
func AgentsOnline(ctx context.Context, db *gorm.DB, channelID int64) (bool, error) {
	var n int64
	err := db.WithContext(ctx).Raw(`SELECT count(*) FROM agents a JOIN channel_members cm ON cm.agent_id = a.id
		WHERE cm.channel_id = ? AND a.status = 'online' AND a.disabled_at IS NULL`, channelID).Scan(&n).Error
	if err != nil {
		return false, fmt.Errorf("agents online: %w", err)
	}
	return n > 0, nil
}

// visitorContact returns the contact id of a web chat visitor (0 if they never wrote).
func visitorContact(ctx context.Context, db *gorm.DB, visitor string) (int64, error) {
	var id tickets.ContactIdentity
	err := db.WithContext(ctx).Where("kind = 'webchat' AND value = ?", visitor).Take(&id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("visitor %s: %w", visitor, err)
	}
	return id.ContactID, nil
}

// VisitorMessages returns what the visitor may see of their conversations on c
// after message id after: their own messages and replies that have left (not
// drafts, notes or undo-window replies).
func VisitorMessages(ctx context.Context, db *gorm.DB, c *Conn, visitor string, after int64) ([]tickets.Message, error) {
	contactID, err := visitorContact(ctx, db, visitor)
	if err != nil || contactID == 0 {
		return nil, err
	}
	var out []tickets.Message
	err = db.WithContext(ctx).Raw(`SELECT m.* FROM messages m JOIN tickets t ON t.id = m.ticket_id
		WHERE t.messenger_connection_id = ? AND t.contact_id = ? AND m.id > ?
		  AND (m.direction = 'inbound' OR (m.direction = 'outbound' AND m.status IN ('sent', 'delivered', 'read')))
		ORDER BY m.id LIMIT 200`, c.ID, contactID, after).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("visitor messages: %w", err)
	}
	return out, nil
}

// VisitorTickets lists the visitor's conversations on c, so their event stream
// can tell which live events concern them.
func VisitorTickets(ctx context.Context, db *gorm.DB, c *Conn, visitor string) ([]int64, error) {
	contactID, err := visitorContact(ctx, db, visitor)
	if err != nil || contactID == 0 {
		return nil, err
	}
	var ids []int64
	err = db.WithContext(ctx).Model(&tickets.Ticket{}).
		Where("messenger_connection_id = ? AND contact_id = ?", c.ID, contactID).Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("visitor tickets: %w", err)
	}
	return ids, nil
}

// MarkDelivered records that the visitor's stream showed these replies.
func MarkDelivered(ctx context.Context, db *gorm.DB, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	return db.WithContext(ctx).Exec(`UPDATE messages SET status = 'delivered', updated_at = now()
		WHERE id IN ? AND status = 'sent'`, ids).Error
}

// SetVisitorEmail records the e-mail address a visitor left (when no agent was
// online), so the conversation can continue by mail: the address becomes an
// identity of the visitor's contact when no other contact owns it (merging with
// an existing contact is left to an agent: a typed address proves nothing), and
// the Reply-To of their open conversation, which mail replies go to.
func (r *Receiver) SetVisitorEmail(ctx context.Context, c *Conn, visitor, email string) error {
	addr, err := mail.ParseAddress(strings.TrimSpace(email))
	if err != nil || len(addr.Address) > 254 {
		return tickets.Invalid("email", "is not an e-mail address")
	}
	email = strings.ToLower(addr.Address)
	return r.Tickets.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		contact, err := r.Tickets.ResolveContact(ctx, tx, "webchat", visitor, "")
		if err != nil {
			return err
		}
		if err := addIdentity(tx, contact.ID, "email", email, ""); err != nil {
			return err
		}
		var t tickets.Ticket
		err = tx.Where("messenger_connection_id = ? AND contact_id = ? AND status IN ?", c.ID, contact.ID,
			[]string{tickets.StatusNew, tickets.StatusOpen, tickets.StatusPending}).Order("id DESC").Take(&t).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("visitor conversation: %w", err)
		}
		if err := tx.Exec(`UPDATE messages SET reply_to = ? WHERE ticket_id = ? AND direction = 'inbound'`,
			email, t.ID).Error; err != nil {
			return fmt.Errorf("reply-to of ticket %d: %w", t.ID, err)
		}
		// Mail replies leave through the channel's first mailbox, if it has one.
		if err := tx.Exec(`UPDATE tickets SET mailbox_id = (SELECT id FROM mailboxes WHERE channel_id = ? ORDER BY id
			LIMIT 1) WHERE id = ? AND mailbox_id IS NULL`, t.ChannelID, t.ID).Error; err != nil {
			return fmt.Errorf("mailbox of ticket %d: %w", t.ID, err)
		}
		return tickets.RecordEvent(tx, t.ID, nil, "contact_email", "", email, tickets.JSONMap{"source": "webchat"})
	})
}
