package tickets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// SendScheduler queues the delivery of an outbound message at a time and takes a
// queued delivery back. It is implemented in tasks/ and injected by cmd/. Both calls
// are best effort: the message row is the truth, the send task re-reads it, and a
// sweeper re-queues whatever is due, so a lost call delays a message but never loses
// or duplicates it.
type SendScheduler interface {
	ScheduleSend(ctx context.Context, messageID int64, at time.Time) error
	CancelSend(ctx context.Context, messageID int64, at time.Time) error
}

// Outbound kinds.
const (
	OutboundReply   = "reply"
	OutboundForward = "forward"
	OutboundNew     = "new"
)

// Errors of the send path, for the send task.
var (
	// ErrNotSendable: the message was sent, canceled or failed already; nothing to do.
	ErrNotSendable = errors.New("message is not waiting to be sent")
	// ErrNotDue: the message is due later (rescheduled, or the task fired early);
	// ClaimSend returns it as a *NotDueError carrying the due time.
	ErrNotDue = errors.New("message is not due yet")
	// ErrSendInFlight: another worker is sending it right now.
	ErrSendInFlight = errors.New("message is being sent by another worker")
)

// NotDueError is ErrNotDue with the time the message is due.
type NotDueError struct{ At time.Time }

func (e *NotDueError) Error() string {
	return ErrNotDue.Error() + " (due " + e.At.Format(time.RFC3339) + ")"
}
func (e *NotDueError) Is(target error) bool { return target == ErrNotDue }

const (
	// MaxScheduleAhead bounds send_at: a date years ahead is a typo, not a plan.
	MaxScheduleAhead = 366 * 24 * time.Hour
	// sendLease is how long a message may stay "sending" before a sweeper assumes
	// the worker died mid-send and tries again.
	sendLease = 10 * time.Minute
	// pastSlack tolerates clocks a little behind ours when send_at is "now".
	pastSlack     = time.Minute
	maxRecipients = 100
	maxReferences = 20
)

// OutboundDraft is what an agent (or automation) asks to send on a ticket.
type OutboundDraft struct {
	Kind      string // reply (default), forward or new
	MailboxID *int64 // nil: the mailbox the ticket came through
	// To, Cc and Bcc: nil means the defaults from the thread (a reply goes to the
	// customer and keeps the customer's CCs).
	To, Cc, Bcc []string
	Subject     string // empty: derived from the ticket
	BodyText    string
	BodyHTML    string
	SendAt      *time.Time // nil: now plus the agent's undo window
	// CancelOnReply cancels a scheduled message when the customer writes first.
	CancelOnReply bool
	AttachmentIDs []int64
	// ForwardMessageID is the message a forward quotes (default: the latest inbound one).
	ForwardMessageID *int64
	// Automatic marks machine-made mail: no undo window, Auto-Submitted on the wire.
	Automatic bool
	// MessengerTemplate sends an approved provider template instead of free text
	// (required on WhatsApp outside the 24-hour window).
	MessengerTemplate *MessengerTemplate
}

// CreateOutbound writes an outbound message on a ticket agent a may see, then
// schedules its delivery. The row comes first: if scheduling fails, the sweeper
// still sends it.
func (s *Service) CreateOutbound(ctx context.Context, a *Agent, ticketID int64, d OutboundDraft) (*Message, error) {
	t, err := s.VisibleTicket(ctx, a, ticketID)
	if err != nil {
		return nil, err
	}
	if t.Kind != KindConversation {
		return nil, Invalid("type", "a task has no recipients; add a note instead")
	}
	if d.Kind == "" {
		d.Kind = OutboundReply
	}
	if d.Kind != OutboundReply && d.Kind != OutboundForward {
		return nil, Invalid("type", "must be reply, note or forward")
	}
	var m *Message
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Take(t, t.ID).Error; err != nil {
			return fmt.Errorf("lock ticket %d: %w", t.ID, err)
		}
		var err error
		m, err = s.insertOutbound(ctx, tx, a, t, d)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.afterOutboundWrite(ctx, m, "message.created")
	return m, nil
}

// NewConversation is an outbound conversation we start (writing first to a supplier).
type NewConversation struct {
	ChannelID int64
	Draft     OutboundDraft
}

