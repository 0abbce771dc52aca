package mail

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
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

func startMemIMAP(tb testing.TB, username, password string, caps imap.CapSet) *memIMAP {
	tb.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(username, password)
	if err := user.Create("INBOX", nil); err != nil {
		tb.Fatal(err)
	}
	mem.AddUser(user)
	if caps == nil {
		caps = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}}
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         caps,
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return &memIMAP{user: user, host: "127.0.0.1", port: ln.Addr().(*net.TCPAddr).Port}
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

var seq atomic.Int64

// uniq returns a name unique within the test binary's database.
func uniq(prefix string) string { return fmt.Sprintf("%s%d", prefix, seq.Add(1)) }

// imapMailbox creates a channel with an IMAP mailbox pointing at host:port.
func imapMailbox(tb testing.TB, svc *tickets.Service, host string, port int, user, password, after, moveFolder string) *tickets.Mailbox {
	tb.Helper()
	ctx := context.Background()
	admin, err := svc.CreateAgent(ctx, tickets.NewAgent{Email: uniq("admin") + "@example.com", Name: "Admin",
		Password: "correct horse battery", Role: tickets.RoleAdmin})
	if err != nil {
		tb.Fatal(err)
	}
	name, kind := uniq("Support "), "email"
	ch, err := svc.CreateChannel(ctx, admin, tickets.ChannelInput{Name: &name, Kind: &kind})
	if err != nil {
		tb.Fatal(err)
	}
	addr, inbound, security := uniq("support")+"@example.com", "imap", "plain"
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

// recordingSink stands in for the intake until it is wired: it keeps each
// (mailbox, UIDVALIDITY, UID) once, as the intake's unique key does, and counts calls.
type recordingSink struct {
	mu    sync.Mutex
	calls int
	mails map[[3]int64][]byte
	fail  func(a pollArrival) error
}

func newRecordingSink() *recordingSink { return &recordingSink{mails: map[[3]int64][]byte{}} }

func (s *recordingSink) Accept(ctx context.Context, a pollArrival, r io.Reader) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fail != nil {
		if err := s.fail(a); err != nil {
			return 0, err
		}
	}
	key := [3]int64{a.IMAPMailboxID, a.IMAPUIDValidity, a.IMAPUID}
	if _, ok := s.mails[key]; ok {
		return a.IMAPUID, nil
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return 0, err
	}
	s.mails[key] = b
	return a.IMAPUID, nil
}

func (s *recordingSink) stored() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mails)
}

func newPoller(tb testing.TB, sink IMAPSink) (*IMAPPoller, *tickets.Service) {
	svc := tickets.NewService(testenv.DB(tb))
	return &IMAPPoller{Tickets: svc, Sink: sink, DSN: testenv.DSN(tb), MaxIdleSessions: -1}, svc
}
