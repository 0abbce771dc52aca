package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tickets"
)

func TestIMAPPollFetchesOnlyNewMail(t *testing.T) {
	srv := startMemIMAP(t, "support", "pw")
	sink := newCountingSink(t)
	p, svc := newPoller(t, sink)
	mb := imapMailbox(t, svc, srv.host, srv.port, "support", "pw", "seen", "")
	u := dialUser(t, srv.host, srv.port, "support", "pw")
	for i := range 3 {
		u.appendMail("INBOX", testMail("ann@example.org", mb.Address, fmt.Sprint("first ", i), unique("m")+"@example.org"))
	}

	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	if sink.callCount() != 3 || stored(t, mb.ID) != 3 {
		t.Fatalf("first poll: %d calls, %d stored; want 3, 3", sink.callCount(), stored(t, mb.ID))
	}
	for uid, f := range u.flags("INBOX") {
		if !hasFlag(f, imap.FlagSeen) {
			t.Fatalf("uid %d not flagged \\Seen after it was stored: %v", uid, f)
		}
	}
	got := reloadMailbox(t, svc, mb.ID)
	if got.IMAPLastUID != 3 || got.IMAPUIDValidity == 0 || got.LastSuccessAt == nil || got.LastError != "" {
		t.Fatalf("state after first poll: %+v", got.IMAPStatus)
	}

	u.appendMail("INBOX", testMail("bob@example.org", mb.Address, "second", unique("m")+"@example.org"))
	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	if sink.callCount() != 4 || stored(t, mb.ID) != 4 {
		t.Fatalf("second poll re-read old mail or missed new: %d calls, %d stored; want 4, 4", sink.callCount(), stored(t, mb.ID))
	}
	if got := reloadMailbox(t, svc, mb.ID); got.IMAPLastUID != 4 {
		t.Fatalf("last uid = %d, want 4", got.IMAPLastUID)
	}

	// Nothing new: nothing fetched.
	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	if sink.callCount() != 4 {
		t.Fatalf("idle poll fetched %d messages", sink.callCount()-4)
	}
}

func TestIMAPFirstSyncLeavesReadMail(t *testing.T) {
	srv := startMemIMAP(t, "support", "pw")
	sink := newCountingSink(t)
	p, svc := newPoller(t, sink)
	mb := imapMailbox(t, svc, srv.host, srv.port, "support", "pw", "seen", "")
	u := dialUser(t, srv.host, srv.port, "support", "pw")
	u.appendMail("INBOX", testMail("old@example.org", mb.Address, "read long ago", unique("m")+"@example.org"), imap.FlagSeen)
	u.appendMail("INBOX", testMail("new@example.org", mb.Address, "unread", unique("m")+"@example.org"))
	u.appendMail("INBOX", testMail("old@example.org", mb.Address, "read too", unique("m")+"@example.org"), imap.FlagSeen)

	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	if stored(t, mb.ID) != 1 || sink.callCount() != 1 {
		t.Fatalf("first sync stored %d (calls %d); want only the unread mail", stored(t, mb.ID), sink.callCount())
	}
	// The read mail above the unread one must not come in on the next poll either.
	if got := reloadMailbox(t, svc, mb.ID); got.IMAPLastUID != 3 {
		t.Fatalf("last uid after first sync = %d, want 3", got.IMAPLastUID)
	}
	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	if sink.callCount() != 1 {
		t.Fatalf("second poll fetched %d old messages", sink.callCount()-1)
	}
}

