package testenv

import (
	"fmt"
	"math/rand"
	"strings"
	"sync"
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