// CreateConversation opens a ticket for a new outbound conversation and writes its
// first message. The contact is the first To address.
func (s *Service) CreateConversation(ctx context.Context, a *Agent, in NewConversation) (*Ticket, *Message, error) {
	if err := s.CanSeeChannel(ctx, a, in.ChannelID); err != nil {
		return nil, nil, err
	}
	d := in.Draft
	d.Kind = OutboundNew
	var v Validator
	v.Check(len(d.To) > 0, "to", "is required")
	v.Check(strings.TrimSpace(d.Subject) != "", "subject", "is required")
	to, err := parseAddressList(d.To, "to")
	if err != nil {
		return nil, nil, err
	}
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	var t *Ticket
	var m *Message
	err = s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ch Channel
		if err := tx.Take(&ch, in.ChannelID).Error; err != nil {
			return notFound(err, "channel %d", in.ChannelID)
		}
		if ch.Kind == ChannelTasks {
			return Invalid("channel_id", "a tasks channel cannot send mail")
		}
		mb, err := s.outboundMailbox(tx, ch.ID, d.MailboxID, nil)
		if err != nil {
			return err
		}
		contact, err := s.ResolveContact(ctx, tx, "email", to[0].Address, to[0].Name)
		if err != nil {
			return err
		}
		t, err = s.OpenTicket(ctx, tx, NewTicket{ChannelID: ch.ID, Subject: strings.TrimSpace(d.Subject),
			ContactID: &contact.ID, MailboxID: &mb.ID, AssigneeID: &a.ID, CreatedBy: &a.ID})
		if err != nil {
			return err
		}
		d.MailboxID = &mb.ID
		m, err = s.insertOutbound(ctx, tx, a, t, d)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	s.Publisher.Publish(ctx, LiveEvent{Kind: "ticket.created", ChannelID: t.ChannelID, TicketID: t.ID})
	s.afterOutboundWrite(ctx, m, "message.created")
	return t, m, nil
}

// insertOutbound validates a draft against ticket t (locked by the caller) and
// stores the message with its attachments and a timeline event.
func (s *Service) insertOutbound(ctx context.Context, tx *gorm.DB, a *Agent, t *Ticket, d OutboundDraft) (*Message, error) {
	var ch Channel
	if err := tx.Take(&ch, t.ChannelID).Error; err != nil {
		return nil, fmt.Errorf("channel %d: %w", t.ChannelID, err)
	}
	now := s.now().Truncate(time.Microsecond) // as Postgres stores it, so task ids match
	m := &Message{TicketID: t.ID, ChannelID: t.ChannelID, Direction: DirectionOutbound, AuthorAgentID: &a.ID,
		ContactID: t.ContactID, OutboundKind: d.Kind, CancelOnReply: d.CancelOnReply, IsAutoReply: d.Automatic,
		QuoteOffset: -1, CreatedAt: now, UpdatedAt: now}

	viaMessenger := d.MailboxID == nil && t.MessengerConnectionID != nil
	if viaMessenger {
		m.MessengerConnectionID = t.MessengerConnectionID
		if err := s.checkMessengerWindow(tx, t, d.MessengerTemplate); err != nil {
			return nil, err
		}
		if d.MessengerTemplate != nil && strings.TrimSpace(d.BodyText) == "" {
			d.BodyText = "[template " + d.MessengerTemplate.Name + "]"
		}
	} else {
		mb, err := s.outboundMailbox(tx, t.ChannelID, d.MailboxID, t.MailboxID)
		if err != nil {
			return nil, err
		}
		m.MailboxID = &mb.ID
		m.FromAddress = mb.Address
		m.FromName = FromDisplayName(ch.FromNameFormat, a.Name, ch.Name)
		if err := s.fillRecipients(tx, t, m, d); err != nil {
			return nil, err
		}
		if ch.ReadTracking {
			m.TrackingToken = RandomToken(24)
		}
		m.MessageIDHeader = fmt.Sprintf("%s.%d@%s", strings.ToLower(strings.NewReplacer("-", "", "_", "").
			Replace(RandomToken(15))), t.Number, s.hostname())
	}

	// Threading: continue from the newest message of the thread that has an id on the wire.
	if d.Kind != OutboundNew {
		var last Message
		err := tx.Where("ticket_id = ? AND message_id_header <> '' AND (direction = ? OR status IN ?)",
			t.ID, DirectionInbound, []string{MessageSent, MessageDelivered, MessageRead}).
			Order("id DESC").Limit(1).Take(&last).Error
		if err == nil {
			m.InReplyTo = last.MessageIDHeader
			refs := append(append([]string{}, last.References...), last.MessageIDHeader)
			if len(refs) > maxReferences {
				// Keep the thread's root and the most recent ids (RFC 5322 3.6.4 allows trimming).
				refs = append(refs[:1], refs[len(refs)-maxReferences+1:]...)
			}
			m.References = refs
		} else if !errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("thread of ticket %d: %w", t.ID, err)
		}
	}

	subject := strings.TrimSpace(d.Subject)
	switch {
	case subject != "":
	case d.Kind == OutboundForward:
		subject = ForwardSubject(t.Subject)
	default:
		subject = ReplySubject(t.Subject)
	}
	if ch.SubjectTag && !viaMessenger {
		subject = TagSubject(subject, t.Number)
	}
	m.Subject = truncate(subject, 998)

	m.BodyText, m.BodyHTML = d.BodyText, SanitizeComposerHTML(d.BodyHTML)
	var forwarded int64
	if d.Kind == OutboundForward {
		var err error
		if forwarded, err = s.quoteForwarded(tx, t, m, d.ForwardMessageID); err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(m.BodyText) == "" && strings.TrimSpace(m.BodyHTML) == "" {
		return nil, Invalid("body", "is required")
	}

	sendAt, status, err := sendTime(now, d, a)
	if err != nil {
		return nil, err
	}
	m.SendAt, m.Status = &sendAt, status

	if err := tx.Create(m).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return nil, fmt.Errorf("store outbound message: %w", ErrConflict)
		}
		return nil, fmt.Errorf("store outbound message: %w", err)
	}
	if err := storeMessengerTemplate(tx, m.ID, d.MessengerTemplate); err != nil {
		return nil, err
	}
	if err := copyForwardedAttachments(tx, m.ID, forwarded); err != nil {
		return nil, err
	}
	if err := s.attachUploads(tx, a, &ch, m, d.AttachmentIDs); err != nil {
		return nil, err
	}
	if err := tx.Model(&Ticket{}).Where("id = ?", t.ID).
		Updates(map[string]any{"last_activity_at": now, "updated_at": now}).Error; err != nil {
		return nil, fmt.Errorf("touch ticket %d: %w", t.ID, err)
	}
	if err := RecordEvent(tx, t.ID, &a.ID, "outbound_"+status, "", d.Kind,
		JSONMap{"message_id": m.ID, "send_at": sendAt}); err != nil {
		return nil, err
	}
	return m, nil
}

