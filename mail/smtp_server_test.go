package mail

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tickets"
)

// testServer runs our SMTP server on a loopback port with an Intake whose
// enqueue function records ids, and an Ingester to process them.
type testServer struct {
	addr   string
	intake *Intake
	ing    *Ingester
	q      *enqueued
}

func startSMTP(t *testing.T, cfg SMTPConfig) *testServer {
	t.Helper()
	db := testenv.DB(t)
	q := &enqueued{}
	in := &Intake{DB: db, Blobs: &tickets.Blobs{Dir: t.TempDir()}, Enqueue: q.fn, MaxSize: cfg.MaxMessageBytes}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		NewSMTPServer(cfg, in, nil).Serve(ctx, ln, 5*time.Second)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return &testServer{addr: ln.Addr().String(), intake: in, q: q,
		ing: &Ingester{Tickets: tickets.NewService(db), Intake: in}}
}

// processAll ingests everything enqueued so far.
func (ts *testServer) processAll(t *testing.T) []IngestedItem {
	t.Helper()
	ts.q.mu.Lock()
	ids := ts.q.ids
	ts.q.ids = nil
	ts.q.mu.Unlock()
	var items []IngestedItem
	for _, id := range ids {
		res, err := ts.ing.Process(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, res.Items...)
	}
	return items
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func dialSMTP(t *testing.T, addr string) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	return c
}

func simpleMail(from, to, subject, msgID, body string) string {
	return fmt.Sprintf("From: Customer <%s>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s>\r\nDate: Mon, 2 Jan 2006 15:04:05 +0000\r\n\r\n%s\r\n",
		from, to, subject, msgID, body)
}

func TestSMTPServer(t *testing.T) {
	ts := startSMTP(t, SMTPConfig{MaxMessageBytes: 200 << 10, MaxRecipients: 5, MaxConnsPerIP: 4})
	ch1, mb1 := newMailbox(t)
	ch2, mb2 := newMailbox(t)
	db := testenv.DB(t)

	t.Run("extensions_are_advertised", func(t *testing.T) {
		c := dialSMTP(t, ts.addr)
		for _, ext := range []string{"SIZE", "8BITMIME", "SMTPUTF8", "PIPELINING"} {
			if ok, _ := c.Extension(ext); !ok {
				t.Errorf("%s not advertised", ext)
			}
		}
		if ok, _ := c.Extension("STARTTLS"); ok {
			t.Error("STARTTLS advertised without a certificate")
		}
		if n, _ := c.MaxMessageSize(); n != 200<<10 {
			t.Errorf("SIZE %d", n)
		}
	})

	t.Run("unknown_recipient_gets_550_never_relayed", func(t *testing.T) {
		c := dialSMTP(t, ts.addr)
		if err := c.Mail("a@customer.test", nil); err != nil {
			t.Fatal(err)
		}
		for _, rcpt := range []string{"someone@gmail.test", "nobody@support.test", "x" + mb1.Address} {
			if code := smtpCode(c.Rcpt(rcpt, nil)); code != 550 {
				t.Errorf("RCPT %s: code %d, want 550", rcpt, code)
			}
		}
	})

	t.Run("mail_to_two_channels_makes_a_ticket_in_each", func(t *testing.T) {
		local, domain, _ := strings.Cut(mb1.Address, "@")
		rcpts := []string{strings.ToUpper(mb1.Address), local + "+sales@" + domain, mb2.Address}
		body := simpleMail("two@customer.test", mb1.Address+", "+mb2.Address, "Hello both", unique("two")+"@customer.test", "Body text")
		if err := sendMail(ts.addr, "two@customer.test", rcpts, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		items := ts.processAll(t)
		if len(items) != 2 || !items[0].NewTicket || !items[1].NewTicket {
			t.Fatalf("items %+v", items)
		}
		got := map[int64]bool{items[0].ChannelID: true, items[1].ChannelID: true}
		if !got[ch1.ID] || !got[ch2.ID] {
			t.Fatalf("channels %v, want %d and %d", got, ch1.ID, ch2.ID)
		}
		var m tickets.Message
		db.Take(&m, items[0].MessageID)
		if m.Subject != "Hello both" || !strings.Contains(m.BodyText, "Body text") || m.FromAddress != "two@customer.test" {
			t.Fatalf("message %+v", m)
		}
	})

	t.Run("oversize_mail_gets_552_and_nothing_is_stored", func(t *testing.T) {
		var before int64
		db.Raw(`SELECT count(*) FROM inbound_mails`).Scan(&before)
		big := simpleMail("big@customer.test", mb1.Address, "big", unique("big")+"@x", strings.Repeat("0123456789abcdef\r\n", 20<<10))
		err := sendMail(ts.addr, "big@customer.test", []string{mb1.Address}, strings.NewReader(big))
		if code := smtpCode(err); code != 552 {
			t.Fatalf("err %v, want 552", err)
		}
		// SIZE declared up front is refused at MAIL FROM.
		c := dialSMTP(t, ts.addr)
		if code := smtpCode(c.Mail("big@customer.test", &smtp.MailOptions{Size: 1 << 30})); code != 552 {
			t.Fatalf("MAIL SIZE=1G: code %d, want 552", code)
		}
		var after int64
		db.Raw(`SELECT count(*) FROM inbound_mails`).Scan(&after)
		if after != before {
			t.Fatalf("inbound_mails %d -> %d", before, after)
		}
	})

	t.Run("too_many_recipients_get_452", func(t *testing.T) {
		c := dialSMTP(t, ts.addr)
		c.Mail("many@customer.test", nil)
		local, domain, _ := strings.Cut(mb1.Address, "@")
		var last error
		for i := 0; i < 7; i++ {
			last = c.Rcpt(fmt.Sprintf("%s+%d@%s", local, i, domain), nil)
		}
		if code := smtpCode(last); code != 452 {
			t.Fatalf("7th RCPT: %v, want 452", last)
		}
	})

	t.Run("connections_over_the_per_ip_limit_get_421", func(t *testing.T) {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		var refused bool
		for i := 0; i < 6 && !refused; i++ {
			c, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 200)
			n, _ := c.Read(buf)
			refused = strings.HasPrefix(string(buf[:n]), "421")
		}
		if !refused {
			t.Fatal("no connection refused with 421")
		}
	})
}