func TestIMAPUIDValidityReset(t *testing.T) {
	srv := startMemIMAP(t, "support", "pw")
	sink := newCountingSink(t)
	p, svc := newPoller(t, sink)
	mb := imapMailbox(t, svc, srv.host, srv.port, "support", "pw", "seen", "")
	u := dialUser(t, srv.host, srv.port, "support", "pw")
	a := testMail("ann@example.org", mb.Address, "one", unique("m")+"@example.org")
	b := testMail("bob@example.org", mb.Address, "two", unique("m")+"@example.org")
	u.appendMail("INBOX", a)
	u.appendMail("INBOX", b)
	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	before := reloadMailbox(t, svc, mb.ID)

	// The server rebuilds the folder: same mail (flags kept), new UIDVALIDITY, UIDs
	// from 1 again, plus one new unread mail.
	if err := u.c.Delete("INBOX").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := u.c.Create("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	u.appendMail("INBOX", a, imap.FlagSeen)
	u.appendMail("INBOX", b, imap.FlagSeen)
	c := testMail("cid@example.org", mb.Address, "three", unique("m")+"@example.org")
	u.appendMail("INBOX", c)

	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	after := reloadMailbox(t, svc, mb.ID)
	if after.IMAPUIDValidity == before.IMAPUIDValidity {
		t.Fatalf("uidvalidity not updated: %d", after.IMAPUIDValidity)
	}
	if after.IMAPLastUID != 3 {
		t.Fatalf("last uid after re-sync = %d, want 3", after.IMAPLastUID)
	}
	if sink.callCount() != 3 || stored(t, mb.ID) != 3 {
		t.Fatalf("re-sync: %d calls, %d stored; want only the new mail fetched (3, 3)", sink.callCount(), stored(t, mb.ID))
	}
	if got := storedRaw(t, mb.ID, after.IMAPUIDValidity, 3); got != c {
		t.Fatalf("re-sync stored %q under the new uidvalidity, want the new mail", got)
	}
	// A UID lower than the old last UID is new in the new generation.
	u.appendMail("INBOX", testMail("dan@example.org", mb.Address, "four", unique("m")+"@example.org"))
	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	if stored(t, mb.ID) != 4 {
		t.Fatalf("mail after re-sync not fetched: %d stored", stored(t, mb.ID))
	}
}

// A crash after the mail is committed but before it is flagged must neither lose
// nor duplicate it: the next poll fetches it again, the sink answers with the
// existing id, and only then is it flagged.
func TestIMAPCrashBetweenStoreAndSeen(t *testing.T) {
	srv := startMemIMAP(t, "support", "pw")
	sink := newCountingSink(t)
	p, svc := newPoller(t, sink)
	mb := imapMailbox(t, svc, srv.host, srv.port, "support", "pw", "seen", "")
	u := dialUser(t, srv.host, srv.port, "support", "pw")
	// A first poll of the empty folder records a position, so the crash hits the
	// incremental path.
	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		u.appendMail("INBOX", testMail("ann@example.org", mb.Address, fmt.Sprint("mail ", i), unique("m")+"@example.org"))
	}

	ctx, crash := context.WithCancel(t.Context())
	// The process dies right after message 4 is committed.
	sink.in.Enqueue = func(ctx context.Context, id int64) error {
		var uid int64
		testenv.DB(t).Raw(`SELECT imap_uid FROM inbound_mails WHERE id = ?`, id).Scan(&uid)
		if uid == 4 {
			crash()
		}
		return nil
	}
	_ = p.Poll(ctx, mb.ID)
	for uid, f := range u.flags("INBOX") {
		if hasFlag(f, imap.FlagSeen) {
			t.Fatalf("uid %d flagged \\Seen although the session died before flagging", uid)
		}
	}
	// Commits run a few at a time: message 4 is committed (the crash fires after its
	// commit), while its neighbours may or may not have made it before the cancel.
	if n := stored(t, mb.ID); n < 1 {
		t.Fatalf("%d mails committed before the crash, want at least message 4", n)
	}
	sink.in.Enqueue = nil

	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	if stored(t, mb.ID) != 5 {
		t.Fatalf("after restart %d mails stored, want 5, each once", stored(t, mb.ID))
	}
	for uid, f := range u.flags("INBOX") {
		if !hasFlag(f, imap.FlagSeen) {
			t.Fatalf("uid %d not flagged after restart", uid)
		}
	}
	if got := reloadMailbox(t, svc, mb.ID); got.IMAPLastUID != 5 {
		t.Fatalf("last uid = %d, want 5", got.IMAPLastUID)
	}
}