// sendTime decides when a new message leaves: at send_at when given (scheduled),
// otherwise after the agent's undo window (queued).
func sendTime(now time.Time, d OutboundDraft, a *Agent) (time.Time, string, error) {
	if d.SendAt != nil {
		at := d.SendAt.UTC().Truncate(time.Microsecond)
		switch {
		case at.Before(now.Add(-pastSlack)):
			return time.Time{}, "", Invalid("send_at", "is in the past")
		case at.After(now.Add(MaxScheduleAhead)):
			return time.Time{}, "", Invalid("send_at", "is more than a year ahead")
		case !at.After(now):
			return now, MessageQueued, nil
		}
		return at, MessageScheduled, nil
	}
	undo := 0
	if !d.Automatic {
		undo = a.UndoSeconds
	}
	return now.Add(time.Duration(undo) * time.Second), MessageQueued, nil
}

// outboundMailbox picks the mailbox a message leaves through: the requested one
// (it must belong to the channel), else the ticket's, else the channel's first.
func (s *Service) outboundMailbox(tx *gorm.DB, channelID int64, requested, ticketMailbox *int64) (*Mailbox, error) {
	var mb Mailbox
	if requested != nil {
		if err := tx.Where("id = ? AND channel_id = ?", *requested, channelID).Take(&mb).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return nil, Invalid("mailbox_id", "is not a mailbox of this channel")
			}
			return nil, fmt.Errorf("mailbox %d: %w", *requested, err)
		}
		return &mb, nil
	}
	if ticketMailbox != nil {
		err := tx.Where("id = ? AND channel_id = ?", *ticketMailbox, channelID).Take(&mb).Error
		if err == nil {
			return &mb, nil
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("mailbox %d: %w", *ticketMailbox, err)
		}
	}
	err := tx.Where("channel_id = ?", channelID).Order("id").Take(&mb).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, Invalid("mailbox_id", "this channel has no mailbox to send from")
	}
	if err != nil {
		return nil, fmt.Errorf("mailboxes of channel %d: %w", channelID, err)
	}
	return &mb, nil
}

