package mail

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tickets"
)

// dovecot is a private Dovecot (Debian's dovecot-imapd) run by the test: its own
// configuration, passwd-file, maildirs, sockets and logs in a temporary directory,
// listening on a free loopback port. No system configuration or daemon is used.
type dovecot struct {
	dir      string
	port     int
	maildir  string // the test user's Maildir
	uid, gid int
}

func startDovecot(t *testing.T, username, password string) *dovecot {
	t.Helper()
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		// Debian installs it in /usr/sbin, which a normal user's PATH may lack.
		bin, err = exec.LookPath("/usr/sbin/dovecot")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("dovecot is not installed (.ci/run installs dovecot-imapd)")
		}
		t.Skip("dovecot not installed; apt-get install dovecot-imapd (required under CI)")
	}
	dir := t.TempDir()
	// Dovecot drops privileges to the mail user, who must reach the maildir:
	// open up the temporary directories (they are created 0700).
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	loginUser, internalUser := "dovenull", "dovecot"
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		// Dovecot refuses mail access as root: mail belongs to its own user.
		u, err := user.Lookup("dovecot")
		if err != nil {
			t.Fatalf("dovecot user: %v", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	} else {
		me, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		loginUser, internalUser = me.Username, me.Username
	}
	home := filepath.Join(dir, "home", username)
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, uid, gid); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	users := fmt.Sprintf("%s:{PLAIN}%s:%d:%d::%s::\n", username, password, uid, gid, home)
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte(users), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
default_login_user = %[3]s
default_internal_user = %[4]s
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[1]s/users
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[2]d
  }
  inet_listener imaps {
    port = 0
  }
}
`, dir, port, loginUser, internalUser)
	confPath := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-F", "-c", confPath)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// Dovecot goes down with the test binary even if the binary is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dovecot: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "dovecot.log")); err == nil {
				t.Logf("dovecot.log:\n%s", b)
			}
		}
	})
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			c.Close()
			break
		}
		if i == 500 {
			b, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
			t.Fatalf("dovecot did not start listening: %v\n%s", err, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &dovecot{dir: dir, port: port, maildir: filepath.Join(home, "Maildir"), uid: uid, gid: gid}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// resetUIDs makes Dovecot renumber the INBOX under a new UIDVALIDITY, the way a
// restored backup or a rebuilt index does: the uidlist is replaced by an empty one
// with a new UIDVALIDITY and the indexes are dropped. With keepFlags false the
// flags in the file names go too, so every mail looks new and unread.
func (d *dovecot) resetUIDs(t *testing.T, uidValidity uint32, keepFlags bool) {
	t.Helper()
	entries, err := os.ReadDir(d.maildir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "dovecot.index") || e.Name() == "dovecot-uidlist" {
			if err := os.Remove(filepath.Join(d.maildir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	uidlist := filepath.Join(d.maildir, "dovecot-uidlist")
	if err := os.WriteFile(uidlist, []byte(fmt.Sprintf("3 V%d N1\n", uidValidity)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(uidlist, d.uid, d.gid); err != nil {
		t.Fatal(err)
	}
	if keepFlags {
		return
	}
	cur := filepath.Join(d.maildir, "cur")
	files, err := os.ReadDir(cur)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := f.Name()
		if i := strings.Index(name, ":2,"); i >= 0 {
			if err := os.Rename(filepath.Join(cur, name), filepath.Join(cur, name[:i]+":2,")); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestIMAPDovecot drains a real Dovecot INBOX, survives a UIDVALIDITY reset (with
// flags kept and with flags lost) and never stores a mail twice under one
// UIDVALIDITY.
func TestIMAPDovecot(t *testing.T) {
	dc := startDovecot(t, "desk", "dovecot-pw")
	sink := newCountingSink(t)
	// Each committed mail goes straight through the real ingest into tickets.
	ingester := &Ingester{Tickets: tickets.NewService(testenv.DB(t)), Intake: sink.in}
	sink.in.Enqueue = func(ctx context.Context, id int64) error {
		_, err := ingester.Process(ctx, id)
		return err
	}
	p, svc := newPoller(t, sink)
	p.MaxIdleSessions = 1
	mb := imapMailbox(t, svc, "127.0.0.1", dc.port, "desk", "dovecot-pw", "seen", "")
	u := dialUser(t, "127.0.0.1", dc.port, "desk", "dovecot-pw")

	var mails []string
	for i := range 3 {
		m := testMail(fmt.Sprintf("customer%d@example.org", i), mb.Address, fmt.Sprint("Order ", i), unique("dc")+"@example.org")
		mails = append(mails, m)
		u.appendMail("INBOX", m)
	}
	u.appendMail("INBOX", testMail("old@example.org", mb.Address, "read before", unique("dc")+"@example.org"), imap.FlagSeen)

	// The session drains, then idles; mail appended while it idles arrives too.
	idling := make(chan struct{}, 10)
	p.idling = func() { idling <- struct{}{} }
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Poll(ctx, mb.ID) }()
	select {
	case <-idling:
	case err := <-done:
		t.Fatalf("session ended before idling: %v", err)
	}
	if n := stored(t, mb.ID); n != 3 {
		t.Fatalf("first drain stored %d mails, want the 3 unread", n)
	}
	late := testMail("late@example.org", mb.Address, "During IDLE", unique("dc")+"@example.org")
	mails = append(mails, late)
	u.appendMail("INBOX", late)
	waitFor(t, func() bool { return reloadMailbox(t, svc, mb.ID).IMAPLastUID == 5 })
	if n := stored(t, mb.ID); n != 4 {
		t.Fatalf("%d mails stored, want 4", n)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := reloadMailbox(t, svc, mb.ID)
	if got.IMAPLastUID != 5 || got.LastError != "" || got.LastSuccessAt == nil {
		t.Fatalf("state after draining: %+v", got.IMAPStatus)
	}
	for uid, f := range u.flags("INBOX") {
		if !hasFlag(f, imap.FlagSeen) {
			t.Fatalf("uid %d not \\Seen after the poll", uid)
		}
	}
	u.c.Unselect().Wait()
	oldValidity := got.IMAPUIDValidity
	if tk, msgs := channelCounts(t, mb.ChannelID); tk != 4 || msgs != 4 {
		t.Fatalf("after the first poll: %d tickets, %d messages; want 4 and 4", tk, msgs)
	}

	// Reset with flags kept: the mail is renumbered, all of it already \Seen, so
	// the re-sync takes nothing. From here on sessions end after draining.
	p, _ = newPoller(t, sink)
	dc.resetUIDs(t, uint32(oldValidity)+100, true)
	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	got = reloadMailbox(t, svc, mb.ID)
	if got.IMAPUIDValidity != oldValidity+100 {
		t.Fatalf("uidvalidity %d after reset, want %d", got.IMAPUIDValidity, oldValidity+100)
	}
	if n := stored(t, mb.ID); n != 4 {
		t.Fatalf("re-sync with flags kept stored %d mails, want still 4", n)
	}

	// Reset with flags lost: every mail looks new. Each is stored once under the new
	// UIDVALIDITY (the ingest's Message-ID check keeps them one message per channel).
	dc.resetUIDs(t, uint32(oldValidity)+200, false)
	for range 2 {
		if err := p.Poll(t.Context(), mb.ID); err != nil {
			t.Fatal(err)
		}
	}
	var perValidity []struct {
		V int64 `gorm:"column:imap_uidvalidity"`
		N int
	}
	if err := svc.DB.Raw(`SELECT imap_uidvalidity, count(*) AS n, count(DISTINCT imap_uid) AS d FROM inbound_mails
		WHERE imap_mailbox_id = ? GROUP BY imap_uidvalidity ORDER BY imap_uidvalidity`, mb.ID).Scan(&perValidity).Error; err != nil {
		t.Fatal(err)
	}
	if len(perValidity) != 2 || perValidity[0].N != 4 || perValidity[1].N != 5 || perValidity[1].V != oldValidity+200 {
		t.Fatalf("stored mails per uidvalidity: %+v; want 4 under the first, all 5 once under the last", perValidity)
	}
	if got := reloadMailbox(t, svc, mb.ID); got.IMAPLastUID != 5 || got.LastError != "" {
		t.Fatalf("state after re-sync: %+v", got.IMAPStatus)
	}
	// The re-fetched copies were ingested and recognised: still one ticket and one
	// message per mail (the read-before mail is now a fifth, new ticket).
	if tk, msgs := channelCounts(t, mb.ChannelID); tk != 5 || msgs != 5 {
		t.Fatalf("after the re-sync: %d tickets, %d messages; want 5 and 5", tk, msgs)
	}
	var unprocessed int
	svc.DB.Raw(`SELECT count(*) FROM inbound_mails WHERE imap_mailbox_id = ? AND processed_at IS NULL`, mb.ID).Scan(&unprocessed)
	if unprocessed != 0 {
		t.Fatalf("%d stored mails not ingested", unprocessed)
	}
}

// channelCounts returns the number of tickets and messages in a channel.
func channelCounts(t *testing.T, channelID int64) (ticketCount, messageCount int) {
	t.Helper()
	db := testenv.DB(t)
	if err := db.Raw(`SELECT count(*) FROM tickets WHERE channel_id = ?`, channelID).Scan(&ticketCount).Error; err != nil {
		t.Fatal(err)
	}
	if err := db.Raw(`SELECT count(*) FROM messages WHERE channel_id = ?`, channelID).Scan(&messageCount).Error; err != nil {
		t.Fatal(err)
	}
	return ticketCount, messageCount
}

// Against Dovecot, a mail over the size limit arrives as a ticket made from its
// header (fetched with a partial BODY.PEEK[HEADER]), moved to the processed folder
// only after it is committed, while the complete mail stays there.
func TestIMAPDovecotOversizedMail(t *testing.T) {
	dc := startDovecot(t, "desk", "dovecot-pw")
	sink := newCountingSink(t)
	sink.in.MaxSize = 4000
	ingester := &Ingester{Tickets: tickets.NewService(testenv.DB(t)), Intake: sink.in}
	sink.in.Enqueue = func(ctx context.Context, id int64) error {
		_, err := ingester.Process(ctx, id)
		return err
	}
	p, svc := newPoller(t, sink)
	mb := imapMailbox(t, svc, "127.0.0.1", dc.port, "desk", "dovecot-pw", "move", "Done")
	u := dialUser(t, "127.0.0.1", dc.port, "desk", "dovecot-pw")
	if err := u.c.Create("Done", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	huge := "From: Scanner <scan@example.org>\r\nTo: " + mb.Address + "\r\nSubject: Scanned invoice\r\nMessage-ID: <" +
		unique("dc") + "@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=S\r\n\r\n" +
		"--S\r\nContent-Type: application/pdf; name=invoice.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		strings.Repeat("JVBERi0xLjQK\r\n", 1000) + "--S--\r\n"
	u.appendMail("INBOX", testMail("ann@example.org", mb.Address, "small", unique("dc")+"@example.org"))
	u.appendMail("INBOX", huge)

	if err := p.Poll(t.Context(), mb.ID); err != nil {
		t.Fatal(err)
	}
	got := reloadMailbox(t, svc, mb.ID)
	if stored(t, mb.ID) != 2 || !strings.Contains(got.LastError, "only the header kept: UID [2]") {
		t.Fatalf("stored %d, state %+v", stored(t, mb.ID), got.IMAPStatus)
	}
	if n, done := u.numMessages("INBOX"), u.numMessages("Done"); n != 0 || done != 2 {
		t.Fatalf("%d left in INBOX, %d in Done; want everything moved", n, done)
	}
	var m tickets.Message
	if err := svc.DB.Preload("Attachments").Where("channel_id = ? AND subject = ?", mb.ChannelID, "Scanned invoice").
		Take(&m).Error; err != nil {
		t.Fatal(err)
	}
	if m.FromAddress != "scan@example.org" || len(m.Attachments) != 0 ||
		!strings.Contains(m.ParseWarning, fmt.Sprintf("the mail is %d bytes", len(huge))) ||
		!strings.Contains(m.ParseWarning, `moved from folder "INBOX" to "Done"`) {
		t.Fatalf("message from %q, %d attachments, warning %q", m.FromAddress, len(m.Attachments), m.ParseWarning)
	}
	// The complete mail is still on the server.
	if _, err := u.c.Select("Done", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := u.c.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{RFC822Size: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].RFC822Size != int64(len(huge)) {
		t.Fatalf("complete mail in Done: %+v, %v", msgs, err)
	}
}
