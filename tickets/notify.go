package tickets

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"
)

// Notification kinds.
const (
	NotifyAssignment   = "assignment"
	NotifyMention      = "mention"
	NotifySnoozeWakeup = "snooze_wakeup"
	NotifyDueReminder  = "due_reminder"
	NotifyDuePassed    = "due_passed"
	NotifyNewTicket    = "new_ticket"
)

// Notification tells one agent that something needs them.
type Notification struct {
	ID        int64      `json:"id"`
	AgentID   int64      `json:"agent_id"`
	Kind      string     `json:"kind"`
	TicketID  *int64     `json:"ticket_id"`
	Data      JSONMap    `json:"data"`
	ReadAt    *time.Time `json:"read_at"`
	CreatedAt time.Time  `json:"created_at"`
	// EmailStatus is nil when no e-mail copy was wanted, else pending, sending,
	// sent or failed; EmailedAt is when the copy went out.
	EmailStatus *string    `json:"email_status"`
	EmailedAt   *time.Time `json:"emailed_at"`
}

// NotificationMailer queues the e-mail copy of a notification for an agent who
// asked for it (agents.notify_email), to be sent after delay. It is implemented
// outside the domain (an asynq task, tasks/notify_mail.go) and optional: nil queues
// nothing, and the notification mail sweeper still finds the copies marked pending.
type NotificationMailer interface {
	MailNotification(ctx context.Context, notificationID int64, delay time.Duration) error
}

// uncommittedMailDelay holds back the mail of a notification written in a
// transaction Transact does not manage (mail ingest runs its own): queued at once,
// the task would look for a row not yet committed and wait a whole retry backoff.
const uncommittedMailDelay = 3 * time.Second

// notificationMailWindow holds every notification mail back briefly, so that what
// follows within it for the same agent (the other tickets of a bulk action, a
// mention right after an assignment) goes out in the same mail.
const notificationMailWindow = 2 * time.Second

// Notify stores n inside tx and announces it live once the surrounding Transact
// commits (see PublishAfterCommit). tx may be nil to write outside a transaction.
// When the agent wants notification mail the row is marked email_status=pending in
// the same insert, and the mail is queued after commit.
func (s *Service) Notify(ctx context.Context, tx *gorm.DB, n Notification) error {
	if tx == nil {
		tx = s.DB
	}
	if n.Data == nil {
		n.Data = JSONMap{}
	}
	n.ID, n.ReadAt, n.EmailStatus, n.EmailedAt = 0, nil, nil, nil
	if n.CreatedAt.IsZero() {
		n.CreatedAt = s.now()
	}
	// One statement: every new ticket notifies, so the agent's mail setting is read
	// in the insert rather than by a query of its own.
	var row struct {
		ID          int64
		EmailStatus *string
	}
	err := tx.WithContext(ctx).Raw(`INSERT INTO notifications (agent_id, kind, ticket_id, data, created_at, email_status)
		VALUES (?, ?, ?, ?, ?, (SELECT ?::text FROM agents WHERE id = ? AND notify_email AND disabled_at IS NULL))
		RETURNING id, email_status`,
		n.AgentID, n.Kind, n.TicketID, n.Data, n.CreatedAt, EmailPending, n.AgentID).Scan(&row).Error
	if err != nil {
		return fmt.Errorf("notify agent %d (%s): %w", n.AgentID, n.Kind, err)
	}
	n.ID, n.EmailStatus = row.ID, row.EmailStatus
	s.notified(ctx, n)
	return nil
}

// notified schedules what follows notification n once stored (n.ID and
// n.EmailStatus set): the live event and, when the agent takes notification
// mail, the mail, both after the surrounding commit.
func (s *Service) notified(ctx context.Context, n Notification) {
	wants := n.EmailStatus != nil
	ev := LiveEvent{Kind: "notification", AgentID: n.AgentID,
		Data: map[string]any{"id": n.ID, "kind": n.Kind, "data": map[string]any(n.Data)}}
	if n.TicketID != nil {
		ev.TicketID = *n.TicketID
	}
	s.PublishAfterCommit(ctx, ev)
	if wants && s.Mailer != nil {
		id, delay := n.ID, notificationMailWindow
		if !inTransact(ctx) {
			delay = uncommittedMailDelay
		}
		s.AfterCommit(ctx, func(ctx context.Context) {
			// Mail is a courtesy copy and the sweeper retries it: failing to queue it
			// must not fail the change that caused it.
			if err := s.Mailer.MailNotification(ctx, id, delay); err != nil {
				slog.Warn("queue notification mail; the sweeper will catch it", "agent_id", n.AgentID,
					"notification_id", id, "err", err)
			}
		})
	}
}

