package messengers

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// WebChat is the embeddable widget (web/static/js/widget.js). Visitors post
// messages to /hooks/webchat/{id}/messages and read replies from an SSE stream;
// there is no provider to call, so Send only hands the reply an id and the stream
// delivers it. Visitors are identified by a token signed with the connection's
// webhook_secret (HMAC-SHA256), kept in a cookie and in the widget's storage.
type WebChat struct{}

func (w *WebChat) Provider() string { return "webchat" }

// Webhook is not used: the widget endpoints in web/ call Receiver.Receive directly.
func (w *WebChat) Webhook(ctx context.Context, c *Conn, r *http.Request, body []byte) (*Update, error) {
	return nil, ErrBadSignature
}

// Fetch is not used: widget messages carry no media.
func (w *WebChat) Fetch(ctx context.Context, c *Conn, m Media) (io.ReadCloser, error) {
	return nil, ErrNotSupported
}

// Send accepts the reply; the visitor's event stream picks it up from the database.
func (w *WebChat) Send(ctx context.Context, c *Conn, out Outgoing) (*Sent, error) {
	if out.Template != nil {
		return nil, ErrNotSupported
	}
	if out.Text == "" && len(out.Attachments) == 0 {
		return nil, errEmptyMessage
	}
	return &Sent{ProviderMessageID: "webchat:" + randomHex(12)}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// NewVisitorID returns a fresh visitor id.
func NewVisitorID() string { return "v" + randomHex(12) }

func visitorMAC(c *Conn, visitor string) string {
	mac := hmac.New(sha256.New, []byte(c.WebhookSecret))
	fmt.Fprintf(mac, "webchat-visitor:%d:%s", c.ID, visitor)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// VisitorToken signs a visitor id for connection c.
func VisitorToken(c *Conn, visitor string) string {
	return visitor + "." + visitorMAC(c, visitor)
}

// VisitorFromToken checks a token and returns its visitor id.
func VisitorFromToken(c *Conn, token string) (string, error) {
	visitor, sig, ok := strings.Cut(token, ".")
	if !ok || visitor == "" || len(visitor) > 64 || c.WebhookSecret == "" {
		return "", ErrBadSignature
	}
	if !hmac.Equal([]byte(sig), []byte(visitorMAC(c, visitor))) {
		return "", ErrBadSignature
	}
	return visitor, nil
}

// WebChatCookie is the name of the visitor cookie of connection id.
func WebChatCookie(id int64) string { return "postdesk_chat_" + strconv.FormatInt(id, 10) }
