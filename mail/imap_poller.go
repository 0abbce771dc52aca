package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/postdesk/postdesk/tickets"
)

// IMAPSink commits one raw mail durably; *Intake implements it. Accepting the same
// (mailbox, UIDVALIDITY, UID) twice must return the first id and store nothing new.
type IMAPSink interface {
	Accept(ctx context.Context, m Arrival, r io.Reader) (int64, error)
	// MaxMailBytes is the largest mail Accept takes (<= 0: no limit); the poller
	// fetches only the header of a larger one.
	MaxMailBytes() int64
}

// ErrMailboxBusy is returned by Poll when another session, in this process or any
// other, is polling the mailbox.
var ErrMailboxBusy = errors.New("mailbox is being polled by another session")

// IMAPPoller drains IMAP folders into the intake.
//
// The order of a poll is what makes it lose nothing and duplicate nothing: a
// message is fetched with BODY.PEEK (so it is not marked read yet), committed by the
// sink, then flagged \Seen or moved, and only then is the mailbox's last UID
// advanced. A crash anywhere in between re-fetches the message next time and the
// sink answers with the id it already has.
type IMAPPoller struct {
	Tickets *tickets.Service
	Sink    IMAPSink
	// DSN is the Postgres URL for the per-mailbox advisory lock connection.
	DSN string
	// TLSConfig is used for tls and starttls mailboxes (nil: system roots).
	TLSConfig *tls.Config
	// SessionMax bounds one session, IDLE included (default 25 minutes), so the
	// task running it ends well within its timeout and the scheduler starts a fresh one.
	SessionMax time.Duration
	// IdleRecheck re-polls an idling folder this often even without a server
	// notification (default 5 minutes), in case the server drops one.
	IdleRecheck time.Duration
	// BatchSize is how many UIDs one FETCH asks for (default 100).
	BatchSize int
	// Parallel is how many fetched messages are committed at once (default 4).
	Parallel int
	// MaxIdleSessions caps the IDLE sessions of this process (default 8; negative:
	// never idle). An IDLE session occupies a task worker; beyond the cap a mailbox
	// is drained and the session ends, so it is polled on the scheduler's interval.
	MaxIdleSessions int
	Log             *slog.Logger

	idleOnce sync.Once
	idleSem  chan struct{}
	// idling, when set, is called each time the server has accepted IDLE (tests).
	idling func()
}

// IMAPBackoff is how long a mailbox rests after n consecutive failed polls:
// 30 s doubling up to 30 minutes.
func IMAPBackoff(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	return min(30*time.Second<<min(n-1, 10), 30*time.Minute)
}

// IMAPDue reports whether mailbox m should be polled at now, honouring the backoff
// after failures.
func IMAPDue(m *tickets.Mailbox, now time.Time) bool {
	if m.Inbound != "imap" {
		return false
	}
	if m.IMAPFailures == 0 || m.LastPolledAt == nil {
		return true
	}
	return !now.Before(m.LastPolledAt.Add(IMAPBackoff(m.IMAPFailures)))
}