// fillRecipients validates the draft's addresses or, for a reply without them,
// takes them from the thread: the customer's Reply-To or From, and everyone else
// the customer copied, minus our own mailboxes.
func (s *Service) fillRecipients(tx *gorm.DB, t *Ticket, m *Message, d OutboundDraft) error {
	if d.To == nil && d.Kind == OutboundReply {
		to, cc, err := s.threadRecipients(tx, t)
		if err != nil {
			return err
		}
		d.To = to
		if d.Cc == nil {
			d.Cc = cc
		}
	}
	to, err := parseAddressList(d.To, "to")
	if err != nil {
		return err
	}
	cc, err := parseAddressList(d.Cc, "cc")
	if err != nil {
		return err
	}
	bcc, err := parseAddressList(d.Bcc, "bcc")
	if err != nil {
		return err
	}
	if len(to) == 0 {
		return Invalid("to", "is required (the ticket has no customer address to reply to)")
	}
	if len(to)+len(cc)+len(bcc) > maxRecipients {
		return Invalid("to", fmt.Sprintf("at most %d recipients in all", maxRecipients))
	}
	m.ToAddresses, m.CcAddresses, m.BccAddresses = formatAddresses(to), formatAddresses(cc), formatAddresses(bcc)
	return nil
}

func (s *Service) threadRecipients(tx *gorm.DB, t *Ticket) ([]string, []string, error) {
	var last Message
	err := tx.Where("ticket_id = ? AND direction = ? AND from_address <> ''", t.ID, DirectionInbound).
		Order("id DESC").Limit(1).Take(&last).Error
	if err == nil {
		var ours []string
		if err := tx.Model(&Mailbox{}).Pluck("lower(address)", &ours).Error; err != nil {
			return nil, nil, fmt.Errorf("mailbox addresses: %w", err)
		}
		skip := map[string]bool{}
		for _, a := range ours {
			skip[a] = true
		}
		to := last.FromAddress
		if last.FromName != "" {
			to = (&mail.Address{Name: last.FromName, Address: last.FromAddress}).String()
		}
		if last.ReplyTo != "" {
			to = last.ReplyTo
		}
		if a, err := mail.ParseAddress(to); err == nil {
			skip[strings.ToLower(a.Address)] = true
		}
		var cc []string
		for _, raw := range append(append([]string{}, last.ToAddresses...), last.CcAddresses...) {
			a, err := mail.ParseAddress(raw)
			if err != nil || skip[strings.ToLower(a.Address)] {
				continue
			}
			skip[strings.ToLower(a.Address)] = true
			cc = append(cc, raw)
		}
		return []string{to}, cc, nil
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, fmt.Errorf("last inbound of ticket %d: %w", t.ID, err)
	}
	// A conversation we started: answer the people we wrote to.
	err = tx.Where("ticket_id = ? AND direction = ? AND cardinality(to_addresses) > 0", t.ID, DirectionOutbound).
		Order("id DESC").Limit(1).Take(&last).Error
	if err == nil {
		return last.ToAddresses, last.CcAddresses, nil
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil, fmt.Errorf("last outbound of ticket %d: %w", t.ID, err)
	}
	if t.ContactID != nil {
		var id ContactIdentity
		err := tx.Where("contact_id = ? AND kind = 'email'", *t.ContactID).Order("id").Take(&id).Error
		if err == nil {
			return []string{id.Value}, nil, nil
		}
	}
	return nil, nil, nil
}

func parseAddressList(raw []string, field string) ([]*mail.Address, error) {
	out := make([]*mail.Address, 0, len(raw))
	for _, r := range raw {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		a, err := mail.ParseAddress(r)
		if err != nil || !strings.Contains(a.Address, "@") {
			return nil, Invalid(field, fmt.Sprintf("%q is not an e-mail address", r))
		}
		out = append(out, a)
	}
	return out, nil
}

func formatAddresses(as []*mail.Address) StringList {
	out := make(StringList, 0, len(as))
	for _, a := range as {
		if a.Name == "" {
			out = append(out, a.Address)
			continue
		}
		out = append(out, fmt.Sprintf("%q <%s>", a.Name, a.Address))
	}
	return out
}

