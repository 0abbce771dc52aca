package messengers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/postdesk/postdesk/tickets"
)

// DefaultReopenWindow is how long after resolution a new message reopens the
// ticket instead of starting a new one (settings.reopen_days overrides it).
const DefaultReopenWindow = 7 * 24 * time.Hour

// Receiver stores what adapters decode: inbound messages into tickets, statuses
// onto outbound messages.
type Receiver struct {
	Tickets  *tickets.Service
	Blobs    *tickets.Blobs
	Registry *Registry
	Log      *slog.Logger
}

// LoadConn reads a connection with its internal columns.
func LoadConn(ctx context.Context, db *gorm.DB, id int64) (*Conn, error) {
	var c Conn
	err := db.WithContext(ctx).Table("messenger_connections").Where("id = ?", id).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, tickets.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("messenger connection %d: %w", id, err)
	}
	return &c, nil
}

// Received is the outcome of storing one inbound item.
type Received struct {
	Message   *tickets.Message
	Ticket    *tickets.Ticket
	NewTicket bool
	Duplicate bool
}

// Apply stores everything an update carried. It stops at the first error so a
// provider that retries the webhook (or the next poll) delivers the rest again;
// items already stored are then skipped as duplicates.
func (r *Receiver) Apply(ctx context.Context, c *Conn, up *Update) ([]Received, error) {
	a, err := r.Registry.Get(c.Provider)
	if err != nil {
		return nil, err
	}
	var out []Received
	for _, in := range up.Messages {
		rc, err := r.Receive(ctx, c, a, in)
		if err != nil {
			return out, err
		}
		out = append(out, *rc)
	}
	for _, st := range up.Statuses {
		if err := r.ApplyStatus(ctx, c, st); err != nil {
			return out, err
		}
	}
	return out, nil
}

// Receive stores one inbound item: media first (outside the transaction, into the
// content-addressed store), then contact, ticket and message in one transaction.
func (r *Receiver) Receive(ctx context.Context, c *Conn, a Adapter, in Inbound) (*Received, error) {
	db := r.Tickets.DB.WithContext(ctx)
	if in.ProviderMessageID != "" {
		var n int64
		db.Model(&tickets.Message{}).Where("messenger_connection_id = ? AND provider_message_id = ?", c.ID,
			in.ProviderMessageID).Count(&n)
		if n > 0 {
			return &Received{Duplicate: true}, nil
		}
	}
	ch, err := r.Tickets.ChannelByID(ctx, c.ChannelID)
	if err != nil {
		return nil, err
	}
	var atts []tickets.Attachment
	var warnings []string
	for _, m := range in.Media {
		att, err := r.fetch(ctx, c, a, m, ch.MaxAttachmentBytes)
		if IsTemporary(err) {
			return nil, err // let the provider retry the whole item
		}
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("%s %q not stored: %v", m.Kind, m.Filename, err))
			continue
		}
		atts = append(atts, *att)
	}

	var res Received
	var prompt *tickets.Message
	err = db.Transaction(func(tx *gorm.DB) error {
		// Serialise arrivals from one sender on one connection, so two messages
		// sent in the same second thread into one ticket, not two.
		if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtext(?))",
			fmt.Sprintf("messenger:%d:%s:%s", c.ID, in.From.Kind, in.From.Value)).Error; err != nil {
			return fmt.Errorf("lock sender: %w", err)
		}
		contact, err := r.contact(ctx, tx, in.From)
		if err != nil {
			return err
		}
		t, isNew, err := r.conversation(ctx, tx, c, contact, in)
		if err != nil {
			return err
		}
		m := &tickets.Message{Direction: tickets.DirectionInbound, ContactID: &contact.ID,
			MessengerConnectionID: &c.ID, FromAddress: in.From.Value, FromName: in.From.DisplayName,
			BodyText: in.Text, ProviderMessageID: in.ProviderMessageID, InReplyTo: in.ReplyToProviderID,
			ParseWarning: strings.Join(warnings, "; "),
			QuoteOffset:  -1} // chats quote nothing; 0 would fold the whole text away as quoted history
		if c.Provider == "webchat" {
			// A visitor who left an e-mail address can be answered by mail: replies
			// through a mailbox go to the Reply-To of their latest message.
			tx.Model(&tickets.ContactIdentity{}).Where("contact_id = ? AND kind = 'email'", contact.ID).
				Order("id DESC").Limit(1).Pluck("value", &m.ReplyTo)
		}
		if !in.At.IsZero() {
			m.CreatedAt = in.At
			m.UpdatedAt = r.Tickets.Now()
		}
		if err := r.Tickets.AddInboundMessage(ctx, tx, t, m); err != nil {
			return err
		}
		for i := range atts {
			atts[i].MessageID = &m.ID
		}
		if len(atts) > 0 {
			if err := tx.Create(&atts).Error; err != nil {
				return fmt.Errorf("store attachments: %w", err)
			}
			m.Attachments = atts
		}
		prompt, err = r.menu(ctx, tx, c, t, m, isNew)
		if err != nil {
			return err
		}
		if isNew {
			// Last: round robin and least open lock the channel until the commit.
			if err := r.Tickets.AssignOpened(ctx, tx, []*tickets.Ticket{t}); err != nil {
				return err
			}
		}
		res = Received{Message: m, Ticket: t, NewTicket: isNew}
		return nil
	})
	if errors.Is(err, tickets.ErrDuplicateMessage) {
		return &Received{Duplicate: true}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("receive %s message %s: %w", c.Provider, in.ProviderMessageID, err)
	}
	if prompt != nil && r.Tickets.Sends != nil {
		// Best effort: the send sweeper queues it anyway.
		if err := r.Tickets.Sends.ScheduleSend(ctx, prompt.ID, *prompt.SendAt); err != nil {
			r.log().Warn("queue menu prompt", "message_id", prompt.ID, "err", err)
		}
	}
	kind := "message.created"
	if res.NewTicket {
		kind = "ticket.created"
	}
	r.Tickets.Publisher.Publish(ctx, tickets.LiveEvent{Kind: kind, ChannelID: res.Ticket.ChannelID,
		TicketID: res.Ticket.ID, Data: map[string]any{"message_id": res.Message.ID}})
	return &res, nil
}