func TestSMTPTimeoutsAndTLS(t *testing.T) {
	cert := selfSigned(t)
	ts := startSMTP(t, SMTPConfig{CommandTimeout: 300 * time.Millisecond, DataTimeout: 300 * time.Millisecond,
		DataDeadline: time.Second, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	_, mb := newMailbox(t)

	t.Run("starttls_is_offered_and_works", func(t *testing.T) {
		c, err := smtp.DialStartTLS(ts.addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, ok := c.TLSConnectionState(); !ok {
			t.Fatal("no TLS after STARTTLS")
		}
		body := simpleMail("tls@customer.test", mb.Address, "over tls", unique("tls")+"@x", "secret")
		if err := c.SendMail("tls@customer.test", []string{mb.Address}, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		if items := ts.processAll(t); len(items) != 1 {
			t.Fatalf("items %+v", items)
		}
	})

	t.Run("slowloris_data_is_cut_off_and_not_stored", func(t *testing.T) {
		var before int64
		testenv.DB(t).Raw(`SELECT count(*) FROM inbound_mails`).Scan(&before)
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r := make([]byte, 4096)
		c.Read(r)
		for _, cmd := range []string{"EHLO x\r\n", "MAIL FROM:<slow@x.test>\r\n", "RCPT TO:<" + mb.Address + ">\r\n", "DATA\r\n"} {
			io.WriteString(c, cmd)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			c.Read(r)
		}
		// Drip one byte every 100 ms: each read is in time, the whole is not.
		cut := false
		for i := 0; i < 40 && !cut; i++ {
			if _, err := io.WriteString(c, "x"); err != nil {
				cut = true
			}
			time.Sleep(100 * time.Millisecond)
			c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			if n, _ := c.Read(r); n > 0 {
				cut = strings.HasPrefix(string(r[:n]), "4")
			}
		}
		if !cut {
			t.Fatal("slow DATA was not cut off")
		}
		var after int64
		testenv.DB(t).Raw(`SELECT count(*) FROM inbound_mails`).Scan(&after)
		if after != before {
			t.Fatalf("a cut-off mail was stored")
		}
	})

	t.Run("idle_client_is_disconnected", func(t *testing.T) {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		all, _ := io.ReadAll(c) // greeting, then 421 and close after the command timeout
		if !strings.Contains(string(all), "421") {
			t.Fatalf("got %q, want a 421 before close", all)
		}
	})
}

func TestLMTP(t *testing.T) {
	ts := startSMTP(t, SMTPConfig{LMTP: true})
	_, mb1 := newMailbox(t)
	_, mb2 := newMailbox(t)
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	if err := c.Hello("mta.test"); err != nil {
		t.Fatal(err)
	}
	c.Mail("l@customer.test", nil)
	if err := c.Rcpt(mb1.Address, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(mb2.Address, nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, simpleMail("l@customer.test", mb1.Address, "via lmtp", unique("lmtp")+"@x", "hi"))
	res, err := w.CloseWithLMTPResponse()
	if err != nil || len(res) != 2 {
		t.Fatalf("LMTP responses %v err %v", res, err)
	}
	items := ts.processAll(t)
	if len(items) != 2 {
		t.Fatalf("items %+v", items)
	}
	var src string
	testenv.DB(t).Raw(`SELECT source FROM inbound_mails ORDER BY id DESC LIMIT 1`).Scan(&src)
	if src != "lmtp" {
		t.Fatalf("source %q", src)
	}
}

func TestSMTPConcurrentSendersAllStored(t *testing.T) {
	ts := startSMTP(t, SMTPConfig{MaxConnsPerIP: 50})
	_, mb := newMailbox(t)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := simpleMail(fmt.Sprintf("c%d@customer.test", i), mb.Address, fmt.Sprintf("n%d", i), unique("conc")+"@x", "x")
			errs <- sendMail(ts.addr, "c@customer.test", []string{mb.Address}, strings.NewReader(body))
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if items := ts.processAll(t); len(items) != 40 {
		t.Fatalf("%d items, want 40", len(items))
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// sendMail delivers one mail over plain SMTP with a real client.
func sendMail(addr, from string, to []string, r io.Reader) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendMail(from, to, r); err != nil {
		return err
	}
	return c.Quit()
}
