package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	pdmail "github.com/postdesk/postdesk/mail"
	"github.com/postdesk/postdesk/tickets"
)

// E-mail copies of notifications, for agents with notify_email on. Notify marks the
// row pending in the notifying transaction and queues TypeNotifyMail after commit,
// with the task id notify-mail:<notification id>, so queueing twice makes one task.
// The handler claims the row (pending → sending, committed) before it talks to the
// relay and marks it sent after, so a rerun of the task sends nothing; the sweeper
// re-queues copies whose task was lost with Redis or whose worker died mid-claim.
const (
	TypeNotifyMail      = "notify:mail"
	TypeNotifyMailSweep = "notify:mail_sweep"
)

// notifyMailLease is how long a claimed copy belongs to the worker that claimed
// it; past it the sweeper hands it to another. It outlasts the task's timeout.
const notifyMailLease = 10 * time.Minute

// notifyMailMinAge keeps the sweeper off copies whose task was queued moments ago.
const notifyMailMinAge = 30 * time.Second

// notifyMailMaxRetry is the retries after a temporary failure (about 40 minutes
// with the default backoff), and notifyMailUnseenRetries how often a task looks
// for a row it cannot see before deciding the notifying transaction rolled back.
const (
	notifyMailMaxRetry      = 8
	notifyMailUnseenRetries = 3
)

type notifyMailPayload struct {
	NotificationID int64 `json:"notification_id"`
}

// NotifyMailTaskID is the deterministic task id of notification id's mail.
func NotifyMailTaskID(id int64) string { return "notify-mail:" + strconv.FormatInt(id, 10) }

// NotifyMailQueue implements tickets.NotificationMailer on asynq.
type NotifyMailQueue struct {
	Client *Client
}

// MailNotification queues the e-mail copy of notification id to run after delay.
func (q *NotifyMailQueue) MailNotification(ctx context.Context, id int64, delay time.Duration) error {
	b, _ := json.Marshal(notifyMailPayload{NotificationID: id})
	opts := []asynq.Option{asynq.TaskID(NotifyMailTaskID(id)), asynq.Queue(QueueDefault),
		asynq.MaxRetry(notifyMailMaxRetry), asynq.Timeout(5 * time.Minute)}
	if delay > 0 {
		opts = append(opts, asynq.ProcessIn(delay))
	}
	return q.Client.Enqueue(ctx, asynq.NewTask(TypeNotifyMail, b), opts...)
}

// NotifyMailer delivers notification copies through the default relay
// (POSTDESK_SMTP_RELAY): they come from the desk, not from a channel's mailbox.
type NotifyMailer struct {
	Tickets *tickets.Service
	Sender  *Sender
	Log     *slog.Logger
}

func registerNotifyMail(w *Worker, d Deps) {
	m := &NotifyMailer{Tickets: d.Tickets, Log: d.Log,
		Sender: &Sender{Tickets: d.Tickets, Config: d.Send, Log: d.Log}}
	if m.Log == nil {
		m.Log = slog.Default()
	}
	q := &NotifyMailQueue{Client: d.Client}
	w.Handle(TypeNotifyMail, m.Handle)
	w.Handle(TypeNotifyMailSweep, func(ctx context.Context, _ *asynq.Task) error {
		n, err := SweepNotifyMail(ctx, d.Tickets, q)
		if n > 0 {
			m.Log.Info("notification mail sweep queued copies", "count", n)
		}
		return err
	})
	w.Every(Periodic{Every: SweepEvery, Task: asynq.NewTask(TypeNotifyMailSweep, nil)})
}

// SweepNotifyMail gives up copies older than a day and queues the ones still
// waiting. It returns how many it queued.
func SweepNotifyMail(ctx context.Context, svc *tickets.Service, q tickets.NotificationMailer) (int, error) {
	if _, err := svc.ExpireNotificationMails(ctx); err != nil {
		return 0, err
	}
	ids, err := svc.DueNotificationMails(ctx, notifyMailMinAge, notifyMailLease, 500)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := q.MailNotification(ctx, id, 0); err != nil {
			return 0, fmt.Errorf("sweep notification mail %d: %w", id, err)
		}
	}
	return len(ids), nil
}

