package tickets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// States of a notification's e-mail copy (notifications.email_status).
const (
	EmailPending = "pending"
	EmailSending = "sending"
	EmailSent    = "sent"
	EmailFailed  = "failed"
)

// ErrNoMailToSend is a notification whose e-mail copy is not waiting: none was
// wanted, it went out or failed already, or another worker holds a live claim.
var ErrNoMailToSend = errors.New("notification mail is not waiting to be sent")

// NotificationMail is one claimed copy with what the mail needs to say about it.
type NotificationMail struct {
	Notification
	AgentEmail    string
	AgentName     string
	TicketNumber  int64
	TicketSubject string
}

// NotificationBatch is the copies one mail carries: all for one agent, oldest first.
type NotificationBatch []NotificationMail

// IDs are the notifications in the batch.
func (b NotificationBatch) IDs() []int64 {
	ids := make([]int64, len(b))
	for i, n := range b {
		ids[i] = n.ID
	}
	return ids
}

// MaxNotificationBatch bounds how many notifications one mail carries.
const MaxNotificationBatch = 50

// ClaimNotificationMail moves notification id's copy from pending to sending, with
// every other copy still waiting for the same agent (up to MaxNotificationBatch), and
// commits before the caller talks to a relay. One mail then carries them all: a bulk
// assignment of forty tickets is one mail, not forty. A second run of the same task
// (a retry after a lost acknowledgement, the sweeper), or the task of a notification
// that went out in another's batch, finds its copy taken and sends nothing. A claim
// older than lease belongs to a worker that died and is taken over; the price is
// that a worker dying mid-DATA may cause a second copy after the lease, which beats
// losing the mail. ErrNotFound means the row is not visible (yet, or ever: the
// notifying transaction rolled back); ErrNoMailToSend that its copy is not waiting.
func (s *Service) ClaimNotificationMail(ctx context.Context, id int64, lease time.Duration) (NotificationBatch, error) {
	db := s.DB.WithContext(ctx)
	now := s.now()
	var claimed []int64
	// Claims for one agent take turns: the tasks of a burst fall due together, and
	// the first claims every waiting copy while the others then find theirs taken
	// (claiming at once, they split the burst into several mails). The lock is held
	// only until the claim commits, never while mail is sent. SKIP LOCKED then only
	// passes over rows a claim from before a crash still holds; the task's own row
	// comes first so it is in its own batch whatever the limit.
	err := db.Transaction(func(tx *gorm.DB) error {
		err := tx.Exec(`SELECT pg_advisory_xact_lock(hashtextextended('notify-mail:' || agent_id, 0))
			FROM notifications WHERE id = ?`, id).Error
		if err != nil {
			return err
		}
		return tx.Raw(`WITH own AS (
			SELECT id, agent_id FROM notifications
			WHERE id = ? AND (email_status = 'pending' OR (email_status = 'sending' AND email_claimed_at < ?))
			FOR UPDATE SKIP LOCKED),
		batch AS (
			SELECT m.id FROM notifications m JOIN own ON m.agent_id = own.agent_id
			WHERE m.email_status = 'pending' OR (m.email_status = 'sending' AND m.email_claimed_at < ?)
			ORDER BY m.id = own.id DESC, m.id
			LIMIT ?
			FOR UPDATE OF m SKIP LOCKED)
		UPDATE notifications SET email_status = 'sending', email_claimed_at = ?
		WHERE id IN (SELECT id FROM batch)
		RETURNING id`, id, now.Add(-lease), now.Add(-lease), MaxNotificationBatch, now).Scan(&claimed).Error
	})
	if err != nil {
		return nil, fmt.Errorf("claim mail of notification %d: %w", id, err)
	}
	if len(claimed) == 0 {
		var n int64
		if err := db.Model(&Notification{}).Where("id = ?", id).Count(&n).Error; err != nil {
			return nil, fmt.Errorf("notification %d: %w", id, err)
		}
		if n == 0 {
			return nil, ErrNotFound
		}
		return nil, ErrNoMailToSend
	}
	var b NotificationBatch
	err = db.Raw(`SELECT n.*, a.email AS agent_email, a.name AS agent_name,
			COALESCE(t.number, 0) AS ticket_number, COALESCE(t.subject, '') AS ticket_subject
		FROM notifications n
		JOIN agents a ON a.id = n.agent_id
		LEFT JOIN tickets t ON t.id = n.ticket_id
		WHERE n.id IN ?
		ORDER BY n.id`, claimed).Scan(&b).Error
	if err != nil {
		return nil, fmt.Errorf("load mail of notification %d: %w", id, err)
	}
	return b, nil
}

// MarkNotificationMailed records that the copies went out.
func (s *Service) MarkNotificationMailed(ctx context.Context, ids []int64) error {
	return s.setNotificationMail(ctx, ids, EmailSent, "")
}

// MarkNotificationMailRetry hands the copies back to pending after a temporary
// failure, keeping the reason for whoever looks.
func (s *Service) MarkNotificationMailRetry(ctx context.Context, ids []int64, reason string) error {
	return s.setNotificationMail(ctx, ids, EmailPending, reason)
}

// MarkNotificationMailFailed gives the copies up with the reason.
func (s *Service) MarkNotificationMailFailed(ctx context.Context, ids []int64, reason string) error {
	return s.setNotificationMail(ctx, ids, EmailFailed, reason)
}

func (s *Service) setNotificationMail(ctx context.Context, ids []int64, status, reason string) error {
	updates := map[string]any{"email_status": status, "email_claimed_at": nil, "email_error": reason}
	if status == EmailSent {
		updates["emailed_at"] = s.now()
	}
	err := s.DB.WithContext(ctx).Model(&Notification{}).Where("id IN ? AND email_status = 'sending'", ids).
		Updates(updates).Error
	if err != nil {
		return fmt.Errorf("mark mail of notifications %v %s: %w", ids, status, err)
	}
	return nil
}

// maxLateNotificationMail bounds how old a notification the sweeper still mails:
// a day-old "assigned to you" is news the agent has seen in the desk by then.
const maxLateNotificationMail = 24 * time.Hour

// DueNotificationMails lists notifications whose copy is waiting (pending, or
// claimed longer than lease ago), oldest first, made at least minAge ago so the
// sweeper leaves fresh ones to the task queued after commit.
func (s *Service) DueNotificationMails(ctx context.Context, minAge, lease time.Duration, limit int) ([]int64, error) {
	now := s.now()
	var ids []int64
	err := s.DB.WithContext(ctx).Raw(`SELECT id FROM notifications
		WHERE email_status IN ('pending', 'sending')
		  AND (email_status = 'pending' OR email_claimed_at < ?)
		  AND created_at BETWEEN ? AND ?
		ORDER BY id LIMIT ?`, now.Add(-lease), now.Add(-maxLateNotificationMail), now.Add(-minAge), limit).
		Scan(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("notification mails due: %w", err)
	}
	return ids, nil
}

// ExpireNotificationMails gives up copies still waiting past the point where the
// sweeper would send them (the system was down longer than that), so they leave
// the sweeper's index. It returns how many were given up.
func (s *Service) ExpireNotificationMails(ctx context.Context) (int64, error) {
	res := s.DB.WithContext(ctx).Exec(`UPDATE notifications
		SET email_status = 'failed', email_claimed_at = NULL, email_error = 'not sent within a day; dropped'
		WHERE email_status IN ('pending', 'sending') AND created_at < ?`, s.now().Add(-maxLateNotificationMail))
	if res.Error != nil {
		return 0, fmt.Errorf("expire notification mails: %w", res.Error)
	}
	return res.RowsAffected, nil
}