// notifyMany sends the same notification to each agent in ids except skip (the
// agent who caused it: nobody needs telling about their own action).
func (s *Service) notifyMany(ctx context.Context, tx *gorm.DB, ids []int64, skip *int64, n Notification) error {
	seen := map[int64]bool{}
	for _, id := range ids {
		if seen[id] || (skip != nil && *skip == id) {
			continue
		}
		seen[id] = true
		n.AgentID = id
		if err := s.Notify(ctx, tx, n); err != nil {
			return err
		}
	}
	return nil
}

// responsibleIDs returns the agents marked responsible for a channel.
func responsibleIDs(tx *gorm.DB, channelID int64) ([]int64, error) {
	var ids []int64
	err := tx.Model(&ChannelMember{}).Where("channel_id = ? AND role = ?", channelID, ResponsibleRole).
		Order("agent_id").Pluck("agent_id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("responsible agents of channel %d: %w", channelID, err)
	}
	return ids, nil
}

// notifyNewTicket tells the channel's responsible agents that a ticket arrived.
func (s *Service) notifyNewTicket(ctx context.Context, tx *gorm.DB, t *Ticket, createdBy *int64) error {
	ids, err := responsibleIDs(tx, t.ChannelID)
	if err != nil {
		return err
	}
	return s.notifyMany(ctx, tx, ids, createdBy, Notification{Kind: NotifyNewTicket, TicketID: &t.ID,
		Data: JSONMap{"subject": t.Subject, "channel_id": t.ChannelID}})
}

// NotificationFilter selects an agent's notifications, newest first.
type NotificationFilter struct {
	UnreadOnly bool
	// Before is the id to continue below (the previous page's cursor); 0 starts at the newest.
	Before int64
	Limit  int
}

// NotificationPage is one page of notifications.
type NotificationPage struct {
	Items       []Notification `json:"items"`
	NextCursor  string         `json:"next_cursor,omitempty"`
	UnreadCount int64          `json:"unread_count"`
}

// Notifications lists agent a's own notifications.
func (s *Service) Notifications(ctx context.Context, a *Agent, f NotificationFilter) (*NotificationPage, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	db := s.DB.WithContext(ctx)
	q := db.Where("agent_id = ?", a.ID)
	if f.UnreadOnly {
		q = q.Where("read_at IS NULL")
	}
	if f.Before > 0 {
		q = q.Where("id < ?", f.Before)
	}
	page := &NotificationPage{Items: []Notification{}}
	if err := q.Order("id DESC").Limit(f.Limit + 1).Find(&page.Items).Error; err != nil {
		return nil, fmt.Errorf("notifications of agent %d: %w", a.ID, err)
	}
	if len(page.Items) > f.Limit {
		page.Items = page.Items[:f.Limit]
		page.NextCursor = fmt.Sprint(page.Items[f.Limit-1].ID)
	}
	if err := db.Model(&Notification{}).Where("agent_id = ? AND read_at IS NULL", a.ID).
		Count(&page.UnreadCount).Error; err != nil {
		return nil, fmt.Errorf("unread notifications of agent %d: %w", a.ID, err)
	}
	return page, nil
}

// MarkNotificationRead marks one of a's notifications read; someone else's is
// ErrNotFound. Marking a read notification again changes nothing.
func (s *Service) MarkNotificationRead(ctx context.Context, a *Agent, id int64) error {
	var n Notification
	db := s.DB.WithContext(ctx)
	if err := db.Where("id = ? AND agent_id = ?", id, a.ID).Take(&n).Error; err != nil {
		return notFound(err, "notification %d", id)
	}
	if n.ReadAt != nil {
		return nil
	}
	if err := db.Model(&n).Where("read_at IS NULL").Update("read_at", s.now()).Error; err != nil {
		return fmt.Errorf("mark notification %d read: %w", id, err)
	}
	return nil
}

// MarkAllNotificationsRead marks every unread notification of a read and returns
// how many changed.
func (s *Service) MarkAllNotificationsRead(ctx context.Context, a *Agent) (int64, error) {
	res := s.DB.WithContext(ctx).Model(&Notification{}).Where("agent_id = ? AND read_at IS NULL", a.ID).
		Update("read_at", s.now())
	if res.Error != nil {
		return 0, fmt.Errorf("mark notifications of agent %d read: %w", a.ID, res.Error)
	}
	return res.RowsAffected, nil
}
