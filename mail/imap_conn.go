package mail

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/postdesk/postdesk/tickets"
)

// imapDialTimeout bounds connecting and the TLS handshake; go-imap bounds each
// command reply itself.
const imapDialTimeout = 30 * time.Second

// dialIMAP connects to the mailbox's server with its security setting (implicit
// TLS, STARTTLS or none) and logs in. tlsConfig may be nil (system roots); its
// ServerName defaults to the configured host.
func dialIMAP(m *tickets.Mailbox, tlsConfig *tls.Config, handler *imapclient.UnilateralDataHandler) (*imapclient.Client, error) {
	if m.IMAPHost == "" {
		return nil, errors.New("no IMAP host configured")
	}
	addr := net.JoinHostPort(m.IMAPHost, strconv.Itoa(m.IMAPPort))
	cfg := &tls.Config{}
	if tlsConfig != nil {
		cfg = tlsConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = m.IMAPHost
	}
	opts := &imapclient.Options{
		TLSConfig:             cfg,
		Dialer:                &net.Dialer{Timeout: imapDialTimeout},
		UnilateralDataHandler: handler,
	}
	var c *imapclient.Client
	var err error
	switch m.IMAPSecurity {
	case "tls":
		c, err = imapclient.DialTLS(addr, opts)
	case "starttls":
		c, err = imapclient.DialStartTLS(addr, opts)
	case "plain":
		c, err = imapclient.DialInsecure(addr, opts)
	default:
		return nil, fmt.Errorf("unknown IMAP security %q", m.IMAPSecurity)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	if err := loginIMAP(c, m.IMAPUsername, m.IMAPPassword); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// loginIMAP authenticates with SASL PLAIN when the server offers it, else with
// LOGIN. Only one attempt is made: retrying a refused password with the other
// method would double the failed logins the server counts against the account.
func loginIMAP(c *imapclient.Client, user, password string) error {
	caps := c.Caps()
	if caps.Has(imap.CapLoginDisabled) && !caps.Has(imap.AuthCap(sasl.Plain)) {
		return errors.New("login: the server refuses plain-text login on this connection (use tls or starttls)")
	}
	var err error
	if caps.Has(imap.AuthCap(sasl.Plain)) {
		err = c.Authenticate(sasl.NewPlainClient("", user, password))
	} else {
		err = c.Login(user, password).Wait()
	}
	if err != nil {
		return fmt.Errorf("login as %s: %w", user, err)
	}
	return nil
}
