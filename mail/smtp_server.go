package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// SMTPConfig holds the inbound server's settings and limits.
type SMTPConfig struct {
	Hostname string // greeting and Received header
	// LMTP makes the server speak LMTP (RFC 2033), for an existing MTA handing mail over.
	LMTP            bool
	TLS             *tls.Config // enables STARTTLS when set
	MaxMessageBytes int64       // SIZE; larger mail gets 552 (default 25 MiB)
	MaxRecipients   int         // per message; more get 452 (default 100)
	MaxLineLength   int         // longest line, commands and data (default 64 KiB)
	CommandTimeout  time.Duration
	// DataTimeout bounds the wait for each read during DATA; DataDeadline bounds a
	// whole DATA transfer, so a slowloris client dripping bytes is cut off too.
	DataTimeout   time.Duration
	DataDeadline  time.Duration
	MaxConnsPerIP int // concurrent connections per client IP (default 20)
	MaxConns      int // concurrent connections in total (default 1000)
}

func (c *SMTPConfig) defaults() {
	if c.Hostname == "" {
		c.Hostname = "localhost"
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 25 << 20
	}
	if c.MaxRecipients <= 0 {
		c.MaxRecipients = 100
	}
	if c.MaxLineLength <= 0 {
		c.MaxLineLength = 64 << 10
	}
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = 5 * time.Minute
	}
	if c.DataTimeout <= 0 {
		c.DataTimeout = 2 * time.Minute
	}
	if c.DataDeadline <= 0 {
		c.DataDeadline = 15 * time.Minute
	}
	if c.MaxConnsPerIP <= 0 {
		c.MaxConnsPerIP = 20
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 1000
	}
}

// SMTPServer receives mail for configured mailboxes only (never a relay) and
// commits each message through Intake before answering 250.
type SMTPServer struct {
	cfg    SMTPConfig
	intake *Intake
	log    *slog.Logger
	srv    *smtp.Server
}

// NewSMTPServer returns a server; Serve starts it on a listener.
func NewSMTPServer(cfg SMTPConfig, intake *Intake, log *slog.Logger) *SMTPServer {
	cfg.defaults()
	if log == nil {
		log = slog.Default()
	}
	s := &SMTPServer{cfg: cfg, intake: intake, log: log}
	srv := smtp.NewServer(s)
	srv.Domain = cfg.Hostname
	srv.LMTP = cfg.LMTP
	srv.TLSConfig = cfg.TLS
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = cfg.MaxRecipients
	srv.MaxLineLength = cfg.MaxLineLength
	srv.ReadTimeout = cfg.CommandTimeout
	srv.WriteTimeout = time.Minute
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = slogAdapter{log}
	s.srv = srv
	return s
}

// Serve accepts connections on ln until ctx is done, then stops accepting and
// waits (up to grace) for transactions in flight to finish.
func (s *SMTPServer) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	ln = &limitListener{Listener: ln, perIP: s.cfg.MaxConnsPerIP, total: s.cfg.MaxConns, counts: map[string]int{}}
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		s.srv.Close()
	}
	return nil
}

// NewSession implements smtp.Backend.
func (s *SMTPServer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &smtpSession{s: s, conn: c}, nil
}

type smtpSession struct {
	s     *SMTPServer
	conn  *smtp.Conn
	from  string
	boxes []int64
	rcpts []string
}

var (
	errNoSuchUser = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
		Message: "No such mailbox here; this server does not relay"}
	errTempFailure = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0},
		Message: "Temporary failure storing the message, try again later"}
	errTimeout = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2},
		Message: "Timeout receiving the message, try again later"}
)

func (ss *smtpSession) Reset() {
	ss.from, ss.boxes, ss.rcpts = "", nil, nil
}

func (ss *smtpSession) Logout() error { return nil }

func (ss *smtpSession) Mail(from string, opts *smtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, ok, err := ss.s.intake.ResolveRecipient(ctx, to)
	if err != nil {
		ss.s.log.Error("smtp: resolve recipient", "rcpt", to, "err", err)
		return errTempFailure
	}
	if !ok {
		return errNoSuchUser
	}
	ss.rcpts = append(ss.rcpts, to)
	for _, b := range ss.boxes {
		if b == id {
			return nil
		}
	}
	ss.boxes = append(ss.boxes, id)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	_, err := ss.accept(r)
	return err
}

