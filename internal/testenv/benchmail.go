package testenv

import (
	"fmt"
	"math/rand"
	"strings"
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
