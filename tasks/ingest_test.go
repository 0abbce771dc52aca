package tasks

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/mail"
	"github.com/postdesk/postdesk/tickets"
)

// A committed mail whose ingest task was lost (Redis flushed, worker killed) is
// queued again by the sweeper once it is old enough, and the re-delivery counts
// as an attempt; a fresh or processed mail is left alone.
func TestIngestSweepRequeuesLostMail(t *testing.T) {
	ctx := t.Context()
	db := testenv.DB(t)
	svc := tickets.NewService(db)
	client := NewClient(testenv.Asynq(t))
	t.Cleanup(func() { client.Close() })
	client.Redis().FlushDB(ctx)

	ch := &tickets.Channel{Name: "Sweep", Kind: "email", AssignmentMode: "default", FromNameFormat: "{agent}",
		MaxAttachmentBytes: 1 << 20}
	if err := db.Create(ch).Error; err != nil {
		t.Fatal(err)
	}
	mb := &tickets.Mailbox{ChannelID: ch.ID, Address: "sweep@example.com", Inbound: "smtp", IMAPPort: 993,
		IMAPSecurity: "tls", IMAPFolder: "INBOX", IMAPAfter: "seen", SMTPPort: 587, SMTPSecurity: "starttls"}
	if err := db.Create(mb).Error; err != nil {
		t.Fatal(err)
	}
	in := &mail.Intake{DB: db, Blobs: &tickets.Blobs{Dir: t.TempDir()}} // no Enqueue: the task is "lost"
	accept := func(n string) int64 {
		id, err := in.Accept(ctx, mail.Arrival{MailboxIDs: []int64{mb.ID}, Source: mail.SourceSMTP},
			strings.NewReader("From: a@b.test\r\nSubject: "+n+"\r\nMessage-ID: <"+n+"@b.test>\r\n\r\nhi\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	lost, fresh, done, busy := accept("lost"), accept("fresh"), accept("done"), accept("busy")
	db.Exec(`UPDATE inbound_mails SET received_at = now() - interval '5 minutes' WHERE id IN ?`, []int64{lost, done, busy})
	db.Exec(`UPDATE inbound_mails SET processed_at = now() WHERE id = ?`, done)

	// busy is being ingested right now (its row is locked): the sweep passes it by
	// instead of waiting for that ingest to finish.
	ingesting := db.Begin()
	if err := ingesting.Exec(`SELECT id FROM inbound_mails WHERE id = ? FOR UPDATE`, busy).Error; err != nil {
		t.Fatal(err)
	}
	sweepCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := sweepIngest(sweepCtx, Deps{Tickets: svc, Client: client, Log: slog.New(slog.DiscardHandler)})
	cancel()
	ingesting.Rollback()
	if err != nil {
		t.Fatal(err)
	}
	pending, err := asynq.NewInspectorFromRedisClient(client.Redis()).ListPendingTasks(QueueDefault)
	if err != nil {
		t.Fatal(err)
	}
	var queued []string
	for _, ti := range pending {
		queued = append(queued, ti.ID)
	}
	if want := NewIngestTaskID(lost); len(queued) != 1 || queued[0] != want {
		t.Fatalf("queued after sweep = %v, want only %s", queued, want)
	}
	var attempts []int
	db.Raw(`SELECT attempts FROM inbound_mails WHERE id IN ? ORDER BY id`, []int64{lost, fresh, done, busy}).Scan(&attempts)
	if len(attempts) != 4 || attempts[0] != 1 || attempts[1] != 0 || attempts[2] != 0 || attempts[3] != 0 {
		t.Fatalf("attempts (lost, fresh, done, busy) = %v, want [1 0 0 0]", attempts)
	}
}