func TestIMAPMoveAfterStore(t *testing.T) {
	srv := startMemIMAP(t, "support", "pw")
	sink := newCountingSink(t)
	p, svc := newPoller(t, sink)
	mb := imapMailbox(t, svc, srv.host, srv.port, "support", "pw", "move", "Processed")
	u := dialUser(t, srv.host, srv.port, "support", "pw")
	if err := u.c.Create("Processed", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	u.appendMail("INBOX", testMail("ann@example.org", mb.Address, "read already", unique("m")+"@example.org"), imap.FlagSeen)
	u.appendMail("INBOX", testMail("bob@example.org", mb.Address, "new", unique("m")+"@example.org"))

	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	if stored(t, mb.ID) != 2 {
		t.Fatalf("move mode takes everything in the folder: stored %d, want 2", stored(t, mb.ID))
	}
	if n := len(u.flags("INBOX")); n != 0 {
		t.Fatalf("%d messages left in INBOX after move", n)
	}
	if n := len(u.flags("Processed")); n != 2 {
		t.Fatalf("%d messages in Processed, want 2", n)
	}
}

func TestIMAPStoreFailureIsVisibleAndBacksOff(t *testing.T) {
	srv := startMemIMAP(t, "support", "pw")
	sink := newCountingSink(t)
	p, svc := newPoller(t, sink)
	mb := imapMailbox(t, svc, srv.host, srv.port, "support", "pw", "seen", "")
	u := dialUser(t, srv.host, srv.port, "support", "pw")
	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		u.appendMail("INBOX", testMail("ann@example.org", mb.Address, fmt.Sprint("mail ", i), unique("m")+"@example.org"))
	}
	sink.fail = func(a Arrival) error {
		if a.IMAPUID == 2 {
			return errors.New("database is down")
		}
		return nil
	}
	if err := p.Poll(t.Context(), mb.ID); err == nil {
		t.Fatal("poll with a failing store returned nil")
	}
	got := reloadMailbox(t, svc, mb.ID)
	if got.LastError == "" || got.IMAPFailures != 1 || got.IMAPLastUID != 1 {
		t.Fatalf("state after failure: %+v", got.IMAPStatus)
	}
	// Message 3 may be committed (and then flagged) alongside the failing 2; it is
	// fetched again anyway, since the position stops before 2.
	flags := u.flags("INBOX")
	if !hasFlag(flags[1], imap.FlagSeen) || hasFlag(flags[2], imap.FlagSeen) {
		t.Fatalf("flags after failure: %v", flags)
	}
	if IMAPDue(got, *got.LastPolledAt) {
		t.Fatal("a failed mailbox is due again at once")
	}
	if !IMAPDue(got, got.LastPolledAt.Add(IMAPBackoff(1))) {
		t.Fatal("a failed mailbox is not due after its backoff")
	}

	sink.fail = nil
	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	got = reloadMailbox(t, svc, mb.ID)
	if got.LastError != "" || got.IMAPFailures != 0 || got.IMAPLastUID != 3 || stored(t, mb.ID) != 3 {
		t.Fatalf("state after recovery: %+v, stored %d", got.IMAPStatus, stored(t, mb.ID))
	}
}

func TestIMAPWrongPasswordIsRecorded(t *testing.T) {
	srv := startMemIMAP(t, "support", "pw")
	p, svc := newPoller(t, newCountingSink(t))
	mb := imapMailbox(t, svc, srv.host, srv.port, "support", "wrong", "seen", "")
	if err := p.Poll(t.Context(), mb.ID); err == nil {
		t.Fatal("poll with a wrong password returned nil")
	}
	got := reloadMailbox(t, svc, mb.ID)
	if got.LastError == "" || got.IMAPFailures != 1 || got.LastSuccessAt != nil {
		t.Fatalf("state after failed login: %+v", got.IMAPStatus)
	}
}

