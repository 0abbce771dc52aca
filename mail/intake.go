package mail

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/postdesk/postdesk/tickets"
)

// Sources of raw mail.
const (
	SourceSMTP = "smtp"
	SourceLMTP = "lmtp"
	SourceIMAP = "imap"
)

// InlineRawLimit is the largest mail kept in the inbound_mails row itself; larger
// mails go to the blob store. Small mails then cost one Postgres commit and no
// extra fsync, which is what keeps the SMTP 250 fast.
const InlineRawLimit = 64 << 10

// ErrMailTooLarge is returned by Accept when the mail exceeds Intake.MaxSize.
var ErrMailTooLarge = errors.New("mail too large")

// Arrival describes where a raw mail came from.
type Arrival struct {
	// MailboxIDs are the mailboxes the mail was addressed to (at least one).
	MailboxIDs   []int64
	Source       string // smtp, lmtp or imap
	EnvelopeFrom string
	// The IMAP coordinates; zero for SMTP and LMTP. (IMAPMailboxID, IMAPUIDValidity,
	// IMAPUID) identifies a message once: accepting it again returns the same id.
	IMAPMailboxID, IMAPUIDValidity, IMAPUID int64
	// Warning, when set, says the raw mail is incomplete (an IMAP message over the
	// size limit kept as its header); ingest shows it as the message's parse warning.
	Warning string
}

// Intake commits raw mail durably and schedules its ingest.
type Intake struct {
	DB    *gorm.DB
	Blobs *tickets.Blobs
	// Enqueue schedules the ingest of inbound mail id. It may be nil (the sweeper
	// picks the row up); its failure is logged, never returned, for the same reason.
	Enqueue func(ctx context.Context, id int64) error
	// MaxSize is the largest accepted mail in bytes; <= 0 means no limit.
	MaxSize int64
	Log     *slog.Logger

	// recipients caches ResolveRecipient's answers for known addresses.
	recipients recipientCache
}

// recipientTTL is how long a resolved recipient address is trusted without asking
// Postgres again. Every mail asks once per recipient, so under load the cache saves
// a round trip per mail; a mailbox deleted or renamed keeps receiving for at most
// this long (its mail is kept, and ingest reports the missing mailbox). Unknown
// addresses are never cached: a mailbox just added must not be refused with a
// permanent 550.
const recipientTTL = 5 * time.Second

// recipientCacheMax bounds the cache; when full it starts over.
const recipientCacheMax = 10000

type recipientCache struct {
	mu      sync.Mutex
	entries map[string]cachedRecipient
}

type cachedRecipient struct {
	mailboxID int64
	expires   time.Time
}

func (c *recipientCache) get(addr string, now time.Time) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[addr]
	if !ok || now.After(e.expires) {
		return 0, false
	}
	return e.mailboxID, true
}

func (c *recipientCache) put(addr string, id int64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= recipientCacheMax {
		c.entries = make(map[string]cachedRecipient)
	}
	c.entries[addr] = cachedRecipient{mailboxID: id, expires: now.Add(recipientTTL)}
}

// Accept stores the raw mail read from r and returns the inbound_mails id. When it
// returns nil the mail is committed (the row in Postgres, a large body fsynced in the
// blob store) and may be acknowledged. At most InlineRawLimit bytes are held in
// memory; larger mails are streamed to the blob store.
func (in *Intake) Accept(ctx context.Context, m Arrival, r io.Reader) (int64, error) {
	if len(m.MailboxIDs) == 0 {
		return 0, errors.New("accept mail: no mailbox")
	}
	switch m.Source {
	case SourceSMTP, SourceLMTP, SourceIMAP:
	default:
		return 0, fmt.Errorf("accept mail: unknown source %q", m.Source)
	}
	isIMAP := m.Source == SourceIMAP && m.IMAPUID > 0
	db := in.DB.WithContext(ctx)
	if isIMAP {
		// Skip reading the body at all when the message is already stored.
		if id, ok, err := in.imapExisting(db, m); err != nil || ok {
			return id, err
		}
	}

	// Read up to the inline limit; a mail that fits stays in memory only once.
	br := bufio.NewReaderSize(r, 32<<10)
	head, err := io.ReadAll(io.LimitReader(br, InlineRawLimit+1))
	if err != nil {
		return 0, fmt.Errorf("accept mail: read: %w", err)
	}
	var raw []byte
	var sum *string
	size := int64(len(head))
	if len(head) <= InlineRawLimit {
		if in.MaxSize > 0 && size > in.MaxSize {
			return 0, ErrMailTooLarge
		}
		raw = head
	} else {
		s, n, err := in.Blobs.Put(io.MultiReader(bytes.NewReader(head), br), in.MaxSize)
		if errors.Is(err, tickets.ErrTooLarge) {
			return 0, ErrMailTooLarge
		}
		if err != nil {
			return 0, fmt.Errorf("accept mail: store blob: %w", err)
		}
		sum, size = &s, n
	}

	var imapMailbox, uidValidity, uid any
	if isIMAP {
		imapMailbox, uidValidity, uid = m.IMAPMailboxID, m.IMAPUIDValidity, m.IMAPUID
	}
	var id int64
	res := db.Raw(`INSERT INTO inbound_mails (mailbox_ids, source, envelope_from, raw, raw_sha256, size,
			imap_mailbox_id, imap_uidvalidity, imap_uid, intake_warning)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (imap_mailbox_id, imap_uidvalidity, imap_uid) WHERE imap_uid IS NOT NULL DO NOTHING
		RETURNING id`,
		tickets.Int64List(m.MailboxIDs), m.Source, truncateString(m.EnvelopeFrom, 320), raw, sum, size, imapMailbox, uidValidity, uid,
		truncateString(m.Warning, 1000)).Scan(&id)
	if res.Error != nil {
		return 0, fmt.Errorf("accept mail: insert: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		// Another poller stored the same IMAP message between our check and insert.
		existing, ok, err := in.imapExisting(db, m)
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, errors.New("accept mail: insert returned no row")
		}
		return existing, nil
	}
	in.enqueue(ctx, id)
	return id, nil
}