// attachUploads binds uploaded attachments to message m (the note path's rules:
// only the uploader's unused files) after checking the channel's size limit.
func (s *Service) attachUploads(tx *gorm.DB, a *Agent, ch *Channel, m *Message, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	var total int64
	err := tx.Model(&Attachment{}).Where("id IN ? AND message_id IS NULL AND uploaded_by = ?", ids, a.ID).
		Select("COALESCE(sum(size), 0)").Scan(&total).Error
	if err != nil {
		return fmt.Errorf("attachment sizes: %w", err)
	}
	if total > ch.MaxAttachmentBytes {
		return Invalid("attachment_ids", fmt.Sprintf("attachments total %d bytes; this channel allows at most %d",
			total, ch.MaxAttachmentBytes))
	}
	return attach(tx, a, m, ids)
}

// quoteForwarded appends the forwarded message below the agent's text and copies
// its attachments (the blobs are shared, only the rows are new).
func (s *Service) quoteForwarded(tx *gorm.DB, t *Ticket, m *Message, id *int64) (int64, error) {
	var src Message
	q := tx.Where("ticket_id = ? AND direction = ?", t.ID, DirectionInbound)
	if id != nil {
		q = tx.Where("ticket_id = ? AND id = ?", t.ID, *id)
	}
	err := q.Order("id DESC").Limit(1).Take(&src).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		if id != nil {
			return 0, Invalid("forward_message_id", "is not a message of this ticket")
		}
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("message to forward: %w", err)
	}
	from := src.FromAddress
	if src.FromName != "" {
		from = fmt.Sprintf("%s <%s>", src.FromName, src.FromAddress)
	}
	head := fmt.Sprintf("\n\n---------- Forwarded message ----------\nFrom: %s\nDate: %s\nSubject: %s\nTo: %s\n\n",
		from, src.CreatedAt.UTC().Format(time.RFC1123Z), src.Subject, strings.Join(src.ToAddresses, ", "))
	m.BodyText = strings.TrimRight(m.BodyText, "\n") + head + src.BodyText
	if m.BodyHTML != "" && src.BodyHTML != "" {
		m.BodyHTML += "<br><br><div>---------- Forwarded message ----------</div><blockquote>" + src.BodyHTML + "</blockquote>"
	} else {
		m.BodyHTML = "" // the text part carries the quote; the HTML part is made from it
	}
	return src.ID, nil
}

// copyForwardedAttachments runs after the forward's row exists.
func copyForwardedAttachments(tx *gorm.DB, messageID, from int64) error {
	if from == 0 {
		return nil
	}
	err := tx.Exec(`INSERT INTO attachments (message_id, sha256, size, filename, content_type, content_id, inline)
		SELECT ?, sha256, size, filename, content_type, content_id, inline FROM attachments WHERE message_id = ?`,
		messageID, from).Error
	if err != nil {
		return fmt.Errorf("copy forwarded attachments: %w", err)
	}
	return nil
}

// FromDisplayName renders a channel's from-name format: "{agent} from {channel}" by
// default; a format without {agent} gives the channel's name alone.
func FromDisplayName(format, agentName, channelName string) string {
	if strings.TrimSpace(format) == "" {
		format = "{agent} from {channel}"
	}
	r := strings.NewReplacer("{agent}", agentName, "{channel}", channelName)
	return strings.TrimSpace(r.Replace(format))
}

func (s *Service) hostname() string {
	if s.Hostname == "" {
		return "localhost"
	}
	return s.Hostname
}

// afterOutboundWrite publishes the change and (re)schedules delivery. Both happen
// after commit: the task must find the row.
func (s *Service) afterOutboundWrite(ctx context.Context, m *Message, kind string) {
	s.Publisher.Publish(ctx, LiveEvent{Kind: kind, ChannelID: m.ChannelID, TicketID: m.TicketID,
		Data: map[string]any{"message_id": m.ID, "status": m.Status}})
	if s.Sends == nil || m.SendAt == nil || (m.Status != MessageQueued && m.Status != MessageScheduled) {
		return
	}
	if err := s.Sends.ScheduleSend(ctx, m.ID, *m.SendAt); err != nil {
		// The sweeper re-queues due messages from Postgres, so this only delays it.
		slog.Warn("schedule send", "message_id", m.ID, "err", err)
	}
}
