package mail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
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
	// Concurrent is how many mails Process stores at once; more callers wait
	// their turn. Zero means five per CPU (GOMAXPROCS).
	Concurrent int

	slotsOnce sync.Once
	slots     chan struct{}
}

// acquire takes one of the Concurrent slots, or fails when ctx ends first.
//
// Ingest is CPU and Postgres work, and the worker runs twenty tasks at once. With
// more ingests in flight than the machine has CPUs to run them, each holds its
// transaction's locks longer while it waits to be scheduled, and arrivals that
// take turns on a lock (a round-robin channel's row until the commit) queue
// behind the slowest. On 2 CPUs (BenchmarkIngest5KBRoundRobin), 16 or 20
// ingests at once took 196 mails/s into a round-robin channel, 10 took 360 and
// 8 took 400; through the queue into a plain channel 20 and 10 took the same
// (550-580 mails/s) and 8 lost a quarter of it.
func (g *Ingester) acquire(ctx context.Context) (release func(), err error) {
	g.slotsOnce.Do(func() {
		n := g.Concurrent
		if n <= 0 {
			n = 5 * runtime.GOMAXPROCS(0)
		}
		g.slots = make(chan struct{}, n)
	})
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
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

// claimedMail is an inbound_mails row being ingested, with the raw bytes of a
// mail small enough to live in the row.
type claimedMail struct {
	ID           int64
	Source       string
	EnvelopeFrom string
	Raw          []byte
	RawSHA256    *string `gorm:"column:raw_sha256"`
	Size         int64
	// IntakeWarning says the raw mail is incomplete (Arrival.Warning).
	IntakeWarning string
}

// Process ingests inbound mail id. It is idempotent: a processed row is skipped,
// and the row lock plus the per-channel unique Message-ID make a retry after a
// crash store each message once.
//
// Every mail pays for each round trip to Postgres here, so the path is kept
// short: one statement claims the row with its raw bytes and mailboxes, one
// takes the locks, one locks the row and reads every Message-ID the mail refers
// to, and the rest write what the mail becomes.
func (g *Ingester) Process(ctx context.Context, id int64) (*Ingested, error) {
	release, err := g.acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest mail %d: %w", id, err)
	}
	defer release()
	row, boxes, err := g.claim(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("ingest mail %d: %w", id, err)
	}
	if row == nil {
		return &Ingested{InboundMailID: id}, nil // already processed (or gone)
	}
	var maxPart int64
	for _, b := range boxes {
		maxPart = max(maxPart, b.maxAttachment)
	}

	p, rawSum, perr := g.parse(row, maxPart)
	if perr != nil {
		if errors.Is(perr, errReadFailed) {
			return nil, fmt.Errorf("ingest mail %d: %w", id, perr)
		}
		// Nothing is lost: unparseable mail becomes a ticket with the raw .eml.
		p = &Parsed{Warnings: []string{"mail could not be parsed: " + perr.Error()}}
		att, err := g.rawAttachment(row)
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
	msgID := cleanText(p.MessageID, 900)

	out := &Ingested{InboundMailID: id}
	// Transact, not a bare transaction: notifications and live events raised
	// inside (assignment, new ticket) go out once the ticket is committed.
	err = g.Tickets.Transact(ctx, func(ctx context.Context, tx *gorm.DB) error {
		var sender string
		if p.From.Address != "" && !cls.Bounce {
			sender = tickets.NormaliseIdentity("email", cleanText(p.From.Address, 320))
		}
		stored, found, ok, err := lockArrival(tx, id, boxes, msgID, referencedIDs(p, cls), sender)
		if err != nil || !ok {
			return err
		}
		var contactID *int64
		if sender != "" {
			c, err := g.Tickets.ResolveLookedUpContact(ctx, tx, found, "email", sender, cleanText(p.From.Name, 200))
			if err != nil && !errors.As(err, new(*tickets.ValidationError)) {
				return err
			}
			if c != nil {
				contactID = &c.ID
			}
		}
		opened := make([]*tickets.Ticket, 0, len(boxes))
		for _, b := range boxes {
			item, t, err := g.deliver(ctx, tx, id, b, p, cls, contactID, msgID, stored[b.channelID])
			if err != nil {
				return fmt.Errorf("channel %d: %w", b.channelID, err)
			}
			out.Items = append(out.Items, item)
			if item.NewTicket {
				opened = append(opened, t)
			}
		}
		// Last: round robin and least open lock the channel until the commit.
		return g.Tickets.AssignOpened(ctx, tx, opened)
	})
	if err != nil {
		g.Tickets.DB.Exec(`UPDATE inbound_mails SET last_error = ?, attempts = attempts + 1 WHERE id = ?`,
			cleanText(err.Error(), 2000), id)
		return nil, fmt.Errorf("ingest mail %d: %w", id, err)
	}
	g.announce(ctx, out)
	return out, nil
}

type targetBox struct {
	id, channelID, maxAttachment int64
}

// claim returns inbound mail id (nil when it is already processed or gone) and
// the mailboxes it was addressed to: one per channel (one ticket per channel,
// however many of its mailboxes were addressed), in the order the mail was
// addressed. It only reads: attempts counts failures (Process) and re-deliveries
// of interrupted ingests (the sweeper), so a mail that keeps failing shows it
// without every mail paying for one more row version.
func (g *Ingester) claim(ctx context.Context, id int64) (*claimedMail, []targetBox, error) {
	var rows []struct {
		ID                 int64
		Source             string
		EnvelopeFrom       string
		Raw                []byte
		RawSHA256          *string `gorm:"column:raw_sha256"`
		Size               int64
		IntakeWarning      string
		BoxID              *int64
		ChannelID          *int64
		MaxAttachmentBytes *int64
	}
	err := g.Tickets.DB.WithContext(ctx).Raw(`SELECT m.id, m.source, m.envelope_from, m.raw, m.raw_sha256, m.size, m.intake_warning,
			b.id AS box_id, b.channel_id, c.max_attachment_bytes
		FROM inbound_mails m
		CROSS JOIN LATERAL unnest(m.mailbox_ids) WITH ORDINALITY AS u(box_id, ord)
		LEFT JOIN mailboxes b ON b.id = u.box_id
		LEFT JOIN channels c ON c.id = b.channel_id
		WHERE m.id = ? AND m.processed_at IS NULL
		ORDER BY u.ord`, id).Scan(&rows).Error
	if err != nil {
		return nil, nil, fmt.Errorf("claim: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil, nil
	}
	var boxes []targetBox
	seen := map[int64]bool{}
	for _, r := range rows {
		if r.BoxID == nil || seen[*r.ChannelID] {
			continue
		}
		seen[*r.ChannelID] = true
		boxes = append(boxes, targetBox{*r.BoxID, *r.ChannelID, *r.MaxAttachmentBytes})
	}
	if len(boxes) == 0 {
		return nil, nil, errors.New("none of its mailboxes exists any more")
	}
	r := rows[0]
	return &claimedMail{ID: r.ID, Source: r.Source, EnvelopeFrom: r.EnvelopeFrom, Raw: r.Raw, RawSHA256: r.RawSHA256,
		Size: r.Size, IntakeWarning: r.IntakeWarning}, boxes, nil
}

// referencedIDs lists the Message-IDs a mail refers to, in the order threading
// tries them: In-Reply-To, References newest first, the messages a bounce returns.
func referencedIDs(p *Parsed, cls Classification) []string {
	var ids []string
	ids = append(ids, p.InReplyTo...)
	for i := len(p.References) - 1; i >= 0; i-- {
		ids = append(ids, p.References[i])
	}
	ids = append(ids, cls.BouncedMessageIDs...)
	if len(ids) > 200 {
		ids = ids[:200]
	}
	return ids
}

// arrivalLocks is how many of the Message-IDs a mail refers to (beyond its own)
// take an arrival lock: the parent a reply races with is In-Reply-To or one of the
// newest References, and each lock is an entry in Postgres' shared lock table.
const arrivalLocks = 10

// known is what a channel has stored of the Message-IDs around an arriving mail.
type known struct {
	// tickets maps the mail's own and referenced Message-IDs stored in the
	// channel to their tickets.
	tickets map[string]int64
	// answeredOn is the ticket of a stored message that refers to the arriving
	// mail (a reply ingested before it), or 0.
	answeredOn int64
}

// arrivalSettings are the set_config calls lockArrival starts the ingest
// transaction with (see there).
const arrivalSettings = `set_config('synchronous_commit', 'off', true),
	set_config('plan_cache_mode', 'force_generic_plan', true),
	set_config('enable_seqscan', 'off', true)`

// arrivalLookupSQL marks an inbound mail processed and, when it was not yet,
// reads the sender's contact and the stored messages around the mail. Its
// parameters: the inbound mail id; the mail's own and referenced Message-IDs;
// the sender's identity kind and value; the channel ids; the Message-IDs again;
// the mail's own Message-ID (to find replies stored before it).
const arrivalLookupSQL = `WITH l AS (
		UPDATE inbound_mails SET processed_at = now(), last_error = '' WHERE id = ? AND processed_at IS NULL RETURNING id)
	SELECT l.id, s.sender_id, s.sender_name, s.sender_merged_into_id,
		m.channel_id, m.message_id_header, m.ticket_id, m.message_id_header = ANY(?) AS direct
	FROM l
	LEFT JOIN LATERAL (` + tickets.IdentityLookupSQL + `) s ON true
	LEFT JOIN messages m ON m.channel_id = ANY(?) AND (
		(m.message_id_header = ANY(?) AND m.message_id_header <> '')
		OR (m."references" || string_to_array(NULLIF(m.in_reply_to, ''), ' ')) @> ARRAY[?]::text[])
	ORDER BY m.id`

// lockArrival opens the ingest transaction of inbound mail id. It
//   - lets the commit skip waiting for the WAL flush: the raw mail is already
//     durable, so if the server crashes before the flush the row is still
//     unprocessed and the sweeper ingests it again, with nothing of the lost
//     commit left to duplicate;
//   - has the transaction's statements use generic plans: they find rows by key,
//     and Postgres otherwise planned the ones with array parameters afresh for
//     every mail (custom plans), which cost more CPU than running them;
//   - keeps those plans on their indexes (no sequential scans): a generic plan
//     is kept for the life of the connection until autovacuum next analyzes the
//     table, and one made while messages was small (a new install, the first
//     minutes of a burst) scanned the whole growing table for every mail after;
//   - takes a transaction lock per channel on the mail's Message-ID and on those
//     it refers to, so two workers holding the same mail (an SMTP retry, an IMAP
//     re-sync) or a mail and its reply take turns, and what the next statement
//     reads is exact: the duplicate check needs no savepoint, and a reply and its
//     original end on one ticket whichever is ingested first;
//   - locks the inbound row and marks it processed (the mark commits with the
//     rest); ok is false when another worker processed it first;
//   - reads, per channel, which of the mail's own and referenced Message-IDs are
//     stored, on which ticket, and whether a stored message refers to this mail;
//   - looks up the contact owning sender (a normalised address; "" for none), so
//     resolving the sender costs no statement of its own when they wrote before.
func lockArrival(tx *gorm.DB, id int64, boxes []targetBox, msgID string, refs []string, sender string) (
	stored map[int64]*known, found *tickets.Contact, ok bool, err error) {
	locked := append([]string{msgID}, refs[:min(len(refs), arrivalLocks)]...)
	keys := make(tickets.Int64List, 0, len(boxes)*len(locked))
	channels := make(tickets.Int64List, 0, len(boxes))
	for _, b := range boxes {
		for _, mid := range locked {
			h := fnv.New64a()
			fmt.Fprintf(h, "mail\x00%d\x00%s", b.channelID, mid)
			keys = append(keys, int64(h.Sum64()))
		}
		channels = append(channels, b.channelID)
	}
	slices.Sort(keys) // one order for every worker: no deadlocks between them
	keys = slices.Compact(keys)
	if err := tx.Exec(`SELECT `+arrivalSettings+`,
			(SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT unnest(?::bigint[]) AS k ORDER BY 1) s)`,
		keys).Error; err != nil {
		return nil, nil, false, fmt.Errorf("lock arrival: %w", err)
	}
	var rows []struct {
		ID                 int64
		SenderID           *int64
		SenderName         *string
		SenderMergedIntoID *int64
		ChannelID          *int64
		MessageIDHeader    *string
		TicketID           *int64
		Direct             *bool
	}
	ids := tickets.StringList(append([]string{msgID}, refs...))
	// Marking the row processed here locks it as FOR UPDATE would and saves the
	// closing UPDATE: the mark commits only with everything the mail becomes.
	err = tx.Raw(arrivalLookupSQL, id, ids, "email", sender, channels, ids, msgID).Scan(&rows).Error
	if err != nil {
		return nil, nil, false, fmt.Errorf("lock inbound row: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil, false, nil
	}
	// found is the sender's contact, nil when the address is new.
	if r := rows[0]; r.SenderID != nil {
		found = &tickets.Contact{ID: *r.SenderID, Name: *r.SenderName, MergedIntoID: r.SenderMergedIntoID}
	}
	out := map[int64]*known{}
	for _, b := range boxes {
		out[b.channelID] = &known{tickets: map[string]int64{}}
	}
	for _, r := range rows {
		if r.ChannelID == nil {
			continue
		}
		k := out[*r.ChannelID]
		switch {
		case *r.Direct:
			k.tickets[*r.MessageIDHeader] = *r.TicketID
		case k.answeredOn == 0:
			k.answeredOn = *r.TicketID // the earliest reply's ticket
		}
	}
	return out, found, true, nil
}

// parse reads the raw mail once: the parser consumes it while a hash of the raw
// bytes is taken for a stable generated Message-ID. A panic in the parser is
// turned into an error so the mail still becomes a ticket.
func (g *Ingester) parse(row *claimedMail, maxPart int64) (p *Parsed, rawSum string, err error) {
	var r io.Reader = bytes.NewReader(row.Raw)
	if row.RawSHA256 != nil {
		f, err := g.Intake.Blobs.Open(*row.RawSHA256)
		if err != nil {
			return nil, "", fmt.Errorf("%w: blob: %v", errReadFailed, err)
		}
		defer f.Close()
		r = f
	}
	h := sha256.New()
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("parser panic: %v", r)
		}
	}()
	p, err = Parse(io.TeeReader(r, h), ParseOptions{Store: g.Intake.Blobs.Put, MaxPartBytes: maxPart})
	if err != nil {
		return nil, "", err
	}
	io.Copy(h, r) // the parser may stop early (limits); hash all of it
	return p, hex.EncodeToString(h.Sum(nil)), nil
}

func (g *Ingester) rawAttachment(row *claimedMail) (ParsedAttachment, error) {
	att := ParsedAttachment{Filename: fmt.Sprintf("message-%d.eml", row.ID), ContentType: "message/rfc822", Size: row.Size}
	if row.RawSHA256 != nil {
		att.SHA256 = *row.RawSHA256
		return att, nil
	}
	var err error
	att.SHA256, att.Size, err = g.Intake.Blobs.Put(bytes.NewReader(row.Raw), 0)
	return att, err
}

// deliver stores the mail in one channel: thread or open a ticket, add the
// message and its attachments, mark a bounced outbound message failed. k is what
// the channel has stored of the Message-IDs around the mail. It returns the
// ticket the mail is on (nil for a duplicate); a new one still waits for its
// assignment (tickets.Service.AssignOpened).
func (g *Ingester) deliver(ctx context.Context, tx *gorm.DB, inboundID int64, b targetBox, p *Parsed,
	cls Classification, contactID *int64, msgID string, k *known) (IngestedItem, *tickets.Ticket, error) {
	item := IngestedItem{ChannelID: b.channelID, AutoReply: cls.AutoReply, Bounce: cls.Bounce}
	if tid, ok := k.tickets[msgID]; ok {
		item.Duplicate, item.TicketID = true, tid
		return item, nil, nil
	}
	t, reason, err := findThread(ctx, tx, b.channelID, p, cls, contactID, k)
	if err != nil {
		return item, nil, err
	}
	item.ThreadedBy = reason
	if reason == ThreadByReply && t != nil {
		if err := takeOriginalSubject(tx, t, cleanText(p.Subject, 998)); err != nil {
			return item, nil, err
		}
	}
	if t == nil {
		subject := cleanText(p.Subject, 998)
		if subject == "" {
			subject = "(no subject)"
		}
		mb := b.id
		t, err = g.Tickets.OpenTicket(ctx, tx, tickets.NewTicket{ChannelID: b.channelID, Subject: subject,
			ContactID: contactID, MailboxID: &mb, AssignLater: true})
		if err != nil {
			return item, nil, err
		}
		item.NewTicket = true
	}
	m := g.message(inboundID, b, p, cls, contactID, msgID)
	if err := g.Tickets.AddInboundMessage(ctx, tx, t, m); err != nil {
		// The arrival lock makes this unreachable for mail; should another writer
		// have stored the Message-ID anyway, the whole ingest rolls back and the
		// retry finds the message stored.
		return item, nil, err
	}
	if err := g.storeAttachments(tx, m, p); err != nil {
		return item, nil, err
	}
	item.TicketID, item.MessageID = t.ID, m.ID
	return item, t, g.recordFacts(tx, t, m, p, cls, reason)
}

// takeOriginalSubject gives a ticket opened by a reply ("Re: X") the subject of the
// original ("X") when that arrives later, as if the two had come in order. A
// subject an agent changed (another base subject) is left alone.
func takeOriginalSubject(tx *gorm.DB, t *tickets.Ticket, subject string) error {
	if subject == "" || t.Subject == subject ||
		!strings.EqualFold(tickets.BaseSubject(t.Subject), tickets.BaseSubject(subject)) {
		return nil
	}
	if err := tx.Exec(`UPDATE tickets SET subject = ? WHERE id = ?`, subject, t.ID).Error; err != nil {
		return fmt.Errorf("subject of ticket %d: %w", t.ID, err)
	}
	t.Subject = subject
	return nil
}

func (g *Ingester) message(inboundID int64, b targetBox, p *Parsed, cls Classification, contactID *int64,
	msgID string) *tickets.Message {
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
		InboundMailID: &inboundID,
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
	rows := make([]tickets.Attachment, 0, len(p.Attachments))
	for _, a := range p.Attachments {
		row := tickets.Attachment{MessageID: &m.ID, SHA256: a.SHA256, Size: a.Size, Filename: cleanText(a.Filename, 255),
			ContentType: cleanText(a.ContentType, 255), ContentID: cleanText(a.ContentID, 255), Inline: a.Inline}
		if row.ContentType == "" {
			row.ContentType = "application/octet-stream"
		}
		rows = append(rows, row)
	}
	if len(rows) > 0 {
		// One multi-row INSERT for all of them (in batches for a mail with very many parts).
		if err := tx.CreateInBatches(&rows, 500).Error; err != nil {
			return fmt.Errorf("store attachments: %w", err)
		}
	}
	for i, a := range p.Attachments {
		if a.ContentID != "" {
			cids[strings.ToLower(a.ContentID)] = rows[i].ID
		}
	}
	m.Attachments = append(m.Attachments, rows...)
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
