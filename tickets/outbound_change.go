package tickets

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Changes to an outbound message before it leaves: cancel (undo), reschedule or
// edit, send now. Each locks the row, so a change and the send task's claim are
// ordered: whichever commits first wins, and the loser sees it.

// waiting reports whether an outbound message has not left yet.
func waiting(m *Message) bool {
	return m.Direction == DirectionOutbound && (m.Status == MessageQueued || m.Status == MessageScheduled)
}

func notWaiting(m *Message) error {
	switch m.Status {
	case MessageSending:
		return fmt.Errorf("%w: the message is being sent right now", ErrConflict)
	case MessageSent, MessageDelivered, MessageRead:
		return fmt.Errorf("%w: the message was already sent", ErrConflict)
	case MessageCanceled:
		return fmt.Errorf("%w: the message was canceled", ErrConflict)
	case MessageFailed:
		return fmt.Errorf("%w: the message failed to send", ErrConflict)
	}
	return fmt.Errorf("%w: only outbound messages waiting to be sent can change", ErrConflict)
}

// lockOutbound re-reads a message agent a may see, locked for update.
func (s *Service) lockOutbound(ctx context.Context, tx *gorm.DB, a *Agent, id int64) (*Message, error) {
	if _, err := s.VisibleMessage(ctx, a, id); err != nil {
		return nil, err
	}
	var m Message
	if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&m, id).Error; err != nil {
		return nil, notFound(err, "message %d", id)
	}
	return &m, nil
}

// CancelOutbound undoes a message that has not left yet; it becomes "canceled" and
// the composer can reopen it as a draft. Canceling twice is harmless; canceling a
// sent message is a conflict.
func (s *Service) CancelOutbound(ctx context.Context, a *Agent, id int64) (*Message, error) {
	var m *Message
	var at time.Time
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if m, err = s.lockOutbound(ctx, tx, a, id); err != nil {
			return err
		}
		if m.SendAt != nil {
			at = *m.SendAt
		}
		if m.Status == MessageCanceled {
			return nil
		}
		if !waiting(m) {
			return notWaiting(m)
		}
		m.Status, m.UpdatedAt = MessageCanceled, s.now()
		if err := tx.Model(&Message{}).Where("id = ?", id).
			Updates(map[string]any{"status": MessageCanceled, "updated_at": m.UpdatedAt}).Error; err != nil {
			return fmt.Errorf("cancel message %d: %w", id, err)
		}
		return RecordEvent(tx, m.TicketID, &a.ID, "outbound_canceled", "", "", JSONMap{"message_id": id})
	})
	if err != nil {
		return nil, err
	}
	if s.Sends != nil {
		// Best effort: the task re-reads the status, so a cancel wins even if this fails.
		if err := s.Sends.CancelSend(ctx, id, at); err != nil {
			slog.Warn("remove send task", "message_id", id, "err", err)
		}
	}
	s.publishMessage(ctx, m)
	return m, nil
}

// OutboundPatch changes a waiting message; nil fields stay.
type OutboundPatch struct {
	SendAt        *time.Time
	Subject       *string
	BodyText      *string
	BodyHTML      *string
	CancelOnReply *bool
}

// changeWaiting runs change on a message that has not left yet, locked, then
// re-queues its delivery for the (possibly new) send time.
func (s *Service) changeWaiting(ctx context.Context, a *Agent, id int64,
	change func(tx *gorm.DB, m *Message, now time.Time) error) (*Message, error) {
	var m *Message
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if m, err = s.lockOutbound(ctx, tx, a, id); err != nil {
			return err
		}
		if !waiting(m) {
			return notWaiting(m)
		}
		return change(tx, m, s.now().Truncate(time.Microsecond))
	})
	if err != nil {
		return nil, err
	}
	s.afterOutboundWrite(ctx, m, "message.updated")
	return m, nil
}