// A server that offers no SASL mechanism gets the LOGIN command. A wrong password
// is a visible failure that takes nothing: the mail stays unread on the server and
// comes in once the password is corrected.
func TestIMAPLoginWithoutSASL(t *testing.T) {
	_, port, counts := testenv.MemIMAPLoginOnly(t, "legacy", "right")
	sink := newCountingSink(t)
	p, svc := newPoller(t, sink)
	mb := imapMailbox(t, svc, "127.0.0.1", port, "legacy", "wrong", "seen", "")
	u := dialUser(t, "127.0.0.1", port, "legacy", "right")
	u.appendMail("INBOX", testMail("ann@example.org", mb.Address, "waiting", unique("m")+"@example.org"))
	u.appendMail("INBOX", testMail("bob@example.org", mb.Address, "waiting too", unique("m")+"@example.org"))
	loginsBefore := counts.Login.Load() // the test's own client

	if err := p.Poll(t.Context(), mb.ID); err == nil {
		t.Fatal("poll with a wrong password returned nil")
	}
	got := reloadMailbox(t, svc, mb.ID)
	if !strings.Contains(got.LastError, "login as legacy") || got.IMAPFailures != 1 || got.LastSuccessAt != nil {
		t.Fatalf("state after refused LOGIN: %+v", got.IMAPStatus)
	}
	if n := counts.Login.Load() - loginsBefore; n != 1 || counts.Authenticate.Load() != 0 {
		t.Fatalf("poller sent %d LOGIN and %d AUTHENTICATE, want one LOGIN", n, counts.Authenticate.Load())
	}
	if sink.callCount() != 0 || stored(t, mb.ID) != 0 {
		t.Fatalf("refused login fetched %d, stored %d", sink.callCount(), stored(t, mb.ID))
	}
	for uid, f := range u.flags("INBOX") {
		if hasFlag(f, imap.FlagSeen) {
			t.Fatalf("uid %d flagged \\Seen by a poll that could not log in", uid)
		}
	}

	if err := svc.DB.Exec(`UPDATE mailboxes SET imap_password = ? WHERE id = ?`, "right", mb.ID).Error; err != nil {
		t.Fatal(err)
	}
	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatalf("poll after the password was corrected: %v", err)
	}
	got = reloadMailbox(t, svc, mb.ID)
	if stored(t, mb.ID) != 2 || got.LastError != "" || got.IMAPFailures != 0 || got.LastSuccessAt == nil {
		t.Fatalf("after correcting the password: stored %d, state %+v", stored(t, mb.ID), got.IMAPStatus)
	}
	if counts.Authenticate.Load() != 0 {
		t.Fatalf("poller tried AUTHENTICATE %d times on a server offering no mechanism", counts.Authenticate.Load())
	}
}

