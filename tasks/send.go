package tasks

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	pdmail "github.com/postdesk/postdesk/mail"
	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/tickets"
)

// TypeSend delivers one outbound message; TypeSendSweep re-queues due messages
// from Postgres, so a flushed Redis or a crashed worker loses nothing.
const (
	TypeSend      = "outbound:send"
	TypeSendSweep = "outbound:sweep"
)

// SendConfig is what delivery needs beyond the database.
type SendConfig struct {
	// DefaultRelay is used by mailboxes without an SMTP host of their own.
	DefaultRelay pdmail.Relay
	// BaseURL is the public URL the read-tracking pixel and the signed media links
	// of messenger replies point at.
	BaseURL string
	// Hostname is our EHLO name.
	Hostname string
	// NotifyFrom is the From address of notification mail to agents (empty:
	// postdesk@Hostname).
	NotifyFrom string
	// TLSConfig, when set, replaces the default TLS settings towards relays.
	TLSConfig *tls.Config
	// MaxRetry is the number of retries after a temporary failure (default 8:
	// with the default backoff about 40 minutes in all).
	MaxRetry int
	// SweepEvery is the sweeper's period (default 30 s).
	SweepEvery time.Duration
}

func (c SendConfig) maxRetry() int {
	if c.MaxRetry <= 0 {
		return 8
	}
	return c.MaxRetry
}

type sendPayload struct {
	MessageID int64 `json:"message_id"`
}

// SendQueue implements tickets.SendScheduler on asynq.
type SendQueue struct {
	Client   *Client
	MaxRetry int
}

// sendTaskID names the task for one message and send time: enqueueing it twice
// (the API and the sweeper) makes one task, and a reschedule makes a new one while
// the old one, if it still fires, finds the message not due and stops.
func sendTaskID(id int64, at time.Time) string {
	return "send:" + strconv.FormatInt(id, 10) + ":" + strconv.FormatInt(at.UnixMicro(), 10)
}

// ScheduleSend queues delivery of a message at time at.
func (q *SendQueue) ScheduleSend(ctx context.Context, messageID int64, at time.Time) error {
	b, _ := json.Marshal(sendPayload{MessageID: messageID})
	maxRetry := q.MaxRetry
	if maxRetry <= 0 {
		maxRetry = 8
	}
	return q.Client.Enqueue(ctx, asynq.NewTask(TypeSend, b), asynq.Queue(QueueCritical),
		asynq.TaskID(sendTaskID(messageID, at)), asynq.ProcessAt(at), asynq.MaxRetry(maxRetry),
		asynq.Timeout(5*time.Minute))
}

// CancelSend removes the queued task of a message, if it is still waiting.
func (q *SendQueue) CancelSend(ctx context.Context, messageID int64, at time.Time) error {
	return q.Client.Delete(ctx, QueueCritical, sendTaskID(messageID, at))
}

// Permanent marks a delivery error as final: the message fails at once instead of
// being retried. Adapters other than mail (messengers) wrap their errors with it.
func Permanent(err error) error { return &permanentError{err} }

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func isPermanent(err error) bool {
	var pe *permanentError
	if errors.As(err, &pe) {
		return true
	}
	var de *pdmail.DeliveryError
	return errors.As(err, &de) && !de.Temporary
}

// Sender delivers outbound messages.
type Sender struct {
	Tickets *tickets.Service
	Blobs   *tickets.Blobs
	Config  SendConfig
	Log     *slog.Logger
	// Messengers holds the adapters for replies through messenger connections.
	Messengers *messengers.Receiver
}

func registerSend(w *Worker, d Deps) {
	s := &Sender{Tickets: d.Tickets, Blobs: d.Blobs, Config: d.Send, Log: d.Log, Messengers: d.Messengers}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	q := &SendQueue{Client: d.Client, MaxRetry: d.Send.maxRetry()}
	w.Handle(TypeSend, s.handleSend)
	w.Handle(TypeSendSweep, func(ctx context.Context, _ *asynq.Task) error {
		_, err := SweepSends(ctx, d.Tickets, q)
		return err
	})
	every := d.Send.SweepEvery
	if every <= 0 {
		every = 30 * time.Second
	}
	w.Every(Periodic{Every: every, Task: asynq.NewTask(TypeSendSweep, nil), Queue: QueueCritical})
}

// SweepSends queues every message due within the next minute (and any stuck in
// "sending" past its lease). Tasks already queued are left alone (same task id).
func SweepSends(ctx context.Context, svc *tickets.Service, q tickets.SendScheduler) (int, error) {
	due, err := svc.DueSends(ctx, time.Now().Add(time.Minute), 1000)
	if err != nil {
		return 0, err
	}
	for _, d := range due {
		if err := q.ScheduleSend(ctx, d.ID, d.SendAt); err != nil {
			return 0, fmt.Errorf("sweep message %d: %w", d.ID, err)
		}
	}
	return len(due), nil
}

