package mail

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tickets"
)

// ingestBench runs our SMTP server with an in-process worker pool in place of the
// asynq hop: the clock starts when Intake commits a mail (the 250 is written right
// after) and stops when Ingester.Process committed its ticket.
type ingestBench struct {
	addr    string
	mb      *tickets.Mailbox
	started sync.Map // inbound id -> time committed (250)
	lat     []time.Duration
	mu      sync.Mutex
	done    atomic.Int64
	queue   chan int64
	db      *gorm.DB
}

func newIngestBench(b *testing.B, workers int) *ingestBench {
	// A pool of its own, of a production process's default size (POSTDESK_DB_MAX_CONNS).
	db, err := tickets.OpenDB(context.Background(), testenv.DSN(b), 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			s.Close()
		}
	})
	_, mb := newMailbox(b)
	ib := &ingestBench{mb: mb, queue: make(chan int64, 100000)}
	in := &Intake{DB: db, Blobs: &tickets.Blobs{Dir: b.TempDir()}, MaxSize: 25 << 20,
		Enqueue: func(ctx context.Context, id int64) error {
			ib.started.Store(id, time.Now())
			ib.queue <- id
			return nil
		}}
	ing := &Ingester{Tickets: tickets.NewService(db), Intake: in}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	for w := 0; w < workers; w++ {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case id := <-ib.queue:
					if _, err := ing.Process(ctx, id); err != nil && ctx.Err() == nil {
						b.Error(err)
					}
					t0, _ := ib.started.Load(id)
					ib.mu.Lock()
					ib.lat = append(ib.lat, time.Since(t0.(time.Time)))
					ib.mu.Unlock()
					ib.done.Add(1)
				}
			}
		}()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go NewSMTPServer(SMTPConfig{MaxConnsPerIP: 100}, in, nil).Serve(ctx, ln, time.Second)
	ib.addr = ln.Addr().String()
	ib.db = db
	return ib
}

// warm ingests n mails and then analyzes the database, so the measured run sees
// tables with statistics, as autovacuum keeps them in a running install. Without
// it the planner keeps the plans it made for empty tables (a scan of messages per
// mail) through a run shorter than autovacuum's first look.
func (ib *ingestBench) warm(b *testing.B, n int, mail func(i int) string) {
	ib.run(b, n, 4, mail)
	if err := ib.db.Exec("ANALYZE").Error; err != nil {
		b.Fatal(err)
	}
	ib.mu.Lock()
	ib.lat = ib.lat[:0]
	ib.mu.Unlock()
	ib.done.Store(0)
}

// run sends n mails over conns concurrent connections and waits for all to be
// ingested; it returns the wall time from the first send to the last commit.
func (ib *ingestBench) run(b *testing.B, n, conns int, mail func(i int) string) time.Duration {
	start := time.Now()
	testenv.SendMails(b, ib.addr, ib.mb.Address, n, conns, 0, mail)
	for ib.done.Load() < int64(n) && !b.Failed() {
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// measure is an ingest benchmark's run: 500 mails to warm up, then b.N mails
// over four connections, timed and reported.
func (ib *ingestBench) measure(b *testing.B, mail func(i int) string) {
	ib.warm(b, 500, mail)
	b.ResetTimer()
	wall := ib.run(b, b.N, 4, mail)
	b.StopTimer()
	ib.report(b, b.N, wall)
}

func (ib *ingestBench) report(b *testing.B, n int, wall time.Duration) {
	ib.mu.Lock()
	lat := slices.Clone(ib.lat)
	ib.mu.Unlock()
	slices.Sort(lat)
	if len(lat) == 0 {
		return
	}
	rate := float64(n) / wall.Seconds()
	b.ReportMetric(rate, "mails/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
	pg := testenv.RawInsertRate(b, 4, time.Second)
	b.ReportMetric(pg, "pg_inserts/s")
	b.ReportMetric(rate/pg, "ratio_to_pg")
}

var benchSeq atomic.Int64

func mail5KB(i int) string {
	return testenv.Mail5KB(i, fmt.Sprintf("bench-%d-%d", benchSeq.Add(1), i))
}

func mail200KB2Att(i int) string {
	att := func(seed int64) string {
		raw := make([]byte, 95<<10)
		rand.New(rand.NewSource(seed)).Read(raw)
		enc := base64.StdEncoding.EncodeToString(raw)
		var s strings.Builder
		for len(enc) > 76 {
			s.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		return s.String() + enc
	}
	seq := benchSeq.Add(1)
	return fmt.Sprintf("From: Customer %d <c%d@customer.test>\r\nTo: support@example.test\r\nSubject: Bench %d\r\n"+
		"Message-ID: <bench-att-%d-%d@customer.test>\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"+
		"--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\n"+
		"Content-Transfer-Encoding: base64\r\n\r\n%s\r\n"+
		"--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"b.pdf\"\r\n"+
		"Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--b1--\r\n",
		i, i%200, i, seq, i, att(seq*2), att(seq*2+1))
}

// BenchmarkIngest5KB: ~5 KB mails over 4 concurrent SMTP connections, from the 250
// to the ticket committed in Postgres; metrics: sustained mails/s, p50/p99 latency
// 250→committed, and a raw Postgres insert rate from the same run for the ratio.
func BenchmarkIngest5KB(b *testing.B) {
	newIngestBench(b, 16).measure(b, mail5KB)
}

// BenchmarkIngest5KBRoundRobin is BenchmarkIngest5KB into a channel that assigns
// new tickets round robin among three online agents: each new ticket takes its
// turn on the channel's lock, and the agent is notified.
func BenchmarkIngest5KBRoundRobin(b *testing.B) {
	ib := newIngestBench(b, 16)
	autoAssigning(b, ib.mb.ChannelID, "round_robin", 3)
	ib.measure(b, mail5KB)
	var unassigned int64
	ib.db.Raw(`SELECT count(*) FROM tickets WHERE channel_id = ? AND assignee_id IS NULL`, ib.mb.ChannelID).Scan(&unassigned)
	if unassigned > 0 {
		b.Fatalf("%d tickets left unassigned", unassigned)
	}
}

// BenchmarkIngest200KB2Attachments: the same for ~200 KB mails with two base64
// attachments (stored in the blob store with fsync, like the raw mail itself).
func BenchmarkIngest200KB2Attachments(b *testing.B) {
	newIngestBench(b, 16).measure(b, mail200KB2Att)
}

// BenchmarkReceive25MB reports how much the heap grows while one 25 MB mail is
// received and committed: it is streamed to the blob store, never held whole.
func BenchmarkReceive25MB(b *testing.B) {
	ib := newIngestBench(b, 0)
	// A []byte body: a strings.Reader would make the client copy all 25 MB at once.
	body := []byte("From: big@customer.test\r\nSubject: big\r\n\r\n" + strings.Repeat(strings.Repeat("y", 998)+"\r\n", 24<<10))
	b.SetBytes(int64(len(body)))
	var peak atomic.Uint64
	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	stop := make(chan struct{})
	go func() {
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := sendMail(ib.addr, "big@customer.test", []string{ib.mb.Address}, bytes.NewReader(body)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(stop)
	// The body was allocated before the baseline, so it is not counted.
	grow := int64(peak.Load()) - int64(base.HeapInuse)
	b.ReportMetric(float64(grow)/(1<<20), "peak_heap_growth_MB")
}