func TestIMAPOneSessionPerMailbox(t *testing.T) {
	srv := startMemIMAP(t, "support", "pw")
	sink := newCountingSink(t)
	p, svc := newPoller(t, sink)
	mb := imapMailbox(t, svc, srv.host, srv.port, "support", "pw", "seen", "")
	unlock, ok, err := lockMailbox(t.Context(), p.DSN, mb.ID)
	if err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	if err := p.Poll(t.Context(), mb.ID); !errors.Is(err, ErrMailboxBusy) {
		t.Fatalf("poll of a locked mailbox: %v, want ErrMailboxBusy", err)
	}
	unlock()
	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatalf("poll after unlock: %v", err)
	}

	// Many pollers at once (as from several worker processes): overlapping sessions
	// would fetch the same UIDs twice; the lock lets each message be fetched once.
	u := dialUser(t, srv.host, srv.port, "support", "pw")
	for i := range 20 {
		u.appendMail("INBOX", testMail("ann@example.org", mb.Address, fmt.Sprint("race ", i), unique("m")+"@example.org"))
	}
	errs := make(chan error, 6)
	for range 6 {
		other, _ := newPoller(t, sink)
		go func() { errs <- other.Poll(t.Context(), mb.ID) }()
	}
	busy := 0
	for range 6 {
		err := <-errs
		if errors.Is(err, ErrMailboxBusy) {
			busy++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if sink.callCount() != 20 || stored(t, mb.ID) != 20 {
		t.Fatalf("6 concurrent pollers: %d fetches, %d stored; want 20 and 20 (%d found the mailbox busy)",
			sink.callCount(), stored(t, mb.ID), busy)
	}
}

func TestIMAPIdleTakesNewMail(t *testing.T) {
	srv := startMemIMAP(t, "support", "pw")
	sink := newCountingSink(t)
	p, svc := newPoller(t, sink)
	p.MaxIdleSessions = 1
	mb := imapMailbox(t, svc, srv.host, srv.port, "support", "pw", "seen", "")
	u := dialUser(t, srv.host, srv.port, "support", "pw")
	u.appendMail("INBOX", testMail("ann@example.org", mb.Address, "before", unique("m")+"@example.org"))

	idling := make(chan struct{}, 10)
	p.idling = func() { idling <- struct{}{} }

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Poll(ctx, mb.ID) }()
	select {
	case <-idling:
	case err := <-done:
		t.Fatalf("session ended before idling: %v", err)
	}
	if stored(t, mb.ID) != 1 {
		t.Fatalf("stored %d before idling, want 1", stored(t, mb.ID))
	}
	// The session is idling now; new mail must arrive without another poll. The
	// in-memory server starts watching the folder a moment after it answered IDLE
	// and drops updates from that moment, so deliver again until one is noticed.
	for i := 0; stored(t, mb.ID) == 1; i++ {
		if i == 50 {
			t.Fatal("mail delivered during IDLE was not taken")
		}
		u.appendMail("INBOX", testMail("bob@example.org", mb.Address, "during idle", unique("m")+"@example.org"))
		for range 20 {
			if stored(t, mb.ID) > 1 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Everything delivered meanwhile comes with the wake-up.
	waitFor(t, func() bool { return u.numMessages("INBOX") == stored(t, mb.ID) })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("idle session ended with %v", err)
	}
}

// waitFor polls cond until it holds, failing the test after a generous limit.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not reached")
}

