package testenv

import (
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Mail5KB is the ~5 KB plain-text mail the ingest benchmarks send: mail i comes
// from one of 200 customers and carries the unique Message-ID <id@customer.test>.
func Mail5KB(i int, id string) string {
	words := strings.Fields("the printer in room four keeps jamming whenever we print more than ten pages please advise")
	var body strings.Builder
	r := rand.New(rand.NewSource(int64(i)))
	for body.Len() < 5000 {
		body.WriteString(words[r.Intn(len(words))])
		if body.Len()%70 < 8 {
			body.WriteString("\r\n")
		} else {
			body.WriteByte(' ')
		}
	}
	return fmt.Sprintf("From: Customer %d <c%d@customer.test>\r\nTo: support@example.test\r\nSubject: Bench %d\r\n"+
		"Message-ID: <%s@customer.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
		i, i%200, i, id, body.String())
}

// SendMails delivers mails 0..n-1 to rcpt at the SMTP server addr over conns
// connections, mail i on connection i%conns. With rate > 0 mail i is not sent
// before i/rate seconds from the start (an offered load); a connection that falls
// behind sends at once. It returns when every mail got its reply.
func SendMails(tb testing.TB, addr, rcpt string, n, conns int, rate float64, mail func(i int) string) {
	t0 := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			cl, err := smtp.Dial(addr)
			if err != nil {
				tb.Error(err)
				return
			}
			defer cl.Close()
			for i := c; i < n; i += conns {
				if rate > 0 {
					time.Sleep(time.Until(t0.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
				}
				if err := cl.SendMail("bench@customer.test", []string{rcpt}, strings.NewReader(mail(i))); err != nil {
					tb.Error(err)
					return
				}
			}
			cl.Quit()
		}(c)
	}
	wg.Wait()
}

// RawInsertRate measures single-row INSERT commits of 5 KB per second on the
// package's database with conns concurrent connections for d: the ceiling any
// durable per-mail commit runs against, measured in the same run as an ingest
// benchmark so that its rate can be given as a ratio to it.
func RawInsertRate(tb testing.TB, conns int, d time.Duration) float64 {
	db := DB(tb)
	if err := db.Exec(`CREATE TABLE IF NOT EXISTS bench_raw_inserts (id bigserial PRIMARY KEY, body text NOT NULL)`).Error; err != nil {
		tb.Fatal(err)
	}
	payload := strings.Repeat("x", 5000)
	var n atomic.Int64
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if err := db.Exec(`INSERT INTO bench_raw_inserts (body) VALUES (?)`, payload).Error; err != nil {
					tb.Error(err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / d.Seconds()
}