// LMTPData answers once per recipient as LMTP requires. The mail is stored once
// for all of them, so every recipient gets the same answer.
func (ss *smtpSession) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	_, err := ss.accept(r)
	for _, rc := range ss.rcpts {
		status.SetStatus(rc, err)
	}
	return nil
}

func (ss *smtpSession) accept(r io.Reader) (int64, error) {
	source := SourceSMTP
	if ss.s.cfg.LMTP {
		source = SourceLMTP
	}
	dr := &deadlineReader{r: r, conn: ss.conn.Conn(), each: ss.s.cfg.DataTimeout, end: time.Now().Add(ss.s.cfg.DataDeadline)}
	in := io.MultiReader(strings.NewReader(ss.received()), dr)
	ctx, cancel := context.WithTimeout(context.Background(), ss.s.cfg.DataDeadline+time.Minute)
	defer cancel()
	id, err := ss.s.intake.Accept(ctx, Arrival{MailboxIDs: ss.boxes, Source: source, EnvelopeFrom: ss.from}, in)
	// The next command gets the command timeout again.
	ss.conn.Conn().SetReadDeadline(time.Now().Add(ss.s.cfg.CommandTimeout))
	var se *smtp.SMTPError
	switch {
	case err == nil:
		return id, nil
	case errors.Is(err, ErrMailTooLarge), errors.Is(err, smtp.ErrDataTooLarge):
		return 0, smtp.ErrDataTooLarge
	case errors.As(err, &se):
		return 0, se
	case isTimeout(err):
		return 0, errTimeout
	case errors.Is(err, io.ErrUnexpectedEOF):
		return 0, err // the client went away; nothing was stored
	}
	ss.s.log.Error("smtp: store message", "from", ss.from, "err", err)
	return 0, errTempFailure
}

// received is the trace header we add (RFC 5321 4.4).
func (ss *smtpSession) received() string {
	proto := "ESMTP"
	if ss.s.cfg.LMTP {
		proto = "LMTP"
	}
	if _, ok := ss.conn.TLSConnectionState(); ok {
		proto += "S"
	}
	helo := strings.Map(func(r rune) rune {
		if r < 33 || r > 126 {
			return -1
		}
		return r
	}, ss.conn.Hostname())
	return fmt.Sprintf("Received: from %s (%s)\r\n\tby %s (Postdesk) with %s;\r\n\t%s\r\n",
		helo, ss.conn.Conn().RemoteAddr(), ss.s.cfg.Hostname, proto, time.Now().UTC().Format(time.RFC1123Z))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// deadlineReader extends the connection's read deadline before each read, never
// past the end of the whole transfer.
type deadlineReader struct {
	r    io.Reader
	conn net.Conn
	each time.Duration
	end  time.Time
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	dl := time.Now().Add(d.each)
	if dl.After(d.end) {
		dl = d.end
	}
	d.conn.SetReadDeadline(dl)
	return d.r.Read(p)
}

// limitListener refuses connections over the per-IP and total limits with a 421.
type limitListener struct {
	net.Listener
	perIP, total int
	mu           sync.Mutex
	counts       map[string]int
	n            int
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		l.mu.Lock()
		over := l.counts[ip] >= l.perIP || l.n >= l.total
		if !over {
			l.counts[ip]++
			l.n++
		}
		l.mu.Unlock()
		if over {
			go func() {
				c.SetWriteDeadline(time.Now().Add(5 * time.Second))
				io.WriteString(c, "421 4.7.0 Too many connections, try again later\r\n")
				c.Close()
			}()
			continue
		}
		return &countedConn{Conn: c, release: func() {
			l.mu.Lock()
			l.n--
			if l.counts[ip]--; l.counts[ip] <= 0 {
				delete(l.counts, ip)
			}
			l.mu.Unlock()
		}}, nil
	}
}

type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Printf(format string, v ...any) { a.l.Warn("smtp: " + fmt.Sprintf(format, v...)) }
func (a slogAdapter) Println(v ...any)               { a.l.Warn("smtp: " + fmt.Sprint(v...)) }
