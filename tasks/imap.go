package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/postdesk/postdesk/mail"
	"github.com/postdesk/postdesk/tickets"
)

// IMAP polling: the scheduler enqueues imap:poll-all every IMAPPollInterval; it
// enqueues one imap:poll per IMAP mailbox that is due (not resting after failures).
// Each imap:poll runs one session of mail.IMAPPoller, which holds the mailbox's
// Postgres advisory lock: that lock, not the queue, guarantees a single poller per
// mailbox across every worker process. The queue's uniqueness only keeps tasks from
// piling up when workers are busy; a task that finds the mailbox locked ends at once.
const (
	TypeIMAPPollAll = "imap:poll-all"
	TypeIMAPPoll    = "imap:poll"
)

// DefaultIMAPPollInterval is how often mailboxes without IDLE are polled.
const DefaultIMAPPollInterval = 60 * time.Second

type imapPollPayload struct {
	MailboxID int64 `json:"mailbox_id"`
}

// NewIMAPPollTask is the task that polls one mailbox.
func NewIMAPPollTask(mailboxID int64) *asynq.Task {
	b, _ := json.Marshal(imapPollPayload{MailboxID: mailboxID})
	return asynq.NewTask(TypeIMAPPoll, b)
}

func registerIMAP(w *Worker, d Deps) {
	if d.IMAP == nil {
		return
	}
	interval := d.IMAPPollInterval
	if interval <= 0 {
		interval = DefaultIMAPPollInterval
	}
	w.Handle(TypeIMAPPollAll, func(ctx context.Context, t *asynq.Task) error {
		return enqueueIMAPPolls(ctx, d, interval, time.Now())
	})
	w.Handle(TypeIMAPPoll, func(ctx context.Context, t *asynq.Task) error {
		var p imapPollPayload
		if err := json.Unmarshal(t.Payload(), &p); err != nil {
			return fmt.Errorf("%s payload: %w: %w", TypeIMAPPoll, err, asynq.SkipRetry)
		}
		err := d.IMAP.Poll(ctx, p.MailboxID)
		if err != nil && !errors.Is(err, mail.ErrMailboxBusy) {
			// Recorded on the mailbox, which backs off; the next poll-all retries.
			d.Log.Warn("imap poll failed", "mailbox_id", p.MailboxID, "err", err)
		}
		return nil
	})
	w.Every(Periodic{Every: interval, Task: asynq.NewTask(TypeIMAPPollAll, nil), Queue: QueueDefault})
}

// enqueueIMAPPolls enqueues a poll for every IMAP mailbox due at now.
func enqueueIMAPPolls(ctx context.Context, d Deps, interval time.Duration, now time.Time) error {
	boxes, err := d.Tickets.IMAPMailboxes(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for i := range boxes {
		m := &boxes[i]
		if !mail.IMAPDue(m, now) {
			continue
		}
		// A session (IDLE included) is bounded by the poller's SessionMax; give the
		// task room beyond it so asynq never cuts a session short.
		err := d.Client.Enqueue(ctx, NewIMAPPollTask(m.ID), asynq.Queue(QueueDefault), asynq.MaxRetry(0),
			asynq.Unique(2*interval), asynq.Timeout(d.IMAP.SessionLimit()+5*time.Minute))
		if err != nil {
			errs = append(errs, fmt.Errorf("mailbox %d: %w", m.ID, err))
		}
	}
	return errors.Join(errs...)
}

// CheckIMAP tries mailbox m's IMAP settings (connect, log in, open the folder)
// without fetching anything, for the settings screen.
func CheckIMAP(ctx context.Context, m *tickets.Mailbox) error {
	return mail.CheckIMAP(ctx, m, nil)
}
