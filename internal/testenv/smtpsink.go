package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPSink is a real SMTP server on loopback that keeps what it receives: the
// stand-in for a relay or a customer's mail server in outbound tests.
type SMTPSink struct {
	Host string
	Port int
	// TLS is the client config that trusts the sink's certificate (STARTTLS sinks).
	TLS *tls.Config

	mu       sync.Mutex
	received []SinkMessage
	attempts int
	// DataReply, when set, decides the answer to DATA attempt n (1-based): nil
	// accepts, an *smtp.SMTPError refuses with that code.
	DataReply func(n int) error
	notify    chan struct{}
}

// SinkMessage is one accepted mail.
type SinkMessage struct {
	From string
	To   []string
	Data []byte
	At   time.Time
}

// SinkOptions configure a sink.
type SinkOptions struct {
	// StartTLS offers STARTTLS with a fresh self-signed certificate.
	StartTLS bool
	// Username and Password, when set, require AUTH PLAIN with these credentials.
	Username, Password string
}

// NewSMTPSink starts a sink; it stops when the test ends.
func NewSMTPSink(tb testing.TB, opt SinkOptions) *SMTPSink {
	tb.Helper()
	sink := &SMTPSink{notify: make(chan struct{}, 1)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &sinkSession{sink: sink, opt: opt}, nil
	}))
	srv.Domain = "sink.localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.AllowInsecureAuth = !opt.StartTLS
	if opt.StartTLS {
		cert, pool := selfSigned(tb)
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		sink.TLS = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	sink.Host = host
	sink.Port, _ = strconv.Atoi(port)
	return sink
}

// Addr is host:port.
func (s *SMTPSink) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Messages returns a copy of what was accepted so far.
func (s *SMTPSink) Messages() []SinkMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SinkMessage(nil), s.received...)
}

// Attempts is the number of DATA commands seen, accepted or not.
func (s *SMTPSink) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// WaitFor waits until n messages were accepted or timeout passes, and returns them.
func (s *SMTPSink) WaitFor(n int, timeout time.Duration) []SinkMessage {
	deadline := time.After(timeout)
	for {
		if ms := s.Messages(); len(ms) >= n {
			return ms
		}
		select {
		case <-s.notify:
		case <-deadline:
			return s.Messages()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

type sinkSession struct {
	sink   *SMTPSink
	opt    SinkOptions
	authed bool
	from   string
	to     []string
}

func (s *sinkSession) AuthMechanisms() []string {
	if s.opt.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *sinkSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.opt.Username || password != s.opt.Password {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.opt.Username != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.sink.mu.Lock()
	s.sink.attempts++
	n := s.sink.attempts
	reply := s.sink.DataReply
	s.sink.mu.Unlock()
	if reply != nil {
		if err := reply(n); err != nil {
			return err
		}
	}
	s.sink.mu.Lock()
	s.sink.received = append(s.sink.received, SinkMessage{From: s.from, To: append([]string(nil), s.to...),
		Data: b, At: time.Now()})
	s.sink.mu.Unlock()
	select {
	case s.sink.notify <- struct{}{}:
	default:
	}
	return nil
}

func (s *sinkSession) Reset()        { s.from, s.to = "", nil }
func (s *sinkSession) Logout() error { return nil }

// SMTPReply builds the error a sink returns for DataReply, e.g. SMTPReply(451, "try later").
func SMTPReply(code int, msg string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: msg}
}

func selfSigned(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sink.localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}
