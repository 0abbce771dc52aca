package messengers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Viber and Instagram take a reply's files only as URLs they fetch themselves, and
// Postdesk serves attachments behind a login. A media URL opens one attachment to
// whoever holds the link, until it expires: /hooks/{provider}/{connection}/media/
// {attachment}/{filename}?exp=…&sig=…, signed with the connection's own secret
// (the random webhook_secret column), so a link names one file of one connection
// and dies with the connection.

// MediaURLLifetime is how long a provider may fetch a sent file. Viber fetches
// when the customer opens the message, which may be days later.
const MediaURLLifetime = 7 * 24 * time.Hour

func mediaMAC(c *Conn, attachmentID, expires int64) []byte {
	mac := hmac.New(sha256.New, []byte(c.WebhookSecret))
	fmt.Fprintf(mac, "media\x00%d\x00%d\x00%d", c.ID, attachmentID, expires)
	return mac.Sum(nil)
}

// MediaURL is the public link to attachment attachmentID under base (the
// product's public URL), valid until expires.
func MediaURL(base string, c *Conn, attachmentID int64, filename string, expires time.Time) string {
	exp := expires.Unix()
	if filename == "" {
		filename = "file"
	}
	return fmt.Sprintf("%s/hooks/%s/%d/media/%d/%s?%s", strings.TrimRight(base, "/"), c.Provider, c.ID,
		attachmentID, url.PathEscape(filename), url.Values{"exp": {strconv.FormatInt(exp, 10)},
			"sig": {hex.EncodeToString(mediaMAC(c, attachmentID, exp))}}.Encode())
}

// CheckMediaURL reports whether exp and sig (the query of a media URL) open
// attachmentID of connection c at time now.
func CheckMediaURL(c *Conn, attachmentID int64, exp, sig string, now time.Time) bool {
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.Unix() > n || c.WebhookSecret == "" {
		return false
	}
	got, err := hex.DecodeString(sig)
	return err == nil && hmac.Equal(got, mediaMAC(c, attachmentID, n))
}