// MaxMailBytes is MaxSize, for the IMAP poller (IMAPSink).
func (in *Intake) MaxMailBytes() int64 { return in.MaxSize }

func (in *Intake) imapExisting(db *gorm.DB, m Arrival) (int64, bool, error) {
	var ids []int64
	err := db.Raw(`SELECT id FROM inbound_mails
		WHERE imap_mailbox_id = ? AND imap_uidvalidity = ? AND imap_uid = ?`,
		m.IMAPMailboxID, m.IMAPUIDValidity, m.IMAPUID).Scan(&ids).Error
	if err != nil {
		return 0, false, fmt.Errorf("accept mail: look up imap uid: %w", err)
	}
	if len(ids) == 0 {
		return 0, false, nil
	}
	return ids[0], true, nil
}

func (in *Intake) enqueue(ctx context.Context, id int64) {
	if in.Enqueue == nil {
		return
	}
	// The mail is committed; a slow or dead Redis must not fail the SMTP reply.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := in.Enqueue(ctx, id); err != nil && in.Log != nil {
		in.Log.Warn("enqueue ingest; the sweeper will retry", "inbound_mail_id", id, "err", err)
	}
}

// ResolveRecipient maps an envelope recipient to a configured mailbox: the match is
// case-insensitive and a "+tag" in the local part is ignored, so box+x@example.com
// reaches box@example.com. ok is false for addresses that are not ours.
func (in *Intake) ResolveRecipient(ctx context.Context, addr string) (int64, bool, error) {
	addr = NormaliseRecipient(addr)
	if addr == "" {
		return 0, false, nil
	}
	now := time.Now()
	if id, ok := in.recipients.get(addr, now); ok {
		return id, true, nil
	}
	var ids []int64
	err := in.DB.WithContext(ctx).Raw(`SELECT id FROM mailboxes WHERE address = ?`, addr).Scan(&ids).Error
	if err != nil {
		return 0, false, fmt.Errorf("resolve recipient %q: %w", addr, err)
	}
	if len(ids) == 0 {
		return 0, false, nil
	}
	in.recipients.put(addr, ids[0], now)
	return ids[0], true, nil
}

// NormaliseRecipient lower-cases an address and drops a "+tag" sub-address.
func NormaliseRecipient(addr string) string {
	addr = strings.ToLower(strings.Trim(strings.TrimSpace(addr), "<>"))
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return ""
	}
	local, domain := addr[:at], addr[at+1:]
	if plus := strings.IndexByte(local, '+'); plus > 0 {
		local = local[:plus]
	}
	return local + "@" + domain
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// OpenRaw returns the raw bytes of inbound mail id, from the row or the blob store.
func (in *Intake) OpenRaw(ctx context.Context, id int64) (io.ReadCloser, error) {
	var row struct {
		Raw       []byte
		RawSHA256 *string `gorm:"column:raw_sha256"`
	}
	res := in.DB.WithContext(ctx).Raw(`SELECT raw, raw_sha256 FROM inbound_mails WHERE id = ?`, id).Scan(&row)
	if res.Error != nil {
		return nil, fmt.Errorf("inbound mail %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, fmt.Errorf("inbound mail %d: %w", id, tickets.ErrNotFound)
	}
	if row.RawSHA256 != nil {
		f, err := in.Blobs.Open(*row.RawSHA256)
		if err != nil {
			return nil, fmt.Errorf("inbound mail %d: blob: %w", id, err)
		}
		return f, nil
	}
	return io.NopCloser(bytes.NewReader(row.Raw)), nil
}