func (r *Receiver) log() *slog.Logger {
	if r.Log == nil {
		return slog.Default()
	}
	return r.Log
}

func (r *Receiver) fetch(ctx context.Context, c *Conn, a Adapter, m Media, limit int64) (*tickets.Attachment, error) {
	body, err := a.Fetch(ctx, c, m)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	sum, size, err := r.Blobs.Put(body, limit)
	if err != nil {
		return nil, err
	}
	ct := m.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	return &tickets.Attachment{SHA256: sum, Size: size, Filename: m.Filename, ContentType: ct}, nil
}

// contact resolves the sender. A phone number the provider reveals unifies the
// sender with a contact already known by that number (from another messenger, or
// entered by an agent).
func (r *Receiver) contact(ctx context.Context, tx *gorm.DB, id Identity) (*tickets.Contact, error) {
	if id.Phone != "" {
		var known int64
		tx.Model(&tickets.ContactIdentity{}).Where("kind = ? AND value = ?", id.Kind, id.Value).Count(&known)
		if known == 0 {
			var phone tickets.ContactIdentity
			err := tx.Where("kind = 'phone' AND value = ?", id.Phone).Take(&phone).Error
			if err == nil {
				if err := addIdentity(tx, phone.ContactID, id.Kind, id.Value, id.DisplayName); err != nil {
					return nil, err
				}
			}
		}
	}
	contact, err := r.Tickets.ResolveContact(ctx, tx, id.Kind, id.Value, id.DisplayName)
	if err != nil {
		return nil, err
	}
	if id.Phone != "" {
		if err := addIdentity(tx, contact.ID, "phone", id.Phone, id.DisplayName); err != nil {
			return nil, err
		}
	}
	return contact, nil
}

// addIdentity links an identity to a contact unless some contact already has it.
func addIdentity(tx *gorm.DB, contactID int64, kind, value, name string) error {
	err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&tickets.ContactIdentity{ContactID: contactID,
		Kind: kind, Value: tickets.NormaliseIdentity(kind, value), DisplayName: name}).Error
	if err != nil {
		return fmt.Errorf("add %s identity: %w", kind, err)
	}
	return nil
}

// ReopenWindow is the connection's reopen window.
func (c *Conn) ReopenWindow() time.Duration {
	switch v := c.Settings["reopen_days"].(type) {
	case float64:
		if v >= 0 {
			return time.Duration(v * float64(24*time.Hour))
		}
	case string:
		if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
			return time.Duration(n * float64(24*time.Hour))
		}
	}
	return DefaultReopenWindow
}