// Poll runs one session for a mailbox: lock, connect, fetch what is new, then IDLE
// for more while the server supports it and the session limit allows. The outcome
// is recorded on the mailbox (last_error, last_success_at). It returns
// ErrMailboxBusy when another session holds the mailbox, and nil when the mailbox
// is gone or no longer polled.
func (p *IMAPPoller) Poll(ctx context.Context, mailboxID int64) error {
	unlock, ok, err := lockMailbox(ctx, p.DSN, mailboxID)
	if err != nil {
		return err
	}
	if !ok {
		return ErrMailboxBusy
	}
	defer unlock()

	m, err := p.Tickets.MailboxByID(ctx, mailboxID)
	if errors.Is(err, tickets.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.Inbound != "imap" {
		return nil
	}
	if err := p.Tickets.MarkIMAPPolled(ctx, m.ID); err != nil {
		return err
	}
	err = p.session(ctx, m)
	if err == nil || ctx.Err() != nil {
		// Shutting down is not the mailbox's fault.
		return nil
	}
	err = fmt.Errorf("poll mailbox %d: %w", m.ID, err)
	if rerr := p.Tickets.RecordIMAPFailure(context.WithoutCancel(ctx), m.ID, errors.Unwrap(err)); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

func (p *IMAPPoller) session(ctx context.Context, m *tickets.Mailbox) error {
	newMail := make(chan struct{}, 1)
	handler := &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				select {
				case newMail <- struct{}{}:
				default:
				}
			}
		},
	}
	c, err := dialIMAP(m, p.TLSConfig, handler)
	if err != nil {
		return err
	}
	defer c.Close()
	// go-imap has no contexts: closing the connection is how a shutdown interrupts
	// a command or an IDLE.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	sel, err := c.Select(m.IMAPFolder, nil).Wait()
	if err != nil {
		return fmt.Errorf("select %q: %w", m.IMAPFolder, err)
	}
	st := &imapSync{
		mailbox:     m,
		syncKey:     m.CurrentIMAPSyncKey(),
		uidValidity: int64(sel.UIDValidity),
		uidNext:     sel.UIDNext,
	}
	if m.IMAPSyncKey == st.syncKey && m.IMAPUIDValidity == st.uidValidity && m.IMAPUIDValidity != 0 {
		st.lastUID = imap.UID(m.IMAPLastUID)
	} else {
		st.fresh = true
		if m.IMAPUIDValidity != 0 {
			p.log().Info("imap folder changed identity; re-syncing", "mailbox_id", m.ID,
				"old_uidvalidity", m.IMAPUIDValidity, "uidvalidity", st.uidValidity)
		}
	}
	if err := p.drain(ctx, c, st); err != nil {
		return err
	}
	if err := p.recordDrained(ctx, st); err != nil {
		return err
	}
	if !c.Caps().Has(imap.CapIdle) || !p.acquireIdle() {
		return c.Logout().Wait()
	}
	defer p.releaseIdle()

	end := time.NewTimer(p.sessionMax())
	defer end.Stop()
	for {
		idle, err := c.Idle()
		if err != nil {
			return fmt.Errorf("idle: %w", err)
		}
		if p.idling != nil {
			p.idling()
		}
		recheck := time.NewTimer(p.idleRecheck())
		done := false
		select {
		case <-newMail:
		case <-recheck.C:
		case <-end.C:
			done = true
		case <-ctx.Done():
			done = true
		case <-c.Closed():
		}
		recheck.Stop()
		if err := idle.Close(); err != nil {
			return fmt.Errorf("end idle: %w", err)
		}
		if err := idle.Wait(); err != nil {
			return fmt.Errorf("idle: %w", err)
		}
		if done {
			return c.Logout().Wait()
		}
		if err := p.drain(ctx, c, st); err != nil {
			return err
		}
		if err := p.recordDrained(ctx, st); err != nil {
			return err
		}
	}
}

// recordDrained records a drain that worked. Mail over the size limit stays named
// in last_error until a later drain meets none, so an admin sees it and can raise
// the limit: kept as its header, or left in the folder when even that was too large.
func (p *IMAPPoller) recordDrained(ctx context.Context, st *imapSync) error {
	if err := p.Tickets.RecordIMAPSuccess(ctx, st.mailbox.ID); err != nil {
		return err
	}
	var notes []string
	if len(st.headerOnly) > 0 {
		notes = append(notes, fmt.Sprintf("over the size limit, only the header kept: UID %v", st.headerOnly))
	}
	if len(st.skipped) > 0 {
		notes = append(notes, fmt.Sprintf("left in the folder, over the size limit: UID %v", st.skipped))
	}
	if len(notes) == 0 {
		return nil
	}
	note := fmt.Sprintf("%s (UIDVALIDITY %d)", strings.Join(notes, "; "), st.uidValidity)
	st.skipped, st.headerOnly = nil, nil
	return p.Tickets.RecordIMAPNote(ctx, st.mailbox.ID, note)
}

// imapSync is the position of one session in its folder.
type imapSync struct {
	mailbox     *tickets.Mailbox
	syncKey     string
	uidValidity int64
	uidNext     imap.UID
	lastUID     imap.UID
	// fresh: no usable last UID (first poll, UIDVALIDITY changed, settings changed).
	fresh bool
	// headerOnly are UIDs over the intake's size limit stored as their header;
	// skipped are UIDs passed over because even the header was over it.
	headerOnly, skipped []imap.UID
}

