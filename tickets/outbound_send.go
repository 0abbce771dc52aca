package tickets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The send path, as the send task walks it: ClaimSend, deliver, then MarkSent,
// MarkSendRetry or MarkSendFailed. The claim moves the row queued→sending under a
// row lock and commits before anything goes on the wire, so two runs of the same
// task (a retry racing a sweeper, two workers) never both deliver: the second finds
// "sending" or "sent" and stops.

// dueSlack lets a task that fires a hair early still send.
const dueSlack = 500 * time.Millisecond

// ClaimSend takes a due outbound message for delivery. It returns ErrNotSendable
// when there is nothing to do (sent, canceled, failed), a *NotDueError (ErrNotDue)
// when it is due later, and ErrSendInFlight when another worker holds it.
func (s *Service) ClaimSend(ctx context.Context, id int64) (*Message, error) {
	var m Message
	var canceled bool
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&m, id).Error; err != nil {
			return notFound(err, "message %d", id)
		}
		now := s.now()
		switch m.Status {
		case MessageQueued, MessageScheduled:
		case MessageSending:
			if m.UpdatedAt.After(now.Add(-sendLease)) {
				return ErrSendInFlight
			}
			// The worker that claimed it died mid-send. Sending again may deliver a
			// second copy, with the same Message-ID, which receivers fold into one;
			// never sending would lose the reply.
		default:
			return ErrNotSendable
		}
		if m.Direction != DirectionOutbound {
			return ErrNotSendable
		}
		if m.SendAt != nil && m.SendAt.After(now.Add(dueSlack)) {
			return &NotDueError{At: *m.SendAt}
		}
		if m.CancelOnReply {
			var n int64
			err := tx.Model(&Message{}).Where("ticket_id = ? AND direction = ? AND created_at > ?",
				m.TicketID, DirectionInbound, m.CreatedAt).Count(&n).Error
			if err != nil {
				return fmt.Errorf("replies after message %d: %w", id, err)
			}
			if n > 0 {
				canceled = true
				return cancelForReply(tx, &m, now)
			}
		}
		m.Status, m.Attempts, m.UpdatedAt = MessageSending, m.Attempts+1, now
		err := tx.Model(&Message{}).Where("id = ?", id).
			Updates(map[string]any{"status": MessageSending, "attempts": m.Attempts, "updated_at": now}).Error
		if err != nil {
			return fmt.Errorf("claim message %d: %w", id, err)
		}
		return tx.Where("message_id = ?", id).Order("id").Find(&m.Attachments).Error
	})
	if canceled {
		s.publishMessage(ctx, &m)
		return nil, ErrNotSendable
	}
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// MarkSent records a delivery. The first reply to a ticket sets its first-response
// time, and an answered ticket waits on the customer (pending).
func (s *Service) MarkSent(ctx context.Context, id int64, providerMessageID string) error {
	var m Message
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := s.now()
		res := tx.Model(&Message{}).Where("id = ? AND status = ?", id, MessageSending).
			Updates(map[string]any{"status": MessageSent, "sent_at": now, "failed_reason": "",
				"provider_message_id": providerMessageID, "updated_at": now})
		if res.Error != nil {
			return fmt.Errorf("mark message %d sent: %w", id, res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNotSendable
		}
		if err := tx.Take(&m, id).Error; err != nil {
			return fmt.Errorf("message %d: %w", id, err)
		}
		var t Ticket
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&t, m.TicketID).Error; err != nil {
			return fmt.Errorf("ticket %d: %w", m.TicketID, err)
		}
		updates := map[string]any{"last_activity_at": now, "updated_at": now}
		if t.FirstResponseAt == nil && m.AuthorAgentID != nil && !m.IsAutoReply && m.OutboundKind != OutboundNew {
			updates["first_response_at"] = now
		}
		if t.Status == StatusNew || t.Status == StatusOpen {
			updates["status"] = StatusPending
			if err := RecordEvent(tx, t.ID, m.AuthorAgentID, "status", t.Status, StatusPending,
				JSONMap{"reason": "reply sent"}); err != nil {
				return err
			}
		}
		if err := tx.Model(&Ticket{}).Where("id = ?", t.ID).Updates(updates).Error; err != nil {
			return fmt.Errorf("touch ticket %d: %w", t.ID, err)
		}
		return RecordEvent(tx, t.ID, m.AuthorAgentID, "outbound_sent", "", "", JSONMap{"message_id": id})
	})
	if errors.Is(err, ErrNotSendable) {
		return nil // already recorded by an earlier run
	}
	if err != nil {
		return err
	}
	s.publishMessage(ctx, &m)
	return nil
}