// Handle runs one TypeNotifyMail task.
func (m *NotifyMailer) Handle(ctx context.Context, t *asynq.Task) error {
	var p notifyMailPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.NotificationID == 0 {
		return fmt.Errorf("%s payload %q: %w", TypeNotifyMail, t.Payload(), asynq.SkipRetry)
	}
	retried, _ := asynq.GetRetryCount(ctx)
	b, err := m.Tickets.ClaimNotificationMail(ctx, p.NotificationID, notifyMailLease)
	switch {
	case errors.Is(err, tickets.ErrNoMailToSend):
		return nil
	case errors.Is(err, tickets.ErrNotFound) && retried >= notifyMailUnseenRetries:
		return nil // the notifying transaction rolled back, or the ticket was deleted
	case errors.Is(err, tickets.ErrNotFound):
		return fmt.Errorf("notification %d is not visible yet: %w", p.NotificationID, err)
	case err != nil:
		return err
	}
	ids := b.IDs()
	log := m.Log.With("notification_id", p.NotificationID, "agent_id", b[0].AgentID, "batch", len(b), "attempt", retried)
	derr := m.deliver(ctx, b)
	if derr == nil {
		// The mail is out: record it even if the task's context ended meanwhile.
		if err := m.Tickets.MarkNotificationMailed(context.WithoutCancel(ctx), ids); err != nil {
			log.Error("mailed, but could not record it", "err", err)
			return fmt.Errorf("record notification mail: %w", asynq.SkipRetry)
		}
		return nil
	}
	maxRetry, ok := asynq.GetMaxRetry(ctx)
	if !ok {
		maxRetry = notifyMailMaxRetry
	}
	if isPermanent(derr) || retried >= maxRetry {
		log.Warn("notification mail failed", "err", derr)
		if err := m.Tickets.MarkNotificationMailFailed(context.WithoutCancel(ctx), ids, derr.Error()); err != nil {
			return err
		}
		return fmt.Errorf("%v: %w", derr, asynq.SkipRetry)
	}
	if err := m.Tickets.MarkNotificationMailRetry(context.WithoutCancel(ctx), ids, derr.Error()); err != nil {
		return err
	}
	return derr
}

// deliver sends one mail for the batch: the notification itself when it is alone,
// a digest listing each when several waited.
func (m *NotifyMailer) deliver(ctx context.Context, b tickets.NotificationBatch) error {
	from, err := m.from()
	if err != nil {
		return Permanent(err)
	}
	first := &b[0]
	to, err := mail.ParseAddress(first.AgentEmail)
	if err != nil {
		return Permanent(fmt.Errorf("agent address %q: %w", first.AgentEmail, err))
	}
	to.Name = first.AgentName
	cfg := m.Sender.Config
	base := strings.TrimRight(cfg.BaseURL, "/")
	out := &pdmail.Outgoing{From: from, To: []*mail.Address{to}, Date: time.Now(), AutoGenerated: true,
		// The id of the first notification names the mail: a resend after a lost
		// claim is recognisably the same mail to the agent's client.
		MessageID: fmt.Sprintf("notification-%d@%s", first.ID, hostOr(cfg.Hostname))}
	if len(b) == 1 {
		out.Subject, out.Text = notificationSubject(first), notificationText(first, base)
	} else {
		out.Subject, out.Text = digestSubject(b), digestText(b, base)
	}
	var buf bytes.Buffer
	if err := pdmail.WriteOutgoing(&buf, out); err != nil {
		return Permanent(fmt.Errorf("build notification mail %d: %w", first.ID, err))
	}
	return m.Sender.Relay(nil).Send(ctx, from.Address, []string{to.Address}, &buf)
}

// from is the configured sender of notification mail, or postdesk@<hostname>.
func (m *NotifyMailer) from() (*mail.Address, error) {
	cfg := m.Sender.Config
	if cfg.NotifyFrom == "" {
		return &mail.Address{Name: "Postdesk", Address: "postdesk@" + hostOr(cfg.Hostname)}, nil
	}
	a, err := mail.ParseAddress(cfg.NotifyFrom)
	if err != nil {
		return nil, fmt.Errorf("notification sender %q: %w", cfg.NotifyFrom, err)
	}
	return a, nil
}

func hostOr(h string) string {
	if h == "" {
		return "localhost"
	}
	return h
}
