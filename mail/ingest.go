package mail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/postdesk/postdesk/tickets"
)

// Ingester turns committed raw mail (inbound_mails rows) into tickets and messages.
type Ingester struct {
	Tickets *tickets.Service
	Intake  *Intake // raw bytes and the blob store
	Log     *slog.Logger
	// AttachmentURL is where an attachment's content is served; cid: links in HTML
	// are rewritten to it. Default /api/v1/attachments/{id}/content.
	AttachmentURL func(id int64) string
	// Hook, when set, is called once per ingested mail after its transaction
	// committed: the one place later features attach effects (rules, webhooks,
	// notifications) to mail arrival.
	Hook func(ctx context.Context, ev Ingested)
}

// Ingested describes what one raw mail became.
type Ingested struct {
	InboundMailID int64
	Items         []IngestedItem
}

// IngestedItem is the mail's message in one channel.
type IngestedItem struct {
	ChannelID  int64
	TicketID   int64
	MessageID  int64
	NewTicket  bool
	Duplicate  bool // the channel already had this Message-ID; nothing was stored
	ThreadedBy string
	AutoReply  bool
	Bounce     bool
}

type inboundRow struct {
	ID           int64
	MailboxIDs   idList `gorm:"column:mailbox_ids"`
	Source       string
	EnvelopeFrom string
	RawSHA256    *string `gorm:"column:raw_sha256"`
	Size         int64
	ProcessedAt  *time.Time
	// IntakeWarning says the raw mail is incomplete (Arrival.Warning).
	IntakeWarning string
}