// earlyTask bounds how long before its message is due a send task waits instead
// of finishing: a message rescheduled further out has a task of its own.
const earlyTask = 2 * time.Second

func (s *Sender) handleSend(ctx context.Context, t *asynq.Task) error {
	var p sendPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.MessageID == 0 {
		return fmt.Errorf("send payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	m, err := s.Tickets.ClaimSend(ctx, p.MessageID)
	var early *tickets.NotDueError
	if errors.As(err, &early) && time.Until(early.At) < earlyTask {
		// asynq keeps scheduled times in whole seconds, so a task may start up to a
		// second before its message is due: wait for it rather than drop the send.
		select {
		case <-time.After(time.Until(early.At)):
		case <-ctx.Done():
			return ctx.Err()
		}
		m, err = s.Tickets.ClaimSend(ctx, p.MessageID)
	}
	switch {
	case errors.Is(err, tickets.ErrNotSendable), errors.Is(err, tickets.ErrNotDue), errors.Is(err, tickets.ErrNotFound):
		return nil
	case err != nil:
		return err // in flight elsewhere, or the database is away: try again later
	}
	log := s.logger().With("message_id", m.ID, "ticket_id", m.TicketID, "attempt", m.Attempts)
	providerID, derr := s.deliver(ctx, m)
	if derr == nil {
		// The mail is out; recording it must not be lost, or a later sweep would
		// send it again. Try a few times before giving up to the lease.
		var err error
		for i := 0; i < 5; i++ {
			if err = s.Tickets.MarkSent(context.WithoutCancel(ctx), m.ID, providerID); err == nil {
				break
			}
			time.Sleep(time.Duration(i+1) * 200 * time.Millisecond)
		}
		if err != nil {
			log.Error("sent, but could not record it", "err", err)
			return fmt.Errorf("record sent: %w", asynq.SkipRetry)
		}
		log.Info("message sent")
		return nil
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, ok := asynq.GetMaxRetry(ctx)
	if !ok {
		maxRetry = s.Config.maxRetry()
	}
	if isPermanent(derr) || retried >= maxRetry {
		log.Warn("message failed", "err", derr)
		if err := s.Tickets.MarkSendFailed(context.WithoutCancel(ctx), m.ID, derr.Error()); err != nil {
			return err
		}
		return fmt.Errorf("%v: %w", derr, asynq.SkipRetry)
	}
	log.Info("delivery failed; will retry", "err", derr)
	if err := s.Tickets.MarkSendRetry(context.WithoutCancel(ctx), m.ID, derr.Error()); err != nil {
		return err
	}
	return derr
}

// deliver hands a claimed message to its channel: a mailbox's SMTP relay, or a
// messenger connection (tasks/messenger.go), and returns the provider's message id
// where there is one.
func (s *Sender) deliver(ctx context.Context, m *tickets.Message) (string, error) {
	switch {
	case m.MailboxID != nil:
		return "", s.deliverMail(ctx, m)
	case m.MessengerConnectionID != nil:
		return s.deliverMessenger(ctx, m)
	}
	return "", Permanent(errors.New("the message has no mailbox or messenger to leave through"))
}

// Relay returns the relay a mailbox sends through: its own, or the default.
func (s *Sender) Relay(mb *tickets.Mailbox) pdmail.Relay {
	r := s.Config.DefaultRelay
	if mb != nil && mb.SMTPHost != "" {
		r = pdmail.Relay{Host: mb.SMTPHost, Port: mb.SMTPPort, Security: mb.SMTPSecurity,
			Username: mb.SMTPUsername, Password: mb.SMTPPassword}
	}
	r.LocalName = s.Config.Hostname
	if s.Config.TLSConfig != nil {
		r.TLSConfig = s.Config.TLSConfig
	}
	return r
}

// CheckSMTP is a mailbox's "test connection": connect, TLS, log in, quit.
func (s *Sender) CheckSMTP(ctx context.Context, mb *tickets.Mailbox) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return s.Relay(mb).Check(ctx)
}

func (s *Sender) deliverMail(ctx context.Context, m *tickets.Message) error {
	mb, err := s.Tickets.MailboxByID(ctx, *m.MailboxID)
	if errors.Is(err, tickets.ErrNotFound) {
		return Permanent(errors.New("the mailbox this message was to leave through was deleted"))
	}
	if err != nil {
		return err
	}
	out, rcpts, err := s.outgoing(m)
	if err != nil {
		return err
	}
	if mb.Inbound == "smtp" {
		// Our own SMTP server maps box+t<N>-<token>@ back to the box, so answers from
		// clients that drop In-Reply-To and References still thread onto the ticket.
		// IMAP mailboxes live at providers that may not accept plus addresses.
		var tk struct {
			Number     int64
			ReplyToken string
		}
		if err := s.Tickets.DB.WithContext(ctx).Raw(`SELECT number, reply_token FROM tickets WHERE id = ?`, m.TicketID).
			Scan(&tk).Error; err != nil {
			return fmt.Errorf("reply token of ticket %d: %w", m.TicketID, err)
		}
		if addr := pdmail.ReplyAddress(m.FromAddress, tk.Number, tk.ReplyToken); addr != m.FromAddress {
			out.ReplyTo = &mail.Address{Name: m.FromName, Address: addr}
		}
	}
	var buf bytes.Buffer
	if err := pdmail.WriteOutgoing(&buf, out); err != nil {
		return fmt.Errorf("build message %d: %w", m.ID, err)
	}
	raw := buf.Bytes()
	key, err := s.Tickets.DKIMKeyFor(ctx, m.FromAddress)
	if err != nil {
		return err
	}
	if key != nil {
		k, err := pdmail.ParseDKIMKey(key.Domain, key.Selector, key.PrivateKey)
		if err != nil {
			return Permanent(fmt.Errorf("DKIM key of %s: %w", key.Domain, err))
		}
		var signed bytes.Buffer
		if err := pdmail.SignDKIM(&signed, bytes.NewReader(raw), k); err != nil {
			return Permanent(err)
		}
		raw = signed.Bytes()
	}
	if err := s.Relay(mb).Send(ctx, m.FromAddress, rcpts, bytes.NewReader(raw)); err != nil {
		return err
	}
	if mb.Inbound == "imap" && mb.IMAPSentFolder != "" {
		// The mail is out; a failed copy to Sent must not make it fail or go again.
		if err := pdmail.AppendSent(ctx, mb, s.Config.TLSConfig, raw); err != nil {
			s.logger().Warn("copy to Sent folder", "message_id", m.ID, "mailbox_id", mb.ID, "err", err)
		}
	}
	return nil
}

// outgoing turns a message row into the mail to write, and its envelope recipients.
func (s *Sender) outgoing(m *tickets.Message) (*pdmail.Outgoing, []string, error) {
	parse := func(list []string) ([]*mail.Address, error) {
		out := make([]*mail.Address, 0, len(list))
		for _, raw := range list {
			a, err := mail.ParseAddress(raw)
			if err != nil {
				return nil, Permanent(fmt.Errorf("recipient %q does not parse: %w", raw, err))
			}
			out = append(out, a)
		}
		return out, nil
	}
	to, err := parse(m.ToAddresses)
	if err != nil {
		return nil, nil, err
	}
	cc, err := parse(m.CcAddresses)
	if err != nil {
		return nil, nil, err
	}
	bcc, err := parse(m.BccAddresses)
	if err != nil {
		return nil, nil, err
	}
	var rcpts []string
	for _, l := range [][]*mail.Address{to, cc, bcc} {
		for _, a := range l {
			rcpts = append(rcpts, a.Address)
		}
	}
	if len(rcpts) == 0 {
		return nil, nil, Permanent(errors.New("the message has no recipients"))
	}
	out := &pdmail.Outgoing{
		From: &mail.Address{Name: m.FromName, Address: m.FromAddress}, To: to, Cc: cc, Subject: m.Subject,
		MessageID: m.MessageIDHeader, InReplyTo: m.InReplyTo, References: m.References, Date: time.Now(),
		Text: m.BodyText, HTML: m.BodyHTML, AutoSubmitted: m.IsAutoReply,
	}
	if m.TrackingToken != "" && s.Config.BaseURL != "" {
		out.PixelURL = strings.TrimRight(s.Config.BaseURL, "/") + "/o/" + m.TrackingToken + ".gif"
	}
	for _, a := range m.Attachments {
		sum := a.SHA256
		out.Attachments = append(out.Attachments, pdmail.OutgoingAttachment{Filename: a.Filename,
			ContentType: a.ContentType, Open: func() (io.ReadCloser, error) { return s.Blobs.Open(sum) }})
	}
	return out, rcpts, nil
}

// CheckDKIMKey tells whether a stored DKIM key can sign (for the admin API, which
// does not speak MIME itself).
func CheckDKIMKey(k tickets.DKIMKey) error {
	_, err := pdmail.ParseDKIMKey(k.Domain, k.Selector, k.PrivateKey)
	return err
}

func (s *Sender) logger() *slog.Logger {
	if s.Log == nil {
		return slog.Default()
	}
	return s.Log
}
