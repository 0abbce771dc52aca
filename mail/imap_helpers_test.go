package mail

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tickets"
)

// memIMAP is go-imap's in-memory server on a loopback port.
type memIMAP struct {
	user *imapmemserver.User
	host string
	port int
}

func startMemIMAP(tb testing.TB, username, password string) *memIMAP {
	user, port := testenv.MemIMAP(tb, username, password)
	return &memIMAP{user: user, host: "127.0.0.1", port: port}
}

// imapUser is a plain IMAP client acting as the mail server's other users: it
// delivers mail and looks at flags.
type imapUser struct {
	tb testing.TB
	c  *imapclient.Client
}

func dialUser(tb testing.TB, host string, port int, user, password string) *imapUser {
	tb.Helper()
	c, err := imapclient.DialInsecure(net.JoinHostPort(host, strconv.Itoa(port)), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	if err := c.Login(user, password).Wait(); err != nil {
		tb.Fatal(err)
	}
	return &imapUser{tb: tb, c: c}
}

func (u *imapUser) appendMail(folder string, raw string, flags ...imap.Flag) {
	u.tb.Helper()
	cmd := u.c.Append(folder, int64(len(raw)), &imap.AppendOptions{Flags: flags})
	if _, err := io.WriteString(cmd, raw); err != nil {
		u.tb.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		u.tb.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		u.tb.Fatalf("append: %v", err)
	}
}

// flags returns the flags of every message in folder by UID.
func (u *imapUser) flags(folder string) map[imap.UID][]imap.Flag {
	u.tb.Helper()
	if _, err := u.c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		u.tb.Fatal(err)
	}
	msgs, err := u.c.Fetch(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		// An empty folder has no "1:*".
		if st, serr := u.c.Status(folder, &imap.StatusOptions{NumMessages: true}).Wait(); serr == nil && *st.NumMessages == 0 {
			return map[imap.UID][]imap.Flag{}
		}
		u.tb.Fatal(err)
	}
	out := make(map[imap.UID][]imap.Flag, len(msgs))
	for _, m := range msgs {
		out[m.UID] = m.Flags
	}
	return out
}

// numMessages is the number of messages in folder.
func (u *imapUser) numMessages(folder string) int {
	u.tb.Helper()
	st, err := u.c.Status(folder, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		u.tb.Fatal(err)
	}
	return int(*st.NumMessages)
}

func hasFlag(flags []imap.Flag, f imap.Flag) bool {
	for _, x := range flags {
		if x == f {
			return true
		}
	}
	return false
}

// testMail is a small RFC 5322 message with a unique Message-ID.
func testMail(from, to, subject, msgID string) string {
	return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nMessage-ID: <" + msgID +
		">\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"Hello,\r\nthis is " + subject + ".\r\n"
}

// imapMailbox creates a channel with an IMAP mailbox pointing at host:port.
func imapMailbox(tb testing.TB, svc *tickets.Service, host string, port int, user, password, after, moveFolder string) *tickets.Mailbox {
	tb.Helper()
	ctx := context.Background()
	admin, err := svc.CreateAgent(ctx, tickets.NewAgent{Email: unique("admin") + "@example.com", Name: "Admin",
		Password: "correct horse battery", Role: tickets.RoleAdmin})
	if err != nil {
		tb.Fatal(err)
	}
	name, kind := unique("Support "), "email"
	ch, err := svc.CreateChannel(ctx, admin, tickets.ChannelInput{Name: &name, Kind: &kind})
	if err != nil {
		tb.Fatal(err)
	}
	addr, inbound, security := unique("support")+"@example.com", "imap", "plain"
	mb, err := svc.CreateMailbox(ctx, admin, ch.ID, tickets.MailboxInput{Address: &addr, Inbound: &inbound,
		IMAPHost: &host, IMAPPort: &port, IMAPSecurity: &security, IMAPUsername: &user, IMAPPassword: &password,
		IMAPAfter: &after, IMAPMoveFolder: &moveFolder})
	if err != nil {
		tb.Fatal(err)
	}
	return mb
}

func reloadMailbox(tb testing.TB, svc *tickets.Service, id int64) *tickets.Mailbox {
	tb.Helper()
	m, err := svc.MailboxByID(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// countingSink is the real intake, counting calls and able to fail on cue.
type countingSink struct {
	in    *Intake
	mu    sync.Mutex
	calls int
	fail  func(a Arrival) error
}

func newCountingSink(tb testing.TB) *countingSink {
	return &countingSink{in: &Intake{DB: testenv.DB(tb), Blobs: &tickets.Blobs{Dir: tb.TempDir()}}}
}

func (s *countingSink) Accept(ctx context.Context, a Arrival, r io.Reader) (int64, error) {
	s.mu.Lock()
	s.calls++
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		if err := fail(a); err != nil {
			return 0, err
		}
	}
	return s.in.Accept(ctx, a, r)
}

func (s *countingSink) MaxMailBytes() int64 { return s.in.MaxMailBytes() }

func (s *countingSink) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// stored counts the committed raw mails of a mailbox.
func stored(tb testing.TB, mailboxID int64) int {
	tb.Helper()
	var n int
	if err := testenv.DB(tb).Raw(`SELECT count(*) FROM inbound_mails WHERE imap_mailbox_id = ?`, mailboxID).Scan(&n).Error; err != nil {
		tb.Fatal(err)
	}
	return n
}

// storedRaw is the committed raw mail of one IMAP message ("" if none).
func storedRaw(tb testing.TB, mailboxID, uidValidity, uid int64) string {
	tb.Helper()
	var raw string
	if err := testenv.DB(tb).Raw(`SELECT convert_from(raw, 'UTF8') FROM inbound_mails WHERE imap_mailbox_id = ? AND imap_uidvalidity = ? AND imap_uid = ?`,
		mailboxID, uidValidity, uid).Scan(&raw).Error; err != nil {
		tb.Fatal(err)
	}
	return raw
}

func newPoller(tb testing.TB, sink IMAPSink) (*IMAPPoller, *tickets.Service) {
	svc := tickets.NewService(testenv.DB(tb))
	return &IMAPPoller{Tickets: svc, Sink: sink, DSN: testenv.DSN(tb), MaxIdleSessions: -1}, svc
}