// Process ingests inbound mail id. It is idempotent: a processed row is skipped,
// and the row lock plus the per-channel unique Message-ID make a retry after a
// crash store each message once.
func (g *Ingester) Process(ctx context.Context, id int64) (*Ingested, error) {
	db := g.Tickets.DB.WithContext(ctx)
	var row inboundRow
	res := db.Raw(`UPDATE inbound_mails SET attempts = attempts + 1 WHERE id = ? AND processed_at IS NULL
		RETURNING id, mailbox_ids, source, envelope_from, raw_sha256, size, processed_at, intake_warning`, id).Scan(&row)
	if res.Error != nil {
		return nil, fmt.Errorf("ingest mail %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return &Ingested{InboundMailID: id}, nil // already processed (or gone)
	}
	boxes, err := g.mailboxes(ctx, row.MailboxIDs)
	if err != nil {
		return nil, fmt.Errorf("ingest mail %d: %w", id, err)
	}
	var maxPart int64
	for _, b := range boxes {
		maxPart = max(maxPart, b.maxAttachment)
	}

	p, rawSum, perr := g.parse(ctx, id, maxPart)
	if perr != nil {
		if errors.Is(perr, errReadFailed) {
			return nil, fmt.Errorf("ingest mail %d: %w", id, perr)
		}
		// Nothing is lost: unparseable mail becomes a ticket with the raw .eml.
		p = &Parsed{Warnings: []string{"mail could not be parsed: " + perr.Error()}}
		att, err := g.rawAttachment(ctx, id, row)
		if err != nil {
			return nil, fmt.Errorf("ingest mail %d: keep raw: %w", id, err)
		}
		p.Attachments = append(p.Attachments, att)
		rawSum = att.SHA256
	}
	if row.IntakeWarning != "" {
		p.Warnings = append([]string{row.IntakeWarning}, p.Warnings...)
	}
	if p.MessageID == "" {
		// Stable across retries and re-deliveries of the same bytes, so the
		// per-channel Message-ID uniqueness still deduplicates.
		p.MessageID = "generated-" + rawSum[:32] + "@postdesk.invalid"
	}
	if p.From.Address == "" && row.EnvelopeFrom != "" {
		p.From.Address = row.EnvelopeFrom
	}
	cls := Classify(p)

	out := &Ingested{InboundMailID: id}
	err = db.Transaction(func(tx *gorm.DB) error {
		// The raw mail is already durable, so this commit need not wait for the WAL
		// flush: if the server crashes before the flush, the row is still unprocessed
		// and the sweeper ingests it again, with nothing of the lost commit left to
		// duplicate. This roughly halves the per-mail cost.
		if err := tx.Exec(`SET LOCAL synchronous_commit = off`).Error; err != nil {
			return err
		}
		// The row lock serialises two workers that picked up the same mail.
		var locked []int64
		if err := tx.Raw(`SELECT id FROM inbound_mails WHERE id = ? AND processed_at IS NULL FOR UPDATE`, id).
			Scan(&locked).Error; err != nil {
			return err
		}
		if len(locked) == 0 {
			return nil
		}
		var contactID *int64
		if addr := p.From.Address; addr != "" && !cls.Bounce {
			c, err := g.Tickets.ResolveContact(ctx, tx, "email", cleanText(addr, 320), cleanText(p.From.Name, 200))
			if err != nil && !errors.As(err, new(*tickets.ValidationError)) {
				return err
			}
			if c != nil {
				contactID = &c.ID
			}
		}
		seen := map[int64]bool{}
		for _, b := range boxes {
			if seen[b.channelID] {
				continue // one ticket per channel, however many of its mailboxes were addressed
			}
			seen[b.channelID] = true
			item, err := g.deliver(ctx, tx, b, p, cls, contactID)
			if err != nil {
				return fmt.Errorf("channel %d: %w", b.channelID, err)
			}
			out.Items = append(out.Items, item)
		}
		return tx.Exec(`UPDATE inbound_mails SET processed_at = now(), last_error = '' WHERE id = ?`, id).Error
	})
	if err != nil {
		g.Tickets.DB.Exec(`UPDATE inbound_mails SET last_error = ? WHERE id = ?`, cleanText(err.Error(), 2000), id)
		return nil, fmt.Errorf("ingest mail %d: %w", id, err)
	}
	g.announce(ctx, out)
	return out, nil
}

type targetBox struct {
	id, channelID, maxAttachment int64
}

func (g *Ingester) mailboxes(ctx context.Context, ids []int64) ([]targetBox, error) {
	var rows []struct {
		ID                 int64
		ChannelID          int64
		MaxAttachmentBytes int64
	}
	err := g.Tickets.DB.WithContext(ctx).Raw(`SELECT m.id, m.channel_id, c.max_attachment_bytes
		FROM mailboxes m JOIN channels c ON c.id = m.channel_id WHERE m.id IN ?`, []int64(ids)).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("mailboxes: %w", err)
	}
	// Keep the order the mail was addressed in.
	out := make([]targetBox, 0, len(rows))
	for _, id := range ids {
		for _, r := range rows {
			if r.ID == id {
				out = append(out, targetBox{r.ID, r.ChannelID, r.MaxAttachmentBytes})
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("none of its mailboxes exists any more")
	}
	return out, nil
}

// parse reads the raw mail once: the parser consumes it while a hash of the raw
// bytes is taken for a stable generated Message-ID. A panic in the parser is
// turned into an error so the mail still becomes a ticket.
func (g *Ingester) parse(ctx context.Context, id int64, maxPart int64) (p *Parsed, rawSum string, err error) {
	rc, err := g.Intake.OpenRaw(ctx, id)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", errReadFailed, err)
	}
	defer rc.Close()
	h := sha256.New()
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("parser panic: %v", r)
		}
	}()
	p, err = Parse(io.TeeReader(rc, h), ParseOptions{Store: g.Intake.Blobs.Put, MaxPartBytes: maxPart})
	if err != nil {
		return nil, "", err
	}
	io.Copy(h, rc) // the parser may stop early (limits); hash all of it
	return p, hex.EncodeToString(h.Sum(nil)), nil
}