// conversation finds the ticket a message from contact on c belongs to: the
// latest one if it is unfinished, or resolved within the reopen window; otherwise
// a new ticket.
func (r *Receiver) conversation(ctx context.Context, tx *gorm.DB, c *Conn, contact *tickets.Contact,
	in Inbound) (*tickets.Ticket, bool, error) {
	var t tickets.Ticket
	err := tx.Where("messenger_connection_id = ? AND contact_id = ? AND kind = ? AND merged_into_id IS NULL",
		c.ID, contact.ID, tickets.KindConversation).Order("id DESC").Take(&t).Error
	if err == nil {
		switch t.Status {
		case tickets.StatusNew, tickets.StatusOpen, tickets.StatusPending:
			return &t, false, nil
		case tickets.StatusResolved:
			if t.ResolvedAt == nil || r.Tickets.Now().Sub(*t.ResolvedAt) <= c.ReopenWindow() {
				return &t, false, nil
			}
		}
	} else if !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, false, fmt.Errorf("find conversation: %w", err)
	}
	nt, err := r.Tickets.OpenTicket(ctx, tx, tickets.NewTicket{ChannelID: c.ChannelID, Subject: subjectFor(c, in),
		ContactID: &contact.ID, MessengerConnectionID: &c.ID, AssignLater: true})
	if err != nil {
		return nil, false, err
	}
	return nt, true, nil
}

// subjectFor makes a queue line for a chat: its first words, or who wrote.
func subjectFor(c *Conn, in Inbound) string {
	text := strings.Join(strings.Fields(in.Text), " ")
	if text != "" {
		if utf8.RuneCountInString(text) > 80 {
			text = string([]rune(text)[:79]) + "…"
		}
		return text
	}
	who := in.From.DisplayName
	if who == "" {
		who = in.From.Value
	}
	return fmt.Sprintf("%s chat with %s", providerTitle(c.Provider), who)
}

func providerTitle(p string) string {
	switch p {
	case "whatsapp":
		return "WhatsApp"
	case "vk":
		return "VK"
	case "webchat":
		return "Web chat"
	}
	if p == "" {
		return ""
	}
	return strings.ToUpper(p[:1]) + p[1:]
}

// statusRank orders delivery statuses so a late "delivered" never undoes "read".
var statusRank = map[string]int{tickets.MessageQueued: 1, tickets.MessageSending: 2, tickets.MessageSent: 3,
	tickets.MessageDelivered: 4, tickets.MessageRead: 5}

// ApplyStatus moves an outbound message forward to the reported status, or marks
// it failed with the provider's reason.
func (r *Receiver) ApplyStatus(ctx context.Context, c *Conn, st Status) error {
	db := r.Tickets.DB.WithContext(ctx)
	q := db.Model(&tickets.Message{}).Where("messenger_connection_id = ? AND provider_message_id = ? AND direction = ?",
		c.ID, st.ProviderMessageID, tickets.DirectionOutbound)
	now := r.Tickets.Now()
	var err error
	if st.Status == tickets.MessageFailed {
		reason := st.Error
		if reason == "" {
			reason = "the provider reported the message as failed"
		}
		err = q.Updates(map[string]any{"status": tickets.MessageFailed, "failed_reason": reason, "updated_at": now}).Error
	} else {
		rank, ok := statusRank[st.Status]
		if !ok {
			return nil
		}
		var lower []string
		for s, n := range statusRank {
			if n < rank {
				lower = append(lower, s)
			}
		}
		err = q.Where("status IN ?", lower).Updates(map[string]any{"status": st.Status, "updated_at": now}).Error
	}
	if err == nil && st.Status == tickets.MessageRead {
		// A read receipt is an open, recorded where mail's tracking pixel records
		// them, once per message.
		at := st.At
		if at.IsZero() {
			at = now
		}
		err = db.Exec(`UPDATE messages SET opened_at = COALESCE(opened_at, ?), last_opened_at = ?, open_count = 1
			WHERE messenger_connection_id = ? AND provider_message_id = ? AND direction = 'outbound'
			AND open_count = 0`, at, at, c.ID, st.ProviderMessageID).Error
	}
	if err != nil {
		return fmt.Errorf("apply %s status to %s: %w", st.Status, st.ProviderMessageID, err)
	}
	var m tickets.Message
	if db.Select("id", "ticket_id", "channel_id", "status").Where("messenger_connection_id = ? AND provider_message_id = ?",
		c.ID, st.ProviderMessageID).Take(&m).Error == nil {
		r.Tickets.Publisher.Publish(ctx, tickets.LiveEvent{Kind: "message.updated", ChannelID: m.ChannelID,
			TicketID: m.TicketID, Data: map[string]any{"message_id": m.ID, "status": m.Status}})
	}
	return nil
}
