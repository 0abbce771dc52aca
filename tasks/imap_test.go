package tasks

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/hibiken/asynq"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/mail"
	"github.com/postdesk/postdesk/tickets"
)

// TestIMAPPollTasks runs the scheduler's poll-all and a real worker against an
// IMAP server: every due mailbox gets one queued poll however often poll-all runs,
// a resting mailbox gets none, and the worker drains the mail into the intake.
func TestIMAPPollTasks(t *testing.T) {
	ctx := t.Context()
	_, port := testenv.MemIMAP(t, "desk", "pw")
	db := testenv.DB(t)
	svc := tickets.NewService(db)
	client := NewClient(testenv.Asynq(t))
	t.Cleanup(func() { client.Close() })
	client.Redis().FlushDB(ctx)

	ch := &tickets.Channel{Name: "IMAP tasks", Kind: "email", AssignmentMode: "default", FromNameFormat: "{agent}",
		MaxAttachmentBytes: 1 << 20}
	if err := db.Create(ch).Error; err != nil {
		t.Fatal(err)
	}
	newBox := func(addr string) *tickets.Mailbox {
		m := &tickets.Mailbox{ChannelID: ch.ID, Address: addr, Inbound: "imap", IMAPHost: "127.0.0.1",
			IMAPPort: port, IMAPSecurity: "plain", IMAPUsername: "desk", IMAPPassword: "pw", IMAPFolder: "INBOX",
			IMAPAfter: "seen", SMTPPort: 587, SMTPSecurity: "starttls"}
		if err := db.Create(m).Error; err != nil {
			t.Fatal(err)
		}
		return m
	}
	due := newBox("due@example.com")
	resting := newBox("resting@example.com")
	if err := db.Exec(`UPDATE mailboxes SET imap_failures = 3, last_polled_at = now() WHERE id = ?`, resting.ID).Error; err != nil {
		t.Fatal(err)
	}
	smtpBox := &tickets.Mailbox{ChannelID: ch.ID, Address: "smtp-only@example.com", Inbound: "smtp", IMAPPort: 993,
		IMAPSecurity: "tls", IMAPFolder: "INBOX", IMAPAfter: "seen", SMTPPort: 587, SMTPSecurity: "starttls"}
	if err := db.Create(smtpBox).Error; err != nil {
		t.Fatal(err)
	}

	poller := &mail.IMAPPoller{Tickets: svc, Sink: &mail.Intake{DB: db, Blobs: &tickets.Blobs{Dir: t.TempDir()}},
		DSN: testenv.DSN(t), MaxIdleSessions: -1}
	d := Deps{Tickets: svc, Client: client, Log: slog.New(slog.DiscardHandler), IMAP: poller}
	for range 3 {
		if err := enqueueIMAPPolls(ctx, d, time.Minute, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	insp := asynq.NewInspectorFromRedisClient(client.Redis())
	pending, err := insp.ListPendingTasks(QueueDefault)
	if err != nil {
		t.Fatal(err)
	}
	var polls []string
	for _, ti := range pending {
		if ti.Type == TypeIMAPPoll {
			polls = append(polls, string(ti.Payload))
		}
	}
	want := fmt.Sprintf(`{"mailbox_id":%d}`, due.ID)
	if len(polls) != 1 || polls[0] != want {
		t.Fatalf("queued polls %v, want exactly [%s]", polls, want)
	}

	deliver(t, port, "desk", "pw", "From: a@example.org\r\nSubject: hi\r\nMessage-ID: <tasks-1@example.org>\r\n\r\nhello\r\n")
	w := NewWorker(testenv.Asynq(t), d.Log)
	w.Concurrency = 2
	Register(w, d)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.RunWorker(wctx) }()
	defer func() { stop(); <-done }()
	for range 1000 {
		var n int
		db.Raw(`SELECT count(*) FROM inbound_mails WHERE imap_mailbox_id = ?`, due.ID).Scan(&n)
		if n == 1 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the worker did not drain the mailbox")
}

func deliver(t *testing.T, port int, user, password, raw string) {
	c, err := imapclient.DialInsecure(fmt.Sprintf("127.0.0.1:%d", port), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, password).Wait(); err != nil {
		t.Fatal(err)
	}
	cmd := c.Append("INBOX", int64(len(raw)), nil)
	io.WriteString(cmd, raw)
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}