// UpdateOutbound edits a message that has not left yet: its send time, subject or
// body. A new send time re-queues the delivery.
func (s *Service) UpdateOutbound(ctx context.Context, a *Agent, id int64, p OutboundPatch) (*Message, error) {
	return s.changeWaiting(ctx, a, id, func(tx *gorm.DB, m *Message, now time.Time) error {
		updates := map[string]any{"updated_at": now}
		if p.SendAt != nil {
			at, status, err := sendTime(now, OutboundDraft{SendAt: p.SendAt}, a)
			if err != nil {
				return err
			}
			m.SendAt, m.Status = &at, status
			updates["send_at"], updates["status"] = at, status
		}
		if p.Subject != nil {
			subj := strings.TrimSpace(*p.Subject)
			if subj == "" {
				return Invalid("subject", "must not be empty")
			}
			m.Subject = truncate(subj, 998)
			updates["subject"] = m.Subject
		}
		if p.BodyText != nil {
			m.BodyText = *p.BodyText
			updates["body_text"] = m.BodyText
		}
		if p.BodyHTML != nil {
			m.BodyHTML = SanitizeComposerHTML(*p.BodyHTML)
			updates["body_html"] = m.BodyHTML
		}
		if strings.TrimSpace(m.BodyText) == "" && strings.TrimSpace(m.BodyHTML) == "" {
			return Invalid("body", "is required")
		}
		if p.CancelOnReply != nil {
			m.CancelOnReply = *p.CancelOnReply
			updates["cancel_on_reply"] = m.CancelOnReply
		}
		if err := tx.Model(&Message{}).Where("id = ?", m.ID).Updates(updates).Error; err != nil {
			return fmt.Errorf("update message %d: %w", m.ID, err)
		}
		if p.SendAt != nil {
			return RecordEvent(tx, m.TicketID, &a.ID, "outbound_rescheduled", "", m.SendAt.Format(time.RFC3339),
				JSONMap{"message_id": m.ID})
		}
		return nil
	})
}

// SendNowOutbound skips the rest of a message's undo window or schedule.
func (s *Service) SendNowOutbound(ctx context.Context, a *Agent, id int64) (*Message, error) {
	return s.changeWaiting(ctx, a, id, func(tx *gorm.DB, m *Message, now time.Time) error {
		m.SendAt, m.Status = &now, MessageQueued
		return tx.Model(&Message{}).Where("id = ?", m.ID).
			Updates(map[string]any{"send_at": now, "status": MessageQueued, "updated_at": now}).Error
	})
}

// cancelForReply cancels message m (locked) because the customer wrote first.
func cancelForReply(tx *gorm.DB, m *Message, now time.Time) error {
	m.Status = MessageCanceled
	m.FailedReason = "canceled: the customer wrote first"
	err := tx.Model(&Message{}).Where("id = ?", m.ID).Updates(map[string]any{"status": MessageCanceled,
		"failed_reason": m.FailedReason, "updated_at": now}).Error
	if err != nil {
		return fmt.Errorf("cancel message %d: %w", m.ID, err)
	}
	return RecordEvent(tx, m.TicketID, nil, "outbound_canceled", "", "", JSONMap{"message_id": m.ID,
		"reason": "customer replied"})
}

// CancelOnCustomerReply cancels a ticket's waiting messages that asked to be
// canceled when the customer writes first. The inbound path calls it inside its
// transaction; the send task checks again before sending, so a path that forgets
// still cannot send such a message.
func (s *Service) CancelOnCustomerReply(ctx context.Context, tx *gorm.DB, ticketID int64) error {
	var ms []Message
	err := tx.WithContext(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).
		Where("ticket_id = ? AND cancel_on_reply AND status IN ?", ticketID, []string{MessageQueued, MessageScheduled}).
		Find(&ms).Error
	if err != nil {
		return fmt.Errorf("waiting messages of ticket %d: %w", ticketID, err)
	}
	for i := range ms {
		if err := cancelForReply(tx, &ms[i], s.now()); err != nil {
			return err
		}
	}
	return nil
}

// MessageFilter selects messages for GET /messages.
type MessageFilter struct {
	Statuses []string
	AuthorID *int64
	TicketID *int64
	Limit    int
}

// ListMessages lists messages agent a may see, e.g. their scheduled replies.
// Waiting messages come soonest first; others newest first.
func (s *Service) ListMessages(ctx context.Context, a *Agent, f MessageFilter) ([]Message, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 100
	}
	q := s.DB.WithContext(ctx).Scopes(ChannelScope(a, "messages.channel_id"))
	if len(f.Statuses) > 0 {
		q = q.Where("status IN ?", f.Statuses)
	}
	if f.AuthorID != nil {
		q = q.Where("author_agent_id = ?", *f.AuthorID)
	}
	if f.TicketID != nil {
		q = q.Where("ticket_id = ?", *f.TicketID)
	}
	var out []Message
	err := q.Preload("Attachments").Order("send_at ASC NULLS LAST, id DESC").Limit(f.Limit).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	return out, nil
}