// drain fetches every new message of the selected folder into the sink.
//
// Normally "new" is every UID above the last one stored. A fresh sync has no last
// UID: with imap_after=seen it takes the unseen messages (mail already read in the
// folder before Postdesk was connected, or already taken before a UIDVALIDITY
// reset, stays where it is), with imap_after=move everything still in the folder.
// A fresh sync records its position only once complete: until then the next poll
// is fresh again, and messages already taken are \Seen or moved, or deduplicated by
// the sink.
func (p *IMAPPoller) drain(ctx context.Context, c *imapclient.Client, st *imapSync) error {
	criteria := &imap.SearchCriteria{}
	if st.fresh {
		if st.mailbox.IMAPAfter == "seen" {
			criteria.NotFlag = []imap.Flag{imap.FlagSeen}
		}
	} else {
		criteria.UID = []imap.UIDSet{{imap.UIDRange{Start: st.lastUID + 1, Stop: 0}}}
	}
	data, err := c.UIDSearch(criteria, nil).Wait()
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	var uids []imap.UID
	for _, u := range data.AllUIDs() {
		// "n:*" always matches the highest UID, even below n (RFC 9051 6.4.4).
		if u > st.lastUID {
			uids = append(uids, u)
		}
	}
	slices.Sort(uids)

	for len(uids) > 0 {
		n := min(len(uids), p.batchSize())
		batch := uids[:n]
		uids = uids[n:]
		progress, err := p.fetchBatch(ctx, c, st, batch)
		if !st.fresh && progress > st.lastUID {
			if serr := p.Tickets.SaveIMAPProgress(ctx, st.mailbox.ID, st.syncKey, st.uidValidity, int64(progress)); serr != nil {
				return errors.Join(err, serr)
			}
			st.lastUID = progress
		}
		if err != nil {
			return err
		}
	}
	if st.fresh {
		var last imap.UID
		if st.uidNext > 0 {
			last = st.uidNext - 1
		}
		for _, u := range data.AllUIDs() {
			last = max(last, u)
		}
		if err := p.Tickets.SaveIMAPProgress(ctx, st.mailbox.ID, st.syncKey, st.uidValidity, int64(last)); err != nil {
			return err
		}
		st.lastUID, st.fresh = last, false
	}
	return nil
}

func (p *IMAPPoller) arrival(st *imapSync, uid imap.UID) Arrival {
	return Arrival{
		MailboxIDs:      []int64{st.mailbox.ID},
		Source:          SourceIMAP,
		IMAPMailboxID:   st.mailbox.ID,
		IMAPUIDValidity: st.uidValidity,
		IMAPUID:         int64(uid),
	}
}

// after marks stored messages as taken: \Seen, or moved to the configured folder.
func (p *IMAPPoller) after(c *imapclient.Client, m *tickets.Mailbox, uids []imap.UID) error {
	set := imap.UIDSetNum(uids...)
	if m.IMAPAfter == "move" {
		if _, err := c.Move(set, m.IMAPMoveFolder).Wait(); err != nil {
			return fmt.Errorf("move to %q: %w", m.IMAPMoveFolder, err)
		}
		return nil
	}
	err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
	if err != nil {
		return fmt.Errorf("flag \\Seen: %w", err)
	}
	return nil
}

func (p *IMAPPoller) acquireIdle() bool {
	p.idleOnce.Do(func() {
		n := p.MaxIdleSessions
		if n == 0 {
			n = 8
		}
		if n > 0 {
			p.idleSem = make(chan struct{}, n)
		}
	})
	if p.idleSem == nil {
		return false
	}
	select {
	case p.idleSem <- struct{}{}:
		return true
	default:
		return false
	}
}

func (p *IMAPPoller) releaseIdle() { <-p.idleSem }

func (p *IMAPPoller) sessionMax() time.Duration {
	if p.SessionMax > 0 {
		return p.SessionMax
	}
	return 25 * time.Minute
}

func (p *IMAPPoller) idleRecheck() time.Duration {
	if p.IdleRecheck > 0 {
		return p.IdleRecheck
	}
	return 5 * time.Minute
}

func (p *IMAPPoller) batchSize() int {
	if p.BatchSize > 0 {
		return p.BatchSize
	}
	return 100
}

func (p *IMAPPoller) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.Default()
}

// SessionLimit is the longest a Poll call runs (SessionMax or its default).
func (p *IMAPPoller) SessionLimit() time.Duration { return p.sessionMax() }