// MarkSendRetry puts a message whose delivery failed temporarily back in the queue,
// keeping the reason visible on the message until a later attempt succeeds.
func (s *Service) MarkSendRetry(ctx context.Context, id int64, reason string) error {
	err := s.DB.WithContext(ctx).Model(&Message{}).Where("id = ? AND status = ?", id, MessageSending).
		Updates(map[string]any{"status": MessageQueued, "failed_reason": truncate(reason, 1000),
			"updated_at": s.now()}).Error
	if err != nil {
		return fmt.Errorf("requeue message %d: %w", id, err)
	}
	return nil
}

// MarkSendFailed records a permanent failure with the server's reason, on the
// message and in the ticket's timeline.
func (s *Service) MarkSendFailed(ctx context.Context, id int64, reason string) error {
	var m Message
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Message{}).Where("id = ? AND status = ?", id, MessageSending).
			Updates(map[string]any{"status": MessageFailed, "failed_reason": truncate(reason, 1000),
				"updated_at": s.now()})
		if res.Error != nil {
			return fmt.Errorf("mark message %d failed: %w", id, res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNotSendable
		}
		if err := tx.Take(&m, id).Error; err != nil {
			return fmt.Errorf("message %d: %w", id, err)
		}
		return RecordEvent(tx, m.TicketID, nil, "outbound_failed", "", truncate(reason, 1000),
			JSONMap{"message_id": id})
	})
	if errors.Is(err, ErrNotSendable) {
		return nil
	}
	if err != nil {
		return err
	}
	s.publishMessage(ctx, &m)
	return nil
}

// DueSend is a message the sweeper should (re)queue.
type DueSend struct {
	ID     int64
	SendAt time.Time
}

// DueSends lists outbound messages waiting to leave by horizon, and messages stuck
// in "sending" past the lease (their worker died), oldest first.
func (s *Service) DueSends(ctx context.Context, horizon time.Time, limit int) ([]DueSend, error) {
	var out []DueSend
	err := s.DB.WithContext(ctx).Raw(`
		SELECT id, send_at FROM messages
		 WHERE status IN ('scheduled', 'queued') AND send_at <= ?
		UNION ALL
		SELECT id, updated_at FROM messages
		 WHERE status = 'sending' AND updated_at < ?
		 ORDER BY 2
		 LIMIT ?`, horizon, s.now().Add(-sendLease), limit).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("due sends: %w", err)
	}
	return out, nil
}

// OutboundMessage loads a message for the send path (no access check).
func (s *Service) OutboundMessage(ctx context.Context, id int64) (*Message, error) {
	var m Message
	if err := s.DB.WithContext(ctx).Preload("Attachments").Take(&m, id).Error; err != nil {
		return nil, notFound(err, "message %d", id)
	}
	return &m, nil
}

// MessageWithAttachments loads a message agent a may see, with its attachments.
func (s *Service) MessageWithAttachments(ctx context.Context, a *Agent, id int64) (*Message, error) {
	m, err := s.VisibleMessage(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if err := s.DB.WithContext(ctx).Where("message_id = ?", id).Order("id").Find(&m.Attachments).Error; err != nil {
		return nil, fmt.Errorf("attachments of message %d: %w", id, err)
	}
	return m, nil
}

func (s *Service) publishMessage(ctx context.Context, m *Message) {
	s.Publisher.Publish(ctx, LiveEvent{Kind: "message.updated", ChannelID: m.ChannelID, TicketID: m.TicketID,
		Data: map[string]any{"message_id": m.ID, "status": m.Status}})
}

// MessageOriginal returns the raw mail inbound message id was parsed from, for an
// agent who may see the message. ErrNotFound when there is none (a note, a reply,
// a messenger message, or mail stored before originals were kept).
func (s *Service) MessageOriginal(ctx context.Context, a *Agent, id int64) (inboundMailID int64, err error) {
	m, err := s.VisibleMessage(ctx, a, id)
	if err != nil {
		return 0, err
	}
	if m.InboundMailID == nil {
		return 0, fmt.Errorf("original of message %d: %w", id, ErrNotFound)
	}
	return *m.InboundMailID, nil
}