func (g *Ingester) rawAttachment(ctx context.Context, id int64, row inboundRow) (ParsedAttachment, error) {
	att := ParsedAttachment{Filename: fmt.Sprintf("message-%d.eml", id), ContentType: "message/rfc822", Size: row.Size}
	if row.RawSHA256 != nil {
		att.SHA256 = *row.RawSHA256
		return att, nil
	}
	rc, err := g.Intake.OpenRaw(ctx, id)
	if err != nil {
		return att, err
	}
	defer rc.Close()
	att.SHA256, att.Size, err = g.Intake.Blobs.Put(rc, 0)
	return att, err
}

// deliver stores the mail in one channel: thread or open a ticket, add the
// message and its attachments, mark a bounced outbound message failed.
func (g *Ingester) deliver(ctx context.Context, tx *gorm.DB, b targetBox, p *Parsed, cls Classification, contactID *int64) (IngestedItem, error) {
	item := IngestedItem{ChannelID: b.channelID, AutoReply: cls.AutoReply, Bounce: cls.Bounce}
	msgID := cleanText(p.MessageID, 900)
	var dup []int64
	if err := tx.Raw(`SELECT ticket_id FROM messages WHERE channel_id = ? AND message_id_header = ?`, b.channelID, msgID).
		Scan(&dup).Error; err != nil {
		return item, err
	}
	if len(dup) > 0 {
		item.Duplicate, item.TicketID = true, dup[0]
		return item, nil
	}
	t, reason, err := findThread(ctx, tx, b.channelID, p, cls, contactID)
	if err != nil {
		return item, err
	}
	item.ThreadedBy = reason
	err = tx.Transaction(func(tx *gorm.DB) error {
		if t == nil {
			subject := cleanText(p.Subject, 998)
			if subject == "" {
				subject = "(no subject)"
			}
			mb := b.id
			t, err = g.Tickets.OpenTicket(ctx, tx, tickets.NewTicket{ChannelID: b.channelID, Subject: subject,
				ContactID: contactID, MailboxID: &mb})
			if err != nil {
				return err
			}
			item.NewTicket = true
		}
		m := g.message(b, p, cls, contactID, msgID)
		if err := g.Tickets.AddInboundMessage(ctx, tx, t, m); err != nil {
			return err
		}
		if err := g.storeAttachments(tx, m, p); err != nil {
			return err
		}
		item.TicketID, item.MessageID = t.ID, m.ID
		return g.recordFacts(tx, t, m, p, cls, reason)
	})
	if errors.Is(err, tickets.ErrDuplicateMessage) {
		// Another worker stored the same Message-ID first; the savepoint undid ours.
		item = IngestedItem{ChannelID: b.channelID, Duplicate: true}
		return item, nil
	}
	return item, err
}

func (g *Ingester) message(b targetBox, p *Parsed, cls Classification, contactID *int64, msgID string) *tickets.Message {
	mb := b.id
	m := &tickets.Message{
		Direction: tickets.DirectionInbound, Status: tickets.MessageReceived, ContactID: contactID, MailboxID: &mb,
		FromAddress: cleanText(p.From.Address, 320), FromName: cleanText(p.From.Name, 200),
		ToAddresses: addrList(p.To), CcAddresses: addrList(p.Cc),
		Subject:         cleanText(p.Subject, 998),
		BodyText:        cleanText(p.Text, DefaultMaxTextBytes),
		MessageIDHeader: msgID, InReplyTo: cleanText(strings.Join(p.InReplyTo, " "), 4000),
		References:  idsList(p.References),
		IsAutoReply: cls.AutoReply, IsBounce: cls.Bounce, ParseWarning: cleanText(p.Warning(), 4000),
	}
	if len(p.ReplyTo) > 0 {
		m.ReplyTo = cleanText(p.ReplyTo[0].Address, 320)
	}
	m.QuoteOffset = quoteStart(m.BodyText)
	if p.HTML != "" && !strings.Contains(strings.ToLower(p.HTML), "cid:") {
		m.BodyHTML = cleanText(sanitizeHTML(p.HTML, nil), 8<<20)
	}
	return m
}

