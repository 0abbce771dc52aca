package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-sasl"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// MemIMAP starts go-imap's in-memory IMAP server on a loopback port with one user
// owning an empty INBOX, for tests of IMAP clients. It speaks IMAP4rev2 (IDLE,
// MOVE, UIDPLUS) and accepts plain-text logins. It stops when the test ends.
func MemIMAP(tb testing.TB, username, password string) (*imapmemserver.User, int) {
	tb.Helper()
	user, srv := memIMAPServer(tb, username, password, nil)
	return user, serveIMAP(tb, srv, listen(tb))
}

// MemIMAPTLS is MemIMAP with a self-signed certificate for 127.0.0.1: startTLSPort
// offers STARTTLS, tlsPort speaks implicit TLS, and neither accepts a login before
// TLS. roots trusts the certificate.
func MemIMAPTLS(tb testing.TB, username, password string) (user *imapmemserver.User, startTLSPort, tlsPort int, roots *x509.CertPool) {
	tb.Helper()
	cert, roots := selfSigned(tb)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	user, srv := memIMAPServer(tb, username, password, cfg)
	startTLSPort = serveIMAP(tb, srv, listen(tb))
	tlsPort = serveIMAP(tb, srv, tls.NewListener(listen(tb), cfg))
	return user, startTLSPort, tlsPort, roots
}

// LoginCounts tells which commands clients authenticated with.
type LoginCounts struct {
	Login, Authenticate atomic.Int64
}

// MemIMAPLoginOnly is MemIMAP for a server that offers no SASL mechanism (no
// AUTH= capability), as some older servers do: clients must use the LOGIN
// command. The counts show which command each client tried.
func MemIMAPLoginOnly(tb testing.TB, username, password string) (*imapmemserver.User, int, *LoginCounts) {
	tb.Helper()
	user := newMemUser(tb, username, password)
	counts := &LoginCounts{}
	srv := newIMAPServer(tb, nil, func() imapserver.Session {
		return &loginOnlySession{user: user, counts: counts}
	})
	return user, serveIMAP(tb, srv, listen(tb)), counts
}

// loginOnlySession is one user's session that accepts only LOGIN.
type loginOnlySession struct {
	*imapmemserver.UserSession // nil until logged in

	user   *imapmemserver.User
	counts *LoginCounts
}

func (s *loginOnlySession) Login(username, password string) error {
	s.counts.Login.Add(1)
	if err := s.user.Login(username, password); err != nil {
		return imapserver.ErrAuthFailed
	}
	s.UserSession = imapmemserver.NewUserSession(s.user)
	return nil
}

// AuthenticateMechanisms is empty, so the server advertises no AUTH= capability.
func (s *loginOnlySession) AuthenticateMechanisms() []string { return nil }

func (s *loginOnlySession) Authenticate(string) (sasl.Server, error) {
	s.counts.Authenticate.Add(1)
	return nil, errors.New("no SASL mechanism is offered")
}

func newMemUser(tb testing.TB, username, password string) *imapmemserver.User {
	user := imapmemserver.NewUser(username, password)
	if err := user.Create("INBOX", nil); err != nil {
		tb.Fatal(err)
	}
	return user
}

func memIMAPServer(tb testing.TB, username, password string, tlsConfig *tls.Config) (*imapmemserver.User, *imapserver.Server) {
	mem := imapmemserver.New()
	user := newMemUser(tb, username, password)
	mem.AddUser(user)
	return user, newIMAPServer(tb, tlsConfig, mem.NewSession)
}

func newIMAPServer(tb testing.TB, tlsConfig *tls.Config, newSession func() imapserver.Session) *imapserver.Server {
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return newSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		TLSConfig:    tlsConfig,
		InsecureAuth: tlsConfig == nil,
		Logger:       log.New(io.Discard, "", 0),
	})
	tb.Cleanup(func() { srv.Close() })
	return srv
}

func listen(tb testing.TB) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return ln
}

func serveIMAP(tb testing.TB, srv *imapserver.Server, ln net.Listener) int {
	go srv.Serve(ln)
	return ln.Addr().(*net.TCPAddr).Port
}
