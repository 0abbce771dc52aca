package messengers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
)

// Meta's platforms (WhatsApp Cloud API, Messenger, Instagram) share the Graph API,
// the GET verification handshake and the X-Hub-Signature-256 header.

// GraphAPI is Meta's public Graph API endpoint.
const GraphAPI = "https://graph.facebook.com"

// graphVersion is the Graph API version used unless settings.api_version says otherwise.
const graphVersion = "v21.0"

func graphURL(c *Conn, path string) string {
	v := c.Setting("api_version")
	if v == "" {
		v = graphVersion
	}
	return strings.TrimRight(c.BaseURL(GraphAPI), "/") + "/" + v + "/" + strings.TrimLeft(path, "/")
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// checkHubSignature verifies X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256 of
// the raw body keyed with the app secret, compared in constant time. An empty
// secret refuses everything rather than accepting everything.
func checkHubSignature(secret string, r *http.Request, body []byte) error {
	return checkHMACHex(secret, strings.TrimPrefix(r.Header.Get("X-Hub-Signature-256"), "sha256="), body)
}

func checkHMACHex(secret, gotHex string, body []byte) error {
	if secret == "" || gotHex == "" {
		return ErrBadSignature
	}
	got, err := hex.DecodeString(gotHex)
	if err != nil {
		return ErrBadSignature
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}

// hubChallenge answers Meta's subscription check: hub.mode=subscribe with the
// connection's verify_token gets hub.challenge back.
func hubChallenge(c *Conn, r *http.Request) (string, error) {
	q := r.URL.Query()
	want := c.Cred("verify_token")
	if q.Get("hub.mode") != "subscribe" || want == "" || !hmac.Equal([]byte(q.Get("hub.verify_token")), []byte(want)) {
		return "", errors.New("verify token does not match")
	}
	return q.Get("hub.challenge"), nil
}