func (g *Ingester) storeAttachments(tx *gorm.DB, m *tickets.Message, p *Parsed) error {
	cids := map[string]int64{}
	for _, a := range p.Attachments {
		row := &tickets.Attachment{MessageID: &m.ID, SHA256: a.SHA256, Size: a.Size, Filename: cleanText(a.Filename, 255),
			ContentType: cleanText(a.ContentType, 255), ContentID: cleanText(a.ContentID, 255), Inline: a.Inline}
		if row.ContentType == "" {
			row.ContentType = "application/octet-stream"
		}
		if err := tx.Create(row).Error; err != nil {
			return fmt.Errorf("store attachment: %w", err)
		}
		if a.ContentID != "" {
			cids[strings.ToLower(a.ContentID)] = row.ID
		}
		m.Attachments = append(m.Attachments, *row)
	}
	if p.HTML == "" || m.BodyHTML != "" {
		return nil
	}
	urlOf := g.AttachmentURL
	if urlOf == nil {
		urlOf = func(id int64) string { return fmt.Sprintf("/api/v1/attachments/%d/content", id) }
	}
	m.BodyHTML = cleanText(sanitizeHTML(p.HTML, func(cid string) (string, bool) {
		id, ok := cids[strings.ToLower(cid)]
		if !ok {
			return "", false
		}
		return urlOf(id), true
	}), 8<<20)
	return tx.Exec(`UPDATE messages SET body_html = ? WHERE id = ?`, m.BodyHTML, m.ID).Error
}

// recordFacts puts what the agent should know about the arrival on the timeline,
// and marks the outbound message a bounce reports on as failed.
func (g *Ingester) recordFacts(tx *gorm.DB, t *tickets.Ticket, m *tickets.Message, p *Parsed, cls Classification, reason string) error {
	data := tickets.JSONMap{"message_id": m.ID, "threaded_by": reason}
	switch {
	case cls.Bounce:
		if len(cls.BouncedMessageIDs) > 0 {
			res := tx.Exec(`UPDATE messages SET status = ?, failed_reason = ?, updated_at = now()
				WHERE channel_id = ? AND direction = ? AND message_id_header IN ? AND status <> ?`,
				tickets.MessageFailed, cleanText("bounced: "+p.Subject, 500), t.ChannelID, tickets.DirectionOutbound,
				cls.BouncedMessageIDs, tickets.MessageFailed)
			if res.Error != nil {
				return fmt.Errorf("mark bounced message failed: %w", res.Error)
			}
			data["failed_messages"] = res.RowsAffected
		}
		return tickets.RecordEvent(tx, t.ID, nil, "bounce", "", "", data)
	case cls.AutoReply:
		return tickets.RecordEvent(tx, t.ID, nil, "auto_reply", "", "", data)
	case m.ParseWarning != "":
		data["warning"] = m.ParseWarning
		return tickets.RecordEvent(tx, t.ID, nil, "parse_warning", "", "", data)
	}
	return nil
}

func (g *Ingester) announce(ctx context.Context, out *Ingested) {
	for _, it := range out.Items {
		if it.Duplicate {
			continue
		}
		kind := "message.created"
		if it.NewTicket {
			kind = "ticket.created"
		}
		g.Tickets.Publisher.Publish(ctx, tickets.LiveEvent{Kind: kind, ChannelID: it.ChannelID, TicketID: it.TicketID,
			Data: map[string]any{"message_id": it.MessageID}})
	}
	if g.Hook != nil {
		g.Hook(ctx, *out)
	}
}

func addrList(as []Address) tickets.StringList {
	out := tickets.StringList{}
	for _, a := range as {
		if a.Address != "" && len(out) < 500 {
			out = append(out, cleanText(a.Address, 320))
		}
	}
	return out
}

func idsList(ids []string) tickets.StringList {
	out := tickets.StringList{}
	for _, id := range ids {
		if len(out) == 100 {
			break
		}
		out = append(out, cleanText(id, 900))
	}
	return out
}

// cleanText makes s storable in a Postgres text column: valid UTF-8, no NUL, at
// most n bytes (cut on a rune boundary).
func cleanText(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
