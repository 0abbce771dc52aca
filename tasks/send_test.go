package tasks

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/postdesk/postdesk/internal/testenv"
	pdmail "github.com/postdesk/postdesk/mail"
	"github.com/postdesk/postdesk/tickets"
)

var sendSeq atomic.Int64

// sendEnv is a channel with a mailbox relaying to a sink, an agent, and a ticket
// opened by a customer's mail.
type sendEnv struct {
	t       testing.TB
	svc     *tickets.Service
	client  *Client
	queue   *SendQueue
	sink    *testenv.SMTPSink
	agent   *tickets.Agent
	channel *tickets.Channel
	mailbox *tickets.Mailbox
	ticket  *tickets.Ticket
	inbound *tickets.Message
	deps    Deps
}

func newSendEnv(t testing.TB, undo int) *sendEnv {
	t.Helper()
	ctx := context.Background()
	db := testenv.DB(t)
	n := sendSeq.Add(1)
	svc := tickets.NewService(db)
	svc.Hostname = "desk.test"
	client := NewClient(testenv.Asynq(t))
	t.Cleanup(func() { client.Close() })
	q := &SendQueue{Client: client, MaxRetry: 3}
	svc.Sends = q
	sink := testenv.NewSMTPSink(t, testenv.SinkOptions{})

	admin, err := svc.CreateAgent(ctx, tickets.NewAgent{Email: fmt.Sprintf("anna%d-%d@staff.test", n, time.Now().UnixNano()),
		Name: "Anna", Password: "correct horse battery", Role: tickets.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	db.Model(&tickets.Agent{}).Where("id = ?", admin.ID).Update("undo_seconds", undo)
	admin.UndoSeconds = undo
	name := fmt.Sprintf("Awesome Flowers %d-%d", n, time.Now().UnixNano())
	ch, err := svc.CreateChannel(ctx, admin, tickets.ChannelInput{Name: &name, Kind: ptr(tickets.ChannelEmail)})
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("shop%d-%d@flowers.test", n, time.Now().UnixNano())
	mb, err := svc.CreateMailbox(ctx, admin, ch.ID, tickets.MailboxInput{Address: &addr, SMTPHost: ptr(sink.Host),
		SMTPPort: ptr(sink.Port), SMTPSecurity: ptr("plain")})
	if err != nil {
		t.Fatal(err)
	}
	e := &sendEnv{t: t, svc: svc, client: client, queue: q, sink: sink, agent: admin, channel: ch, mailbox: mb,
		deps: Deps{Tickets: svc, Client: client, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Blobs: &tickets.Blobs{Dir: t.TempDir()},
			Send:  SendConfig{BaseURL: "http://desk.test", Hostname: "desk.test", MaxRetry: 3}}}
	e.ticket, e.inbound = e.customerWrites(fmt.Sprintf("bob%d-%d@customer.test", n, time.Now().UnixNano()), nil, "Where is my order?")
	return e
}

func ptr[T any](v T) *T { return &v }

// customerWrites stores a customer's mail as the inbound pipeline would: on ticket t,
// or on a new ticket when t is nil.
func (e *sendEnv) customerWrites(from string, t *tickets.Ticket, subject string) (*tickets.Ticket, *tickets.Message) {
	e.t.Helper()
	ctx := context.Background()
	var m *tickets.Message
	err := e.svc.DB.Transaction(func(tx *gorm.DB) error {
		c, err := e.svc.ResolveContact(ctx, tx, "email", from, "Bob Customer")
		if err != nil {
			return err
		}
		if t == nil {
			if t, err = e.svc.OpenTicket(ctx, tx, tickets.NewTicket{ChannelID: e.channel.ID, Subject: subject,
				ContactID: &c.ID, MailboxID: &e.mailbox.ID}); err != nil {
				return err
			}
		}
		m = &tickets.Message{ContactID: &c.ID, MailboxID: &e.mailbox.ID, FromAddress: from, FromName: "Bob Customer",
			ToAddresses: tickets.StringList{e.mailbox.Address}, CcAddresses: tickets.StringList{"carol@customer.test"},
			Subject: subject, BodyText: "Hello?", MessageIDHeader: fmt.Sprintf("c%d.%d@customer.test", time.Now().UnixNano(), sendSeq.Add(1))}
		return e.svc.AddInboundMessage(ctx, tx, t, m)
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.svc.DB.Take(t, t.ID).Error; err != nil {
		e.t.Fatal(err)
	}
	return t, m
}

// startWorker runs a worker until the returned stop function is called.
func (e *sendEnv) startWorker() (stop func()) {
	w := NewWorker(testenv.Asynq(e.t), e.deps.Log)
	w.RetryDelay = func(int, error, *asynq.Task) time.Duration { return 300 * time.Millisecond }
	Register(w, e.deps)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.RunWorker(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	e.t.Cleanup(stop)
	return stop
}

func (e *sendEnv) reply(d tickets.OutboundDraft) *tickets.Message {
	e.t.Helper()
	m, err := e.svc.CreateOutbound(context.Background(), e.agent, e.ticket.ID, d)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func (e *sendEnv) message(id int64) *tickets.Message {
	e.t.Helper()
	m, err := e.svc.OutboundMessage(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// waitStatus polls the message until it has status want.
func (e *sendEnv) waitStatus(id int64, want string, timeout time.Duration) *tickets.Message {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		m := e.message(id)
		if m.Status == want {
			return m
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("message %d is %s (%s), want %s", id, m.Status, m.FailedReason, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// bodyParts returns the text/plain and text/html bodies of a received mail, parsed
// with the standard library.
func bodyParts(t testing.TB, msg *mail.Message) (text, html string) {
	t.Helper()
	var walk func(h map[string][]string, r io.Reader)
	walk = func(h map[string][]string, r io.Reader) {
		ct, params, err := mime.ParseMediaType(first(h["Content-Type"]))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(ct, "multipart/") {
			mr := multipart.NewReader(r, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(p.Header, p)
			}
		}
		if strings.EqualFold(first(h["Content-Transfer-Encoding"]), "quoted-printable") {
			r = quotedprintable.NewReader(r)
		}
		b, _ := io.ReadAll(r)
		switch ct {
		case "text/plain":
			text = string(b)
		case "text/html":
			html = string(b)
		}
	}
	walk(msg.Header, msg.Body)
	return text, html
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func TestReplyGoesOutThroughMailboxRelay(t *testing.T) {
	e := newSendEnv(t, 0)
	e.startWorker()
	m := e.reply(tickets.OutboundDraft{BodyText: "Hi Bob,\n\nit left today.\nAnna"})
	if m.Status != tickets.MessageQueued {
		t.Fatalf("new reply is %s", m.Status)
	}
	got := e.sink.WaitFor(1, 10*time.Second)
	if len(got) != 1 {
		t.Fatalf("sink got %d mails", len(got))
	}
	sent := e.waitStatus(m.ID, tickets.MessageSent, 5*time.Second)

	rcv := got[0]
	if rcv.From != e.mailbox.Address {
		t.Fatalf("envelope from %q", rcv.From)
	}
	if strings.Join(rcv.To, ",") != e.inbound.FromAddress+",carol@customer.test" {
		t.Fatalf("envelope to %v (the customer and the customer's CC, not our own mailbox)", rcv.To)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(rcv.Data))
	if err != nil {
		t.Fatal(err)
	}
	from, err := msg.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Anna from "+e.channel.Name || from[0].Address != e.mailbox.Address {
		t.Fatalf("From %v %v", from, err)
	}
	to, _ := msg.Header.AddressList("To")
	if len(to) != 1 || to[0].Address != e.inbound.FromAddress || to[0].Name != "Bob Customer" {
		t.Fatalf("To %v", to)
	}
	wantSubj := fmt.Sprintf("Re: Where is my order? [#%d]", e.ticket.Number)
	if s, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); s != wantSubj {
		t.Fatalf("Subject %q, want %q", s, wantSubj)
	}
	if msg.Header.Get("In-Reply-To") != "<"+e.inbound.MessageIDHeader+">" ||
		msg.Header.Get("References") != "<"+e.inbound.MessageIDHeader+">" {
		t.Fatalf("threading: In-Reply-To %q References %q", msg.Header.Get("In-Reply-To"), msg.Header.Get("References"))
	}
	if msg.Header.Get("Message-Id") != "<"+m.MessageIDHeader+">" || !strings.HasSuffix(m.MessageIDHeader, "@desk.test") {
		t.Fatalf("Message-Id %q (row %q)", msg.Header.Get("Message-Id"), m.MessageIDHeader)
	}
	text, html := bodyParts(t, msg)
	if !strings.Contains(text, "it left today.") || !strings.Contains(html, "it left today.") {
		t.Fatalf("bodies: text %q html %q", text, html)
	}
	if !strings.Contains(html, "http://desk.test/o/") || strings.Contains(text, "/o/") {
		t.Fatal("tracking pixel must be in the HTML part only")
	}

	if sent.SentAt == nil || sent.Attempts != 1 {
		t.Fatalf("sent row: %+v", sent)
	}
	var tk tickets.Ticket
	e.svc.DB.Take(&tk, e.ticket.ID)
	if tk.FirstResponseAt == nil || tk.Status != tickets.StatusPending {
		t.Fatalf("ticket after reply: first_response_at %v status %s", tk.FirstResponseAt, tk.Status)
	}

	// A second reply continues the thread from our own sent message.
	m2 := e.reply(tickets.OutboundDraft{BodyText: "One more thing."})
	if m2.InReplyTo != m.MessageIDHeader || len(m2.References) != 2 || m2.References[1] != m.MessageIDHeader {
		t.Fatalf("second reply threading: %q %v", m2.InReplyTo, m2.References)
	}
	e.waitStatus(m2.ID, tickets.MessageSent, 10*time.Second)
	var first2 tickets.Ticket
	e.svc.DB.Take(&first2, e.ticket.ID)
	if !first2.FirstResponseAt.Equal(*tk.FirstResponseAt) {
		t.Fatal("first_response_at moved on the second reply")
	}
}

func TestTaskRunTwiceSendsOnce(t *testing.T) {
	e := newSendEnv(t, 0)
	s := &Sender{Tickets: e.svc, Blobs: e.deps.Blobs, Config: e.deps.Send, Log: e.deps.Log}
	// Slow the relay so both runs overlap.
	e.sink.DataReply = func(int) error { time.Sleep(300 * time.Millisecond); return nil }
	m := e.reply(tickets.OutboundDraft{BodyText: "once"})
	payload, _ := json.Marshal(sendPayload{MessageID: m.ID})
	task := asynq.NewTask(TypeSend, payload)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.handleSend(context.Background(), task) }()
	}
	wg.Wait()
	// Once more after the fact, as a late retry or a sweep would.
	if err := s.handleSend(context.Background(), task); err != nil {
		t.Fatalf("late run: %v", err)
	}
	if n := len(e.sink.Messages()); n != 1 {
		t.Fatalf("sink got %d copies (errors %v)", n, errs)
	}
	if got := e.message(m.ID); got.Status != tickets.MessageSent || got.Attempts != 1 {
		t.Fatalf("row %s attempts %d", got.Status, got.Attempts)
	}
}

func TestUndoWindowCancelNeverSends(t *testing.T) {
	// A window long enough that a loaded test machine still cancels inside it.
	e := newSendEnv(t, 3)
	e.startWorker()
	m := e.reply(tickets.OutboundDraft{BodyText: "oops, wrong customer"})
	if m.SendAt == nil || m.SendAt.Sub(m.CreatedAt) != 3*time.Second {
		t.Fatalf("undo window: send_at %v created %v", m.SendAt, m.CreatedAt)
	}
	kept := e.reply(tickets.OutboundDraft{BodyText: "this one goes"})
	c, err := e.svc.CancelOutbound(context.Background(), e.agent, m.ID)
	if err != nil || c.Status != tickets.MessageCanceled {
		t.Fatalf("cancel: %v %v", c, err)
	}
	// Put the task back as if removing it had failed: the status check must still win.
	if err := e.queue.ScheduleSend(context.Background(), m.ID, *m.SendAt); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(kept.ID, tickets.MessageSent, 10*time.Second)
	time.Sleep(1500 * time.Millisecond)
	got := e.sink.Messages()
	if len(got) != 1 || !strings.Contains(string(got[0].Data), "this one goes") {
		t.Fatalf("sink got %d mails", len(got))
	}
	if st := e.message(m.ID).Status; st != tickets.MessageCanceled {
		t.Fatalf("canceled message is %s", st)
	}
	// Canceling again is harmless; canceling the sent one is a conflict.
	if _, err := e.svc.CancelOutbound(context.Background(), e.agent, m.ID); err != nil {
		t.Fatalf("second cancel: %v", err)
	}
	if _, err := e.svc.CancelOutbound(context.Background(), e.agent, kept.ID); err == nil ||
		!strings.Contains(err.Error(), "already sent") {
		t.Fatalf("cancel after sending: %v", err)
	}
}

func TestRelay451ThenDelivers(t *testing.T) {
	e := newSendEnv(t, 0)
	e.sink.DataReply = func(n int) error {
		if n == 1 {
			return testenv.SMTPReply(451, "greylisted, come back later")
		}
		return nil
	}
	e.startWorker()
	m := e.reply(tickets.OutboundDraft{BodyText: "persist"})
	sent := e.waitStatus(m.ID, tickets.MessageSent, 15*time.Second)
	if sent.Attempts != 2 || sent.FailedReason != "" {
		t.Fatalf("attempts %d reason %q", sent.Attempts, sent.FailedReason)
	}
	if e.sink.Attempts() != 2 || len(e.sink.Messages()) != 1 {
		t.Fatalf("sink saw %d attempts, kept %d", e.sink.Attempts(), len(e.sink.Messages()))
	}
}

func TestRelay550Fails(t *testing.T) {
	e := newSendEnv(t, 0)
	e.sink.DataReply = func(int) error { return testenv.SMTPReply(550, "5.1.1 no such user here") }
	e.startWorker()
	m := e.reply(tickets.OutboundDraft{BodyText: "doomed"})
	failed := e.waitStatus(m.ID, tickets.MessageFailed, 10*time.Second)
	if !strings.Contains(failed.FailedReason, "550") || !strings.Contains(failed.FailedReason, "no such user here") {
		t.Fatalf("reason %q", failed.FailedReason)
	}
	time.Sleep(time.Second)
	if e.sink.Attempts() != 1 {
		t.Fatalf("a permanent failure was retried: %d attempts", e.sink.Attempts())
	}
	var ev tickets.TicketEvent
	if err := e.svc.DB.Where("ticket_id = ? AND kind = 'outbound_failed'", e.ticket.ID).Take(&ev).Error; err != nil ||
		!strings.Contains(ev.NewValue, "550") {
		t.Fatalf("ticket event: %+v %v", ev, err)
	}
}

func TestWrongCredentialsFailVisibly(t *testing.T) {
	e := newSendEnv(t, 0)
	authSink := testenv.NewSMTPSink(t, testenv.SinkOptions{StartTLS: true, Username: "shop", Password: "right"})
	e.deps.Send.TLSConfig = authSink.TLS
	s := &Sender{Tickets: e.svc, Config: e.deps.Send}
	mb, err := e.svc.UpdateMailbox(context.Background(), e.agent, e.channel.ID, e.mailbox.ID, tickets.MailboxInput{
		SMTPHost: ptr(authSink.Host), SMTPPort: ptr(authSink.Port), SMTPSecurity: ptr("starttls"),
		SMTPUsername: ptr("shop"), SMTPPassword: ptr("wrong")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckSMTP(context.Background(), mb); err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("test connection: %v", err)
	}
	e.startWorker()
	m := e.reply(tickets.OutboundDraft{BodyText: "locked out"})
	failed := e.waitStatus(m.ID, tickets.MessageFailed, 10*time.Second)
	if !strings.Contains(failed.FailedReason, "credentials") {
		t.Fatalf("reason %q", failed.FailedReason)
	}
	mb, _ = e.svc.UpdateMailbox(context.Background(), e.agent, e.channel.ID, e.mailbox.ID, tickets.MailboxInput{SMTPPassword: ptr("right")})
	if err := s.CheckSMTP(context.Background(), mb); err != nil {
		t.Fatalf("test connection with the right password: %v", err)
	}
}

func TestWorkerRestartSendsEachOnce(t *testing.T) {
	e := newSendEnv(t, 0)
	ctx := context.Background()
	const n = 6
	ids := map[string]bool{}
	base := time.Now().Add(1500 * time.Millisecond)
	for i := 0; i < n; i++ {
		at := base.Add(time.Duration(i) * 200 * time.Millisecond)
		m := e.reply(tickets.OutboundDraft{BodyText: fmt.Sprintf("scheduled %d", i), SendAt: &at})
		if m.Status != tickets.MessageScheduled {
			t.Fatalf("status %s", m.Status)
		}
		ids[m.MessageIDHeader] = true
	}
	stop := e.startWorker()
	time.Sleep(300 * time.Millisecond)
	stop() // the worker goes away while everything is still scheduled
	// Redis loses its queues too; Postgres still knows what is due.
	if err := e.client.Redis().FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	e.startWorker()
	if k, err := SweepSends(ctx, e.svc, e.queue); err != nil || k < n {
		t.Fatalf("sweep queued %d, %v", k, err)
	}
	// A second sweep (another scheduler) must not double anything.
	if _, err := SweepSends(ctx, e.svc, e.queue); err != nil {
		t.Fatal(err)
	}
	got := e.sink.WaitFor(n, 15*time.Second)
	time.Sleep(1500 * time.Millisecond)
	got = e.sink.Messages()
	if len(got) != n {
		t.Fatalf("sink got %d mails, want %d", len(got), n)
	}
	seen := map[string]bool{}
	for _, r := range got {
		msg, err := mail.ReadMessage(bytes.NewReader(r.Data))
		if err != nil {
			t.Fatal(err)
		}
		id := strings.Trim(msg.Header.Get("Message-Id"), "<>")
		if !ids[id] || seen[id] {
			t.Fatalf("unexpected or duplicate Message-Id %q", id)
		}
		seen[id] = true
	}
}

func TestCancelOnCustomerReply(t *testing.T) {
	e := newSendEnv(t, 0)
	at := time.Now().Add(time.Hour)
	m := e.reply(tickets.OutboundDraft{BodyText: "following up", SendAt: &at, CancelOnReply: true})
	other := e.reply(tickets.OutboundDraft{BodyText: "regardless", SendAt: &at})
	e.customerWrites(e.inbound.FromAddress, e.ticket, "Re: Where is my order?")
	got := e.message(m.ID)
	if got.Status != tickets.MessageCanceled || !strings.Contains(got.FailedReason, "customer wrote first") {
		t.Fatalf("cancel-on-reply message is %s (%q)", got.Status, got.FailedReason)
	}
	if st := e.message(other.ID).Status; st != tickets.MessageScheduled {
		t.Fatalf("plain scheduled message is %s", st)
	}
}

func TestDKIMSignature(t *testing.T) {
	e := newSendEnv(t, 0)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if _, err := e.svc.SetDKIMKey(context.Background(), e.agent, tickets.DKIMKey{Domain: "flowers.test", Selector: "pd1",
		PrivateKey: keyPEM}, func(k tickets.DKIMKey) error {
		_, err := pdmail.ParseDKIMKey(k.Domain, k.Selector, k.PrivateKey)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e.startWorker()
	e.reply(tickets.OutboundDraft{BodyText: "signed"})
	got := e.sink.WaitFor(1, 10*time.Second)
	if len(got) != 1 {
		t.Fatal("nothing received")
	}
	verifications, err := dkim.VerifyWithOptions(bytes.NewReader(got[0].Data), &dkim.VerifyOptions{
		LookupTXT: func(domain string) ([]string, error) {
			if domain != "pd1._domainkey.flowers.test" {
				return nil, fmt.Errorf("unexpected lookup %s", domain)
			}
			return []string{"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}, nil
		}})
	if err != nil || len(verifications) != 1 || verifications[0].Err != nil || verifications[0].Domain != "flowers.test" {
		t.Fatalf("dkim: %v %+v", err, verifications)
	}
}

// BenchmarkScheduledSendLatency measures how long after send_at a scheduled reply
// reaches the relay, through the real worker and asynq's scheduler.
func BenchmarkScheduledSendLatency(b *testing.B) {
	e := newSendEnv(b, 0)
	e.startWorker()
	var lat []time.Duration
	const batch = 10
	for i := 0; i < b.N; i++ {
		start := len(e.sink.Messages())
		want := map[string]time.Time{}
		base := time.Now().Add(1200 * time.Millisecond)
		for j := 0; j < batch; j++ {
			at := base.Add(time.Duration(j) * 137 * time.Millisecond)
			m := e.reply(tickets.OutboundDraft{BodyText: "bench", SendAt: &at})
			want[m.MessageIDHeader] = *m.SendAt
		}
		got := e.sink.WaitFor(start+batch, 30*time.Second)
		if len(got) < start+batch {
			b.Fatalf("only %d of %d arrived", len(got)-start, batch)
		}
		for _, r := range got[start:] {
			msg, _ := mail.ReadMessage(bytes.NewReader(r.Data))
			at := want[strings.Trim(msg.Header.Get("Message-Id"), "<>")]
			lat = append(lat, r.At.Sub(at))
		}
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Milliseconds()) }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(lat)), "messages")
}

// TestWorkerDiedMidSend: a worker claimed a message and died before recording the
// outcome. Nothing sends it while the claim is fresh; once the lease ran out the
// sweeper hands it to a live worker, which sends it once.
func TestWorkerDiedMidSend(t *testing.T) {
	e := newSendEnv(t, 0)
	ctx := context.Background()
	e.svc.Sends = nil // no task from the API: the dead worker had taken it
	m := e.reply(tickets.OutboundDraft{BodyText: "lost in a crash"})
	if _, err := e.svc.ClaimSend(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	s := &Sender{Tickets: e.svc, Blobs: e.deps.Blobs, Config: e.deps.Send, Log: e.deps.Log}
	payload, _ := json.Marshal(sendPayload{MessageID: m.ID})
	if err := s.handleSend(ctx, asynq.NewTask(TypeSend, payload)); err == nil {
		t.Fatal("a fresh claim by another worker did not hold the send back")
	}
	if k, _ := SweepSends(ctx, e.svc, e.queue); k != 0 {
		t.Fatalf("sweeper took a freshly claimed message (%d)", k)
	}
	e.svc.DB.Exec("UPDATE messages SET updated_at = now() - interval '11 minutes' WHERE id = ?", m.ID)
	if k, err := SweepSends(ctx, e.svc, e.queue); err != nil || k != 1 {
		t.Fatalf("sweep after the lease: %d, %v", k, err)
	}
	e.startWorker()
	sent := e.waitStatus(m.ID, tickets.MessageSent, 10*time.Second)
	if sent.Attempts != 2 {
		t.Fatalf("attempts %d", sent.Attempts)
	}
	if k, _ := SweepSends(ctx, e.svc, e.queue); k != 0 {
		t.Fatalf("sweeper still sees %d", k)
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(e.sink.Messages()); n != 1 {
		t.Fatalf("sink got %d", n)
	}
}

// TestSendTaskFiredEarlyWaits: asynq schedules in whole seconds, so a send task can
// start up to a second before its message is due. It waits and sends instead of
// finishing with nothing sent (which left the mail to the next sweep).
func TestSendTaskFiredEarlyWaits(t *testing.T) {
	e := newSendEnv(t, 0)
	ctx := context.Background()
	e.svc.Sends = nil // the test runs the task itself
	at := time.Now().Add(1200 * time.Millisecond)
	m := e.reply(tickets.OutboundDraft{BodyText: "at the minute", SendAt: &at})
	s := &Sender{Tickets: e.svc, Blobs: e.deps.Blobs, Config: e.deps.Send, Log: e.deps.Log}
	payload, _ := json.Marshal(sendPayload{MessageID: m.ID})
	if err := s.handleSend(ctx, asynq.NewTask(TypeSend, payload)); err != nil {
		t.Fatal(err)
	}
	got := e.sink.Messages()
	if len(got) != 1 {
		t.Fatalf("sink got %d mails, want 1", len(got))
	}
	if early := at.Sub(got[0].At); early > 500*time.Millisecond {
		t.Fatalf("sent %v before it was due", early)
	}
	if st := e.message(m.ID).Status; st != tickets.MessageSent {
		t.Fatalf("status %s", st)
	}
	// A message rescheduled further out is left to its own, later task.
	later := time.Now().Add(time.Hour)
	m2 := e.reply(tickets.OutboundDraft{BodyText: "tomorrow", SendAt: &later})
	payload, _ = json.Marshal(sendPayload{MessageID: m2.ID})
	if err := s.handleSend(ctx, asynq.NewTask(TypeSend, payload)); err != nil {
		t.Fatal(err)
	}
	if st := e.message(m2.ID).Status; st != tickets.MessageScheduled || len(e.sink.Messages()) != 1 {
		t.Fatalf("a message due in an hour: status %s, %d mails", st, len(e.sink.Messages()))
	}
}
