package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Relay is an SMTP submission server outbound mail goes through: a mailbox's own
// (its provider's smarthost) or the install's default.
type Relay struct {
	Host     string
	Port     int
	Security string // tls (implicit, port 465), starttls (required) or plain
	Username string
	Password string
	// LocalName is our EHLO name.
	LocalName string
	// TLSConfig replaces the default TLS settings (tests trust their own CA here).
	TLSConfig *tls.Config
	// Timeout bounds the whole conversation (default 2 minutes).
	Timeout time.Duration
}

// ParseRelayURL reads the default relay setting: smtp://user:pass@host:port for
// plain SMTP, smtp+starttls://… to require STARTTLS, smtps://… for implicit TLS.
func ParseRelayURL(raw string) (Relay, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return Relay{}, fmt.Errorf("relay %q: want smtp://user:pass@host:port", raw)
	}
	r := Relay{Host: u.Hostname()}
	switch u.Scheme {
	case "smtp":
		r.Security, r.Port = "plain", 25
	case "smtp+starttls":
		r.Security, r.Port = "starttls", 587
	case "smtps":
		r.Security, r.Port = "tls", 465
	default:
		return Relay{}, fmt.Errorf("relay %q: scheme must be smtp, smtp+starttls or smtps", raw)
	}
	if p := u.Port(); p != "" {
		if r.Port, err = strconv.Atoi(p); err != nil {
			return Relay{}, fmt.Errorf("relay %q: bad port", raw)
		}
	}
	if u.User != nil {
		r.Username = u.User.Username()
		r.Password, _ = u.User.Password()
	}
	return r, nil
}

// DeliveryError is a failed delivery: Temporary ones (4xx replies, network
// trouble) are worth retrying; the others (5xx) are final.
type DeliveryError struct {
	Temporary bool
	Reason    string
	Err       error
}

func (e *DeliveryError) Error() string { return e.Reason }
func (e *DeliveryError) Unwrap() error { return e.Err }

// deliveryError classifies err from step (what we were doing) into a DeliveryError.
func deliveryError(step string, err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		msg := strings.TrimSpace(se.Message)
		reason := fmt.Sprintf("%s: the relay answered %d %s", step, se.Code, msg)
		if se.Code == 535 || se.Code == 534 || se.Code == 530 {
			reason = fmt.Sprintf("%s: the relay refused our SMTP credentials (%d %s)", step, se.Code, msg)
		}
		return &DeliveryError{Temporary: se.Code/100 == 4, Reason: reason, Err: err}
	}
	var de *DeliveryError
	if errors.As(err, &de) {
		return err
	}
	return &DeliveryError{Temporary: true, Reason: fmt.Sprintf("%s: %v", step, err), Err: err}
}

func (r Relay) addr() string {
	port := r.Port
	if port == 0 {
		port = 587
	}
	return net.JoinHostPort(r.Host, strconv.Itoa(port))
}

// dial opens an SMTP session: TLS as configured, EHLO, and AUTH when a user name is set.
func (r Relay) dial(ctx context.Context) (*smtp.Client, func(), error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	tlsCfg := r.TLSConfig
	if tlsCfg == nil {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tlsCfg = tlsCfg.Clone()
	if tlsCfg.ServerName == "" {
		tlsCfg.ServerName = r.Host
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", r.addr())
	if err != nil {
		cancel()
		return nil, nil, deliveryError("connect to "+r.addr(), err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// go-smtp has no context support: closing the connection ends a blocked call.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	cleanup := func() { stop(); cancel(); conn.Close() }

	var c *smtp.Client
	switch r.Security {
	case "tls":
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			cleanup()
			return nil, nil, deliveryError("TLS handshake with "+r.addr(), err)
		}
		c = smtp.NewClient(tc)
	case "starttls", "":
		c, err = smtp.NewClientStartTLS(conn, tlsCfg)
		if err != nil {
			cleanup()
			return nil, nil, deliveryError("STARTTLS with "+r.addr(), err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	name := r.LocalName
	if name == "" {
		name = "localhost"
	}
	if err := c.Hello(name); err != nil {
		c.Close()
		cleanup()
		return nil, nil, deliveryError("EHLO", err)
	}
	if r.Username != "" {
		var auth sasl.Client
		switch {
		case c.SupportsAuth(sasl.Plain):
			auth = sasl.NewPlainClient("", r.Username, r.Password)
		case c.SupportsAuth(sasl.Login):
			auth = sasl.NewLoginClient(r.Username, r.Password)
		default:
			c.Close()
			cleanup()
			return nil, nil, &DeliveryError{Reason: "login: the relay offers neither AUTH PLAIN nor AUTH LOGIN" +
				" (is STARTTLS/TLS on?)"}
		}
		if err := c.Auth(auth); err != nil {
			c.Close()
			cleanup()
			return nil, nil, deliveryError("login", err)
		}
	}
	return c, func() { c.Close(); cleanup() }, nil
}

// Send delivers msg to rcpts with envelope sender from. Any recipient the relay
// refuses fails the whole message, naming the address, so nobody silently misses a
// reply.
func (r Relay) Send(ctx context.Context, from string, rcpts []string, msg io.Reader) error {
	c, done, err := r.dial(ctx)
	if err != nil {
		return err
	}
	defer done()
	if err := c.Mail(from, nil); err != nil {
		return deliveryError("MAIL FROM", err)
	}
	for _, rc := range rcpts {
		if err := c.Rcpt(rc, nil); err != nil {
			return deliveryError("RCPT TO "+rc, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return deliveryError("DATA", err)
	}
	if _, err := io.Copy(w, msg); err != nil {
		w.Close()
		return deliveryError("DATA", err)
	}
	if err := w.Close(); err != nil {
		return deliveryError("end of DATA", err)
	}
	c.Quit()
	return nil
}

// Check connects, negotiates TLS and logs in, then quits: the "test connection"
// button of a mailbox, which reports bad hosts and credentials before anyone sends.
func (r Relay) Check(ctx context.Context) error {
	c, done, err := r.dial(ctx)
	if err != nil {
		return err
	}
	defer done()
	if err := c.Noop(); err != nil {
		return deliveryError("NOOP", err)
	}
	c.Quit()
	return nil
}
