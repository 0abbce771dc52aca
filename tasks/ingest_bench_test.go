package tasks

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/mail"
	"github.com/postdesk/postdesk/tickets"
)

// BenchmarkIngest5KBThroughQueue is mail.BenchmarkIngest5KB with the production
// hop in place: each committed mail is an asynq task in Redis, run by a worker
// (concurrency 20) like `postdesk serve`. The four SMTP clients send as fast as
// they are answered, so it reports the most mails/s the whole path commits; as
// intake outruns the worker, the queue grows and p50/p99 (250 → ticket committed)
// grow with the length of the run.
func BenchmarkIngest5KBThroughQueue(b *testing.B) { benchQueue(b, 0) }

// BenchmarkIngest5KBThroughQueueAt300 offers 300 mails/s over the same four
// connections, evenly spaced: the sustained rate of the target. It reports the
// rate achieved and p50/p99 from the 250 to the ticket committed, which stay
// small only while the worker keeps up.
func BenchmarkIngest5KBThroughQueueAt300(b *testing.B) { benchQueue(b, 300) }

// benchQueue delivers b.N mails, at rate mails/s (0: as fast as possible).
func benchQueue(b *testing.B, rate float64) {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	// A pool of a production process's default size (POSTDESK_DB_MAX_CONNS), shared
	// by the SMTP intake and the worker as in `postdesk serve`.
	db, err := tickets.OpenDB(ctx, testenv.DSN(b), 0)
	if err != nil {
		b.Fatal(err)
	}
	svc := tickets.NewService(db)
	client := NewClient(testenv.Asynq(b))
	b.Cleanup(func() { client.Close() })
	client.Redis().FlushDB(ctx)

	ch := &tickets.Channel{Name: fmt.Sprintf("Bench %d", time.Now().UnixNano()), Kind: "email",
		AssignmentMode: "default", FromNameFormat: "{agent}", MaxAttachmentBytes: 25 << 20}
	if err := db.Create(ch).Error; err != nil {
		b.Fatal(err)
	}
	mb := &tickets.Mailbox{ChannelID: ch.ID, Address: fmt.Sprintf("bench%d@example.test", time.Now().UnixNano()),
		Inbound: "smtp", IMAPPort: 993, IMAPSecurity: "tls", IMAPFolder: "INBOX", IMAPAfter: "seen", SMTPPort: 587,
		SMTPSecurity: "starttls"}
	if err := db.Create(mb).Error; err != nil {
		b.Fatal(err)
	}

	var started sync.Map // inbound id -> time of the 250
	var mu sync.Mutex
	var lat []time.Duration
	var done atomic.Int64
	in := &mail.Intake{DB: db, Blobs: &tickets.Blobs{Dir: b.TempDir()}, MaxSize: 25 << 20,
		Enqueue: func(ctx context.Context, id int64) error {
			started.Store(id, time.Now())
			return client.EnqueueIngest(ctx, id)
		}}
	ing := &mail.Ingester{Tickets: svc, Intake: in, Hook: func(ctx context.Context, ev mail.Ingested) {
		if t0, ok := started.Load(ev.InboundMailID); ok {
			mu.Lock()
			lat = append(lat, time.Since(t0.(time.Time)))
			mu.Unlock()
		}
		done.Add(1)
	}}
	w := NewWorker(testenv.Asynq(b), slog.New(slog.DiscardHandler))
	Register(w, Deps{Tickets: svc, Client: client, Ingester: ing, Log: slog.New(slog.DiscardHandler)})
	go w.RunWorker(ctx)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go mail.NewSMTPServer(mail.SMTPConfig{MaxConnsPerIP: 100}, in, nil).Serve(ctx, ln, time.Second)

	// send delivers n mails over 4 connections and waits until all are ingested.
	send := func(n int, rate float64) {
		testenv.SendMails(b, ln.Addr().String(), mb.Address, n, 4, rate, benchMail)
		for done.Load() < int64(n) && !b.Failed() {
			time.Sleep(time.Millisecond)
		}
	}
	// Warm up, then analyze: the measured run sees tables with statistics, as
	// autovacuum keeps them in a running install, not plans made for empty tables.
	send(500, rate)
	if err := db.Exec("ANALYZE").Error; err != nil {
		b.Fatal(err)
	}
	mu.Lock()
	lat = lat[:0]
	mu.Unlock()
	done.Store(0)

	b.ResetTimer()
	start := time.Now()
	send(b.N, rate)
	wall := time.Since(start)
	b.StopTimer()
	mu.Lock()
	slices.Sort(lat)
	mu.Unlock()
	if len(lat) > 0 {
		b.ReportMetric(float64(b.N)/wall.Seconds(), "mails/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
		pg := testenv.RawInsertRate(b, 4, time.Second)
		b.ReportMetric(pg, "pg_inserts/s")
		b.ReportMetric(float64(b.N)/wall.Seconds()/pg, "ratio_to_pg")
	}
}

var benchMailSeq atomic.Int64

func benchMail(i int) string {
	return testenv.Mail5KB(i, fmt.Sprintf("queue-bench-%d-%d", benchMailSeq.Add(1), i))
}
