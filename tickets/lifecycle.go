package tickets

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ErrDuplicateMessage is returned when a message with the same Message-ID (per
// channel) or provider message id (per connection) was already stored.
var ErrDuplicateMessage = errors.New("duplicate message")

// NewTicket is the input for OpenTicket.
type NewTicket struct {
	ChannelID             int64
	Kind                  string // conversation (default) or task
	Subject               string
	Priority              string
	ContactID             *int64
	MailboxID             *int64
	MessengerConnectionID *int64
	AssigneeID            *int64 // explicit assignee; nil lets the channel's assignment rules decide
	CreatedBy             *int64 // agent who created it; nil for inbound
	// AssignLater leaves round-robin and least-open assignment to AssignOpened,
	// which the caller runs as the last thing before its commit: picking an agent
	// locks the channel row until the commit, so every arrival in the channel
	// waits for whatever its holder still does after it.
	AssignLater bool
}

// OpenTicket creates a ticket inside tx and applies the channel's assignment rules.
// Callers own the transaction so the ticket and its first message commit together.
func (s *Service) OpenTicket(ctx context.Context, tx *gorm.DB, in NewTicket) (*Ticket, error) {
	if in.Kind == "" {
		in.Kind = KindConversation
	}
	if in.Priority == "" {
		in.Priority = "normal"
	}
	now := s.now()
	t := &Ticket{ChannelID: in.ChannelID, Kind: in.Kind, Subject: truncate(in.Subject, 998), Status: StatusNew,
		Priority: in.Priority, ContactID: in.ContactID, MailboxID: in.MailboxID,
		MessengerConnectionID: in.MessengerConnectionID, AssigneeID: in.AssigneeID, WakeOnReply: true,
		LastActivityAt: now, LastCustomerActivityAt: now, CreatedAt: now, UpdatedAt: now}
	if in.CreatedBy == nil {
		// Opened by an arrival: count it here, so storing that first message
		// (AddInboundMessage in the same transaction) needs no UPDATE of the ticket.
		t.ActivitySeq = 1
	}
	tx = tx.WithContext(ctx)
	ch, responsible, err := insertTicket(tx, t, in.CreatedBy)
	if err != nil {
		return nil, err
	}
	if in.CreatedBy == nil {
		t.arrivalIn = tx.Statement.ConnPool
	}
	switch {
	case in.AssigneeID != nil:
	case t.AssigneeID != nil: // the channel's default assignee, set by the insert
		if err := s.Notify(ctx, tx, Notification{AgentID: *t.AssigneeID, Kind: NotifyAssignment, TicketID: &t.ID,
			Data: JSONMap{"auto": true, "subject": t.Subject}}); err != nil {
			return nil, err
		}
	case in.AssignLater:
		t.assignLater = &ch
	default:
		if err := s.autoAssign(ctx, tx, t, ch); err != nil {
			return nil, err
		}
	}
	// The channel's responsible agents hear of every new ticket.
	return t, s.notifyMany(ctx, tx, responsible, in.CreatedBy, Notification{Kind: NotifyNewTicket, TicketID: &t.ID,
		Data: JSONMap{"subject": t.Subject, "channel_id": t.ChannelID}})
}

// insertTicket stores new ticket t with its "created" event and returns what
// opening it needs of its channel (assignment settings, responsible agents). A
// ticket without an assignee in a channel assigning to a default assignee gets
// that agent in the insert, with its "assigned" event. It is one statement because
// it runs for every new ticket; other assignment modes are autoAssign's.
func insertTicket(tx *gorm.DB, t *Ticket, by *int64) (Channel, []int64, error) {
	var row struct {
		TicketID         int64
		TicketNumber     int64
		TicketAssigneeID *int64
		Channel
		Responsible Int64List
	}
	res := tx.Raw(`WITH c AS (
			SELECT c.*, ARRAY(SELECT m.agent_id FROM channel_members m
				WHERE m.channel_id = c.id AND m.role = ? ORDER BY m.agent_id) AS responsible
			FROM channels c WHERE c.id = ?),
		t AS (
			INSERT INTO tickets (channel_id, kind, subject, status, priority, assignee_id, contact_id, mailbox_id,
				messenger_connection_id, wake_on_reply, last_activity_at, last_customer_activity_at, created_at,
				updated_at, activity_seq)
			SELECT c.id, ?, ?, ?, ?,
				COALESCE(?::bigint, CASE WHEN c.assignment_mode = 'default' THEN c.default_assignee_id END),
				?, ?, ?, ?, ?, ?, ?, ?, ?
			FROM c
			RETURNING id, number, assignee_id),
		events AS (
			-- One insert, in timeline order: "created", then "assigned" when the
			-- channel's default assignee was applied.
			INSERT INTO ticket_events (ticket_id, agent_id, kind, new_value, data, created_at)
			SELECT t.id, e.agent_id, e.kind, e.new_value, e.data, ? FROM t CROSS JOIN LATERAL (VALUES
				(1, ?::bigint, 'created', ?::text, '{}'::jsonb),
				(2, NULL, 'assigned', t.assignee_id::text, '{"auto": true, "mode": "default"}'::jsonb))
				AS e (ord, agent_id, kind, new_value, data)
			WHERE e.ord = 1 OR (?::bigint IS NULL AND t.assignee_id IS NOT NULL)
			ORDER BY e.ord)
		SELECT t.id AS ticket_id, t.number AS ticket_number, t.assignee_id AS ticket_assignee_id, c.*
		FROM t, c`,
		ResponsibleRole, t.ChannelID,
		t.Kind, t.Subject, t.Status, t.Priority, t.AssigneeID, t.ContactID, t.MailboxID, t.MessengerConnectionID,
		t.WakeOnReply, t.LastActivityAt, t.LastCustomerActivityAt, t.CreatedAt, t.UpdatedAt, t.ActivitySeq,
		t.CreatedAt, by, t.Status, t.AssigneeID).Scan(&row)
	if res.Error != nil {
		return Channel{}, nil, fmt.Errorf("create ticket in channel %d: %w", t.ChannelID, res.Error)
	}
	if res.RowsAffected == 0 {
		return Channel{}, nil, fmt.Errorf("channel %d: %w", t.ChannelID, ErrNotFound)
	}
	t.ID, t.Number, t.AssigneeID = row.TicketID, row.TicketNumber, row.TicketAssigneeID
	return row.Channel, row.Responsible, nil
}

// AddInboundMessage stores a customer's message on ticket t inside tx and applies
// what an arrival implies: activity times move, a resolved ticket reopens, a
// snoozed ticket with wake_on_reply wakes. m.TicketID and m.ChannelID are set from t.
// A message already stored (same Message-ID in the channel, or same provider id on
// the connection) returns ErrDuplicateMessage and changes nothing.
func (s *Service) AddInboundMessage(ctx context.Context, tx *gorm.DB, t *Ticket, m *Message) error {
	tx = tx.WithContext(ctx)
	m.TicketID, m.ChannelID = t.ID, t.ChannelID
	if m.Direction == "" {
		m.Direction = DirectionInbound
	}
	if m.Status == "" {
		m.Status = MessageReceived
	}
	// ON CONFLICT DO NOTHING, not a savepoint around a unique violation: the
	// caller's transaction stays usable and the arrival costs one round trip less.
	res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(m)
	if res.Error != nil {
		return fmt.Errorf("store message: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrDuplicateMessage
	}
	if t.arrivalIn != nil && t.arrivalIn == tx.Statement.ConnPool {
		// The message that opens the ticket: OpenTicket already counted it and set
		// the activity times; a new ticket is neither resolved nor snoozed.
		t.arrivalIn = nil
		return nil
	}
	now := s.now()
	// activity_seq counts arrivals for read state (see read.go).
	updates := map[string]any{"last_activity_at": now, "updated_at": now, "activity_seq": gorm.Expr("activity_seq + 1")}
	if !m.IsAutoReply && !m.IsBounce {
		updates["last_customer_activity_at"] = now
		if err := s.CancelOnCustomerReply(ctx, tx, t.ID); err != nil {
			return err
		}
	}
	if t.Status == StatusResolved || t.Status == StatusPending {
		updates["status"] = StatusOpen
		if err := RecordEvent(tx, t.ID, nil, "status", t.Status, StatusOpen, JSONMap{"reason": "customer replied"}); err != nil {
			return err
		}
		t.Status = StatusOpen
	}
	if t.SnoozedUntil != nil && t.WakeOnReply {
		updates["snoozed_until"] = nil
		updates["reminder"] = false
		if err := RecordEvent(tx, t.ID, nil, "woken", "", "", JSONMap{"reason": "customer replied"}); err != nil {
			return err
		}
		t.SnoozedUntil = nil
	}
	if err := tx.Model(&Ticket{}).Where("id = ?", t.ID).Updates(updates).Error; err != nil {
		return fmt.Errorf("touch ticket %d: %w", t.ID, err)
	}
	return nil
}
