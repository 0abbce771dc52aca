package mail

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkIMAPPoll measures how fast one poll drains a folder: b.N mails of about
// 4 KB wait in the in-memory server's INBOX, then one Poll fetches them, hands each
// to the sink and flags them \Seen. "intake" commits every mail to Postgres (the
// real path, up to 4 commits at once); "intake_serial" commits one at a time;
// "fetch_only" discards them, the ceiling set by the IMAP side alone.
func BenchmarkIMAPPoll(b *testing.B) {
	intake := func(tb testing.TB) (IMAPSink, func(mailboxID int64) int) {
		return newCountingSink(tb), func(id int64) int { return stored(tb, id) }
	}
	b.Run("intake", func(b *testing.B) { benchIMAPPoll(b, 0, intake) })
	b.Run("intake_serial", func(b *testing.B) { benchIMAPPoll(b, 1, intake) })
	b.Run("fetch_only", func(b *testing.B) {
		benchIMAPPoll(b, 0, func(tb testing.TB) (IMAPSink, func(mailboxID int64) int) {
			s := &discardSink{}
			return s, func(int64) int { return int(s.n.Load()) }
		})
	})
}

func benchIMAPPoll(b *testing.B, parallel int, newSink func(testing.TB) (IMAPSink, func(mailboxID int64) int)) {
	srv := startMemIMAP(b, "bench", "pw")
	sink, count := newSink(b)
	p, svc := newPoller(b, sink)
	p.Parallel = parallel
	mb := imapMailbox(b, svc, srv.host, srv.port, "bench", "pw", "seen", "")
	u := dialUser(b, srv.host, srv.port, "bench", "pw")
	body := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n", 64)
	for i := range b.N {
		m := testMail("customer@example.org", mb.Address, fmt.Sprint("Benchmark ", i), unique("bench")+"@example.org")
		u.appendMail("INBOX", m+body)
	}
	b.ResetTimer()
	start := time.Now()
	if err := p.Poll(b.Context(), mb.ID); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if n := count(mb.ID); n != b.N {
		b.Fatalf("took %d of %d mails", n, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "mails/s")
}

type discardSink struct{ n atomic.Int64 }

func (s *discardSink) MaxMailBytes() int64 { return 0 }

func (s *discardSink) Accept(ctx context.Context, a Arrival, r io.Reader) (int64, error) {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return 0, err
	}
	return s.n.Add(1), nil
}
