package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/tickets"
)

// Messenger task types.
const (
	// TypeMessengerPoll fetches updates for one polling connection (Telegram getUpdates).
	TypeMessengerPoll = "messenger:poll"
	// TypeMessengerPollAll enqueues a poll for every polling connection.
	TypeMessengerPollAll = "messenger:poll-all"
)

type messengerPayload struct {
	ConnectionID int64 `json:"connection_id"`
}

func registerMessengers(w *Worker, d Deps) {
	if d.Messengers == nil {
		return
	}
	w.Handle(TypeMessengerPoll, func(ctx context.Context, t *asynq.Task) error {
		var p messengerPayload
		if err := json.Unmarshal(t.Payload(), &p); err != nil {
			return fmt.Errorf("%w: %v", asynq.SkipRetry, err)
		}
		return PollMessenger(ctx, d, p.ConnectionID)
	})
	w.Handle(TypeMessengerPollAll, func(ctx context.Context, t *asynq.Task) error {
		return enqueuePolls(ctx, d)
	})
	w.Every(Periodic{Every: 5 * time.Second, Task: asynq.NewTask(TypeMessengerPollAll, nil)})
}

// enqueuePolls starts one poll per polling connection. The unique lock keeps a
// connection to one poll at a time, whatever the number of schedulers and workers:
// two concurrent getUpdates calls would fight over the offset.
func enqueuePolls(ctx context.Context, d Deps) error {
	var ids []int64
	err := d.Tickets.DB.WithContext(ctx).Table("messenger_connections").
		Where("enabled AND provider = 'telegram' AND settings->>'mode' = 'polling'").Pluck("id", &ids).Error
	if err != nil {
		return fmt.Errorf("polling connections: %w", err)
	}
	for _, id := range ids {
		b, _ := json.Marshal(messengerPayload{ConnectionID: id})
		err := d.Client.Enqueue(ctx, asynq.NewTask(TypeMessengerPoll, b), asynq.Queue(QueueDefault),
			asynq.Unique(2*time.Minute), asynq.MaxRetry(0), asynq.Timeout(90*time.Second))
		if err != nil {
			return err
		}
	}
	return nil
}

// PollMessenger fetches and stores one batch of updates, then advances the stored
// offset. The offset moves only after the messages are committed, so a crash
// in between re-fetches them and the unique provider id drops the repeats.
func PollMessenger(ctx context.Context, d Deps, connectionID int64) error {
	c, err := messengers.LoadConn(ctx, d.Tickets.DB, connectionID)
	if err != nil {
		return err
	}
	a, err := d.Messengers.Registry.Get(c.Provider)
	if err != nil {
		return err
	}
	p, ok := a.(messengers.Poller)
	if !ok || !c.Enabled {
		return nil
	}
	up, err := p.Poll(ctx, c)
	if err != nil {
		setConnError(ctx, d, c.ID, err)
		return err
	}
	if _, err := d.Messengers.Apply(ctx, c, up); err != nil {
		setConnError(ctx, d, c.ID, err)
		return err
	}
	updates := map[string]any{"last_error": ""}
	if up.Offset > c.PollOffset {
		updates["poll_offset"] = up.Offset
	}
	return d.Tickets.DB.WithContext(ctx).Table("messenger_connections").Where("id = ?", c.ID).Updates(updates).Error
}

func setConnError(ctx context.Context, d Deps, id int64, err error) {
	d.Tickets.DB.WithContext(ctx).Table("messenger_connections").Where("id = ?", id).Update("last_error", err.Error())
}

// deliverMessenger sends a claimed outbound message through its messenger
// connection and returns the provider's message id. Temporary failures (5xx, 429,
// timeouts) come back as they are, for the send task to retry with backoff; any
// other failure is Permanent.
func (s *Sender) deliverMessenger(ctx context.Context, m *tickets.Message) (string, error) {
	if s.Messengers == nil {
		return "", Permanent(errors.New("this worker runs without messenger adapters"))
	}
	c, err := messengers.LoadConn(ctx, s.Tickets.DB, *m.MessengerConnectionID)
	if errors.Is(err, tickets.ErrNotFound) {
		return "", Permanent(errors.New("the messenger connection this message was to leave through was deleted"))
	}
	if err != nil {
		return "", err
	}
	a, err := s.Messengers.Registry.Get(c.Provider)
	if err != nil {
		return "", Permanent(err)
	}
	out, err := s.messengerOutgoing(ctx, c, m)
	if err != nil {
		return "", Permanent(err)
	}
	sent, err := a.Send(ctx, c, *out)
	if err != nil {
		if messengers.IsTemporary(err) {
			return "", err
		}
		return "", Permanent(err)
	}
	return sent.ProviderMessageID, nil
}

// Handler returns the send task's handler, for an asynq server of one's own (tests
// that run retries with a short backoff).
func (s *Sender) Handler() func(context.Context, *asynq.Task) error { return s.handleSend }

// messengerOutgoing builds the provider-neutral reply: the recipient is whoever last
// wrote on this ticket through the connection, else the contact's identity for
// the provider.
func (s *Sender) messengerOutgoing(ctx context.Context, c *messengers.Conn, m *tickets.Message) (*messengers.Outgoing, error) {
	db := s.Tickets.DB.WithContext(ctx)
	var to string
	db.Model(&tickets.Message{}).Where("ticket_id = ? AND direction = ? AND messenger_connection_id = ?",
		m.TicketID, tickets.DirectionInbound, c.ID).Order("id DESC").Limit(1).Pluck("from_address", &to)
	if to == "" && m.ContactID != nil {
		db.Model(&tickets.ContactIdentity{}).Where("contact_id = ? AND kind = ?", *m.ContactID, c.Provider).
			Order("id DESC").Limit(1).Pluck("value", &to)
	}
	if to == "" {
		return nil, fmt.Errorf("no %s recipient known for ticket %d", c.Provider, m.TicketID)
	}
	out := &messengers.Outgoing{To: to, Text: m.BodyText, ReplyToProviderID: m.InReplyTo,
		Key: strconv.FormatInt(m.ID, 10)}
	tpl, err := messengers.MessageTemplate(ctx, s.Tickets.DB, m.ID)
	if err != nil {
		return nil, err
	}
	out.Template = tpl
	if tpl == nil && c.Provider == "whatsapp" {
		if err := messengers.CheckWindow(ctx, s.Tickets.DB, c.ID, m.TicketID, time.Now()); err != nil {
			return nil, err
		}
	}
	for _, att := range m.Attachments {
		sum := att.SHA256
		f := messengers.OutFile{Filename: att.Filename, ContentType: att.ContentType, Size: att.Size,
			Open: func() (io.ReadCloser, error) { return s.Blobs.Open(sum) }}
		// Providers that fetch files themselves get a signed link under the
		// public base URL (served by web: /hooks/{provider}/{id}/media/...).
		if s.Config.BaseURL != "" {
			f.URL = messengers.MediaURL(s.Config.BaseURL, c, att.ID, att.Filename,
				time.Now().Add(messengers.MediaURLLifetime))
		}
		out.Attachments = append(out.Attachments, f)
	}
	return out, nil
}
