package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/tickets"
)

// Messenger task types.
const (
	// TypeMessengerSend delivers one outbound message through its connection.
	TypeMessengerSend = "messenger:send"
	// TypeMessengerPoll fetches updates for one polling connection (Telegram getUpdates).
	TypeMessengerPoll = "messenger:poll"
	// TypeMessengerPollAll enqueues a poll for every polling connection.
	TypeMessengerPollAll = "messenger:poll-all"
)

// MessengerSendRetries is how often a delivery is retried (with RetryDelay's
// backoff) before the message is marked failed.
const MessengerSendRetries = 8

type messengerPayload struct {
	MessageID    int64 `json:"message_id,omitempty"`
	ConnectionID int64 `json:"connection_id,omitempty"`
}

// EnqueueMessengerSend schedules delivery of an outbound messenger message. The
// task id is per message, so enqueueing twice sends once.
func (c *Client) EnqueueMessengerSend(ctx context.Context, messageID int64) error {
	b, _ := json.Marshal(messengerPayload{MessageID: messageID})
	return c.Enqueue(ctx, asynq.NewTask(TypeMessengerSend, b), asynq.Queue(QueueCritical),
		asynq.MaxRetry(MessengerSendRetries), asynq.TaskID(fmt.Sprintf("messenger-send:%d", messageID)),
		asynq.Retention(time.Hour))
}

func registerMessengers(w *Worker, d Deps) {
	if d.Messengers == nil {
		return
	}
	w.Handle(TypeMessengerSend, func(ctx context.Context, t *asynq.Task) error {
		var p messengerPayload
		if err := json.Unmarshal(t.Payload(), &p); err != nil {
			return fmt.Errorf("%w: %v", asynq.SkipRetry, err)
		}
		retry, _ := asynq.GetRetryCount(ctx)
		max, _ := asynq.GetMaxRetry(ctx)
		return DeliverMessengerMessage(ctx, d, p.MessageID, retry >= max)
	})
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

// DeliverMessengerMessage sends one outbound message through its messenger
// connection. It re-reads the message first, so a canceled or already sent
// message is left alone. A temporary failure (5xx, timeout) returns an error for
// the queue to retry, unless lastAttempt, when the message is marked failed with
// the reason; a permanent failure marks it failed at once.
//
// The outbound send dispatch calls this for messages with messenger_connection_id.
func DeliverMessengerMessage(ctx context.Context, d Deps, messageID int64, lastAttempt bool) error {
	db := d.Tickets.DB.WithContext(ctx)
	var m tickets.Message
	if err := db.Preload("Attachments").Take(&m, messageID).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil // deleted: nothing to send
		}
		return fmt.Errorf("load message %d: %w", messageID, err)
	}
	if m.Direction != tickets.DirectionOutbound || m.MessengerConnectionID == nil {
		return fmt.Errorf("%w: message %d is not an outbound messenger message", asynq.SkipRetry, m.ID)
	}
	switch m.Status {
	case tickets.MessageQueued, tickets.MessageSending, tickets.MessageScheduled:
	default:
		return nil // sent, canceled, failed or a draft: not ours to send
	}
	if m.SendAt != nil && m.SendAt.After(time.Now()) {
		return nil // not due yet; the send-at task fires later
	}
	fail := func(err error) error {
		db.Model(&tickets.Message{}).Where("id = ?", m.ID).Updates(map[string]any{
			"status": tickets.MessageFailed, "failed_reason": err.Error(), "updated_at": time.Now().UTC()})
		return fmt.Errorf("%w: message %d: %v", asynq.SkipRetry, m.ID, err)
	}
	c, err := messengers.LoadConn(ctx, d.Tickets.DB, *m.MessengerConnectionID)
	if err != nil {
		return fail(err)
	}
	a, err := d.Messengers.Registry.Get(c.Provider)
	if err != nil {
		return fail(err)
	}
	out, err := outgoingFor(ctx, d, c, &m)
	if err != nil {
		return fail(err)
	}
	res := db.Model(&tickets.Message{}).Where("id = ? AND status IN ?", m.ID,
		[]string{tickets.MessageQueued, tickets.MessageSending, tickets.MessageScheduled}).
		Updates(map[string]any{"status": tickets.MessageSending, "attempts": gorm.Expr("attempts + 1")})
	if res.Error != nil {
		return fmt.Errorf("mark message %d sending: %w", m.ID, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil // canceled meanwhile
	}
	sent, err := a.Send(ctx, c, *out)
	if err != nil {
		if messengers.IsTemporary(err) && !lastAttempt {
			db.Model(&tickets.Message{}).Where("id = ?", m.ID).Updates(map[string]any{
				"status": tickets.MessageQueued, "failed_reason": "retrying: " + err.Error()})
			return fmt.Errorf("deliver message %d: %w", m.ID, err)
		}
		return fail(err)
	}
	now := time.Now().UTC()
	err = db.Model(&tickets.Message{}).Where("id = ?", m.ID).Updates(map[string]any{
		"status": tickets.MessageSent, "sent_at": now, "provider_message_id": sent.ProviderMessageID,
		"failed_reason": "", "updated_at": now}).Error
	if err != nil {
		return fmt.Errorf("mark message %d sent: %w", m.ID, err)
	}
	d.Tickets.Publisher.Publish(ctx, tickets.LiveEvent{Kind: "message.updated", ChannelID: m.ChannelID,
		TicketID: m.TicketID, Data: map[string]any{"message_id": m.ID, "status": tickets.MessageSent}})
	return nil
}

// outgoingFor builds the provider-neutral reply: the recipient is whoever last
// wrote on this ticket through the connection, else the contact's identity for
// the provider.
func outgoingFor(ctx context.Context, d Deps, c *messengers.Conn, m *tickets.Message) (*messengers.Outgoing, error) {
	db := d.Tickets.DB.WithContext(ctx)
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
	out := &messengers.Outgoing{To: to, Text: m.BodyText, ReplyToProviderID: m.InReplyTo}
	tpl, err := messengers.MessageTemplate(ctx, d.Tickets.DB, m.ID)
	if err != nil {
		return nil, err
	}
	out.Template = tpl
	if tpl == nil && c.Provider == "whatsapp" {
		if err := messengers.CheckWindow(ctx, d.Tickets.DB, c.ID, m.TicketID, time.Now()); err != nil {
			return nil, err
		}
	}
	for _, att := range m.Attachments {
		sum := att.SHA256
		out.Attachments = append(out.Attachments, messengers.OutFile{Filename: att.Filename,
			ContentType: att.ContentType, Size: att.Size,
			Open: func() (io.ReadCloser, error) { return d.Blobs.Open(sum) }})
	}
	return out, nil
}