// TestIMAPSecurity polls over implicit TLS and over STARTTLS (the server refuses
// logins before TLS, so a poll that works proves the upgrade), verifies the
// server's certificate, and refuses plain text where the server wants TLS.
func TestIMAPSecurity(t *testing.T) {
	_, startTLSPort, tlsPort, roots := testenv.MemIMAPTLS(t, "secure", "pw")
	cases := []struct {
		name     string
		security string
		port     int
		roots    bool
		wantErr  bool
	}{
		{"implicit TLS", "tls", tlsPort, true, false},
		{"STARTTLS", "starttls", startTLSPort, true, false},
		{"untrusted certificate", "tls", tlsPort, false, true},
		{"plain text refused by the server", "plain", startTLSPort, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, svc := newPoller(t, newCountingSink(t))
			if tc.roots {
				p.TLSConfig = &tls.Config{RootCAs: roots}
			}
			mb := imapMailbox(t, svc, "127.0.0.1", tc.port, "secure", "pw", "seen", "")
			if err := svc.DB.Exec(`UPDATE mailboxes SET imap_security = ? WHERE id = ?`, tc.security, mb.ID).Error; err != nil {
				t.Fatal(err)
			}
			err := p.Poll(t.Context(), mb.ID)
			if (err != nil) != tc.wantErr {
				t.Fatalf("poll: %v, want error %v", err, tc.wantErr)
			}
			got := reloadMailbox(t, svc, mb.ID)
			if tc.wantErr == (got.LastSuccessAt != nil) || tc.wantErr != (got.LastError != "") {
				t.Fatalf("state: %+v", got.IMAPStatus)
			}
			if err := CheckIMAP(t.Context(), got, p.TLSConfig); (err != nil) != tc.wantErr {
				t.Fatalf("check: %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

// An oversized mail must neither stall the mailbox nor vanish: it becomes a
// ticket made from its header with a warning saying where the complete mail is,
// is flagged only once that is committed, is named on the mailbox, and is not
// fetched again; the mail after it still comes in.
func TestIMAPOversizedMailKeepsItsHeader(t *testing.T) {
	p, svc, sink, mb, u := sizeLimitedMailbox(t, 2000)
	hugeID := unique("huge") + "@example.org"
	huge := "From: Big Sender <big@example.org>\r\nTo: " + mb.Address + "\r\nSubject: huge\r\nMessage-ID: <" + hugeID + ">\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed;\r\n boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nsee scan\r\n" +
		"--B\r\nContent-Type: image/tiff; name=scan.tif\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		strings.Repeat("QUFBQUFB\r\n", 600) + "--B--\r\n"
	u.appendMail("INBOX", testMail("ann@example.org", mb.Address, "small", unique("m")+"@example.org"))
	u.appendMail("INBOX", huge)
	u.appendMail("INBOX", testMail("bob@example.org", mb.Address, "after", unique("m")+"@example.org"))

	// While the header cannot be committed, the oversized mail is not flagged and
	// the position stops before it.
	sink.fail = func(a Arrival) error {
		if a.Warning != "" {
			return errors.New("database is down")
		}
		return nil
	}
	if err := p.Poll(t.Context(), mb.ID); err == nil {
		t.Fatal("poll that could not store the header returned nil")
	}
	if got := reloadMailbox(t, svc, mb.ID); got.IMAPLastUID != 1 || hasFlag(u.flags("INBOX")[2], imap.FlagSeen) {
		t.Fatalf("after a failed header store: last uid %d, flags %v", got.IMAPLastUID, u.flags("INBOX"))
	}

	sink.fail = nil
	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	got := reloadMailbox(t, svc, mb.ID)
	if stored(t, mb.ID) != 3 || got.IMAPLastUID != 3 || got.IMAPFailures != 0 ||
		!strings.Contains(got.LastError, "only the header kept: UID [2]") {
		t.Fatalf("stored %d, state %+v", stored(t, mb.ID), got.IMAPStatus)
	}
	for uid, f := range u.flags("INBOX") {
		if !hasFlag(f, imap.FlagSeen) {
			t.Fatalf("uid %d not flagged \\Seen after it was stored", uid)
		}
	}
	raw := storedRaw(t, mb.ID, got.IMAPUIDValidity, 2)
	if !strings.Contains(raw, hugeID) || strings.Contains(raw, "QUFB") || strings.Contains(raw, "multipart") {
		t.Fatalf("stored stand-in for the oversized mail: %q", raw)
	}

	// The ticket shows who wrote what, and what is missing.
	var id int64
	testenv.DB(t).Raw(`SELECT id FROM inbound_mails WHERE imap_mailbox_id = ? AND imap_uid = 2`, mb.ID).Scan(&id)
	res, err := (&Ingester{Tickets: svc, Intake: sink.in}).Process(t.Context(), id)
	if err != nil || len(res.Items) != 1 || !res.Items[0].NewTicket {
		t.Fatalf("ingest: %+v, %v", res, err)
	}
	var m tickets.Message
	if err := testenv.DB(t).Preload("Attachments").Take(&m, res.Items[0].MessageID).Error; err != nil {
		t.Fatal(err)
	}
	wantWarning := fmt.Sprintf("only the header was kept: the mail is %d bytes, over the size limit; "+
		"the complete mail stays on the IMAP server (folder \"INBOX\", UID 2)", len(huge))
	if m.Subject != "huge" || m.FromAddress != "big@example.org" || m.FromName != "Big Sender" ||
		!strings.HasPrefix(m.ParseWarning, wantWarning) || len(m.Attachments) != 0 {
		t.Fatalf("message subject %q from %q <%s> warning %q attachments %d", m.Subject, m.FromName, m.FromAddress,
			m.ParseWarning, len(m.Attachments))
	}

	// Nothing is fetched again; a drain that meets no oversized mail clears the note.
	calls := sink.callCount()
	u.appendMail("INBOX", testMail("cid@example.org", mb.Address, "later", unique("m")+"@example.org"))
	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	if sink.callCount() != calls+1 || reloadMailbox(t, svc, mb.ID).LastError != "" {
		t.Fatalf("next poll: %d sink calls, last_error %q", sink.callCount()-calls, reloadMailbox(t, svc, mb.ID).LastError)
	}
}

// sizeLimitedMailbox is a polled mailbox whose intake takes mails up to maxSize
// bytes, with its position recorded by a first poll of the empty folder.
func sizeLimitedMailbox(t *testing.T, maxSize int64) (*IMAPPoller, *tickets.Service, *countingSink, *tickets.Mailbox, *imapUser) {
	srv := startMemIMAP(t, "support", "pw")
	sink := newCountingSink(t)
	sink.in.MaxSize = maxSize
	p, svc := newPoller(t, sink)
	mb := imapMailbox(t, svc, srv.host, srv.port, "support", "pw", "seen", "")
	u := dialUser(t, srv.host, srv.port, "support", "pw")
	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	return p, svc, sink, mb, u
}

// A mail whose header alone is over the limit cannot be kept even in part: it is
// left unread in the folder, named on the mailbox, and passed over.
func TestIMAPOversizedHeaderIsLeftInTheFolder(t *testing.T) {
	p, svc, sink, mb, u := sizeLimitedMailbox(t, 2000)
	u.appendMail("INBOX", "X-Padding: "+strings.Repeat("y", 3000)+"\r\n"+testMail("big@example.org", mb.Address, "huge header", unique("m")+"@example.org"))
	u.appendMail("INBOX", testMail("bob@example.org", mb.Address, "after", unique("m")+"@example.org"))
	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	got := reloadMailbox(t, svc, mb.ID)
	if stored(t, mb.ID) != 1 || got.IMAPLastUID != 2 || got.IMAPFailures != 0 ||
		!strings.Contains(got.LastError, "left in the folder, over the size limit: UID [1]") {
		t.Fatalf("stored %d, state %+v", stored(t, mb.ID), got.IMAPStatus)
	}
	flags := u.flags("INBOX")
	if hasFlag(flags[1], imap.FlagSeen) || !hasFlag(flags[2], imap.FlagSeen) {
		t.Fatalf("flags: %v", flags)
	}
	// Passed over: the next poll does not fetch it again.
	calls := sink.callCount()
	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	if sink.callCount() != calls {
		t.Fatalf("next poll fetched the passed-over mail again (%d sink calls)", sink.callCount()-calls)
	}
}

// The poller learns each new message's size before fetching it: a mail over the
// limit never crosses the wire whole, only its header does.
func TestIMAPOversizedMailIsNotDownloaded(t *testing.T) {
	srv := startMemIMAP(t, "support", "pw")
	port, received := countingProxy(t, net.JoinHostPort(srv.host, strconv.Itoa(srv.port)))
	sink := newCountingSink(t)
	sink.in.MaxSize = 20 << 10
	p, svc := newPoller(t, sink)
	mb := imapMailbox(t, svc, srv.host, port, "support", "pw", "seen", "")
	u := dialUser(t, srv.host, srv.port, "support", "pw")
	huge := testMail("big@example.org", mb.Address, "huge", unique("m")+"@example.org") +
		strings.Repeat(strings.Repeat("z", 76)+"\r\n", 5000) // ~390 KB of body
	u.appendMail("INBOX", huge)
	u.appendMail("INBOX", testMail("bob@example.org", mb.Address, "after", unique("m")+"@example.org"))
	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	if n, got := stored(t, mb.ID), reloadMailbox(t, svc, mb.ID); n != 2 || got.IMAPLastUID != 2 ||
		!strings.Contains(got.LastError, "only the header kept: UID [1]") {
		t.Fatalf("stored %d, state %+v", n, got.IMAPStatus)
	}
	if n := received(); n > int64(len(huge))/4 {
		t.Fatalf("the poller read %d bytes from the server for a %d-byte mail it could not take", n, len(huge))
	}
}

// countingProxy forwards local connections to target and reports how many bytes
// came back from it.
func countingProxy(tb testing.TB, target string) (port int, received func() int64) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(countedWriter{c, &n}, s); c.Close() }()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, func() int64 { return n.Load() }
}

// countedWriter counts what passes through it as it goes.
type countedWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countedWriter) Write(b []byte) (int, error) {
	k, err := c.w.Write(b)
	c.n.Add(int64(k))
	return k, err
}
