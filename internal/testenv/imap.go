package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"testing"

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

func memIMAPServer(tb testing.TB, username, password string, tlsConfig *tls.Config) (*imapmemserver.User, *imapserver.Server) {
	mem := imapmemserver.New()
	user := imapmemserver.NewUser(username, password)
	if err := user.Create("INBOX", nil); err != nil {
		tb.Fatal(err)
	}
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}},
		TLSConfig:    tlsConfig,
		InsecureAuth: tlsConfig == nil,
		Logger:       log.New(io.Discard, "", 0),
	})
	tb.Cleanup(func() { srv.Close() })
	return user, srv
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
