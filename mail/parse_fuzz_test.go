package mail

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary bytes through everything ingest does before touching
// the database: parsing, classification, the threading inputs (referenced
// Message-IDs, reply-address tokens, subject numbers), quote detection, sanitising
// and the text clean-up for Postgres. It must never panic or hang, and what it would store
// must be valid UTF-8 without NUL bytes. Found inputs live in testdata/fuzz.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"From: a@b.test\r\nSubject: hi\r\nMessage-ID: <x@y>\r\n\r\nhello\r\n",
		"From: =?utf-8?B?w6TDtsO8?= <a@b>\nSubject: =?iso-8859-1?Q?caf=E9?=\n\nbare LF body\n",
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html; charset=koi8-r\r\n\r\n<p>\xf0\xd2\xc9\xd7\xc5\xd4<img src=\"cid:i1\"></p>\r\n" +
			"--b\r\nContent-Type: image/png\r\nContent-ID: <i1>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n",
		"Content-Type: multipart/report; report-type=delivery-status; boundary=r\r\nFrom: MAILER-DAEMON@x\r\nSubject: Undelivered Mail\r\n\r\n" +
			"--r\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n--r\r\nContent-Type: message/rfc822\r\n\r\nMessage-ID: <out@us>\r\n\r\nx\r\n--r--\r\n",
		"Content-Type: application/octet-stream; name*=utf-8''%E2%82%AC.pdf\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E2=82=AC=\r\n=ZZ\r\n",
		"From nobody Mon Jan  1 00:00:00 2000\r\nAuto-Submitted: auto-replied\r\nIn-Reply-To: <a@b> <c@d>\r\nReferences: <a@b>\r\n\r\nOn Mon, X wrote:\r\n> quoted\r\n",
		strings.Repeat("Content-Type: multipart/mixed; boundary=n\r\n\r\n--n\r\n", 30),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := Parse(bytes.NewReader(raw), ParseOptions{MaxPartBytes: 1 << 20})
		if err != nil {
			return // only read failures; a bytes.Reader has none, but do not insist
		}
		cls := Classify(p)
		// The threading inputs: what findThread looks up, before it asks Postgres.
		if refs := referencedIDs(p, cls); len(refs) > 200 {
			t.Fatalf("%d referenced Message-IDs, want at most 200", len(refs))
		}
		for _, addr := range recipientHeaderValues(p) {
			if m := replyTokenRe.FindStringSubmatch(addr); m != nil && len(m[2]) != 12 {
				t.Fatalf("reply token %q from %q", m[2], addr)
			}
		}
		subjectNumRe.FindStringSubmatch(p.Subject)
		text := cleanText(p.Text, DefaultMaxTextBytes)
		if q := quoteStart(text); q > len(text) {
			t.Fatalf("quote offset %d beyond text of %d bytes", q, len(text))
		}
		html := cleanText(sanitizeHTML(p.HTML, func(string) (string, bool) { return "/a/1", true }), 8<<20)
		for _, s := range append([]string{text, html, cleanText(p.Subject, 998), cleanText(p.From.Name, 200),
			cleanText(p.Warning(), 4000)}, cls.BouncedMessageIDs...) {
			s = cleanText(s, 4000)
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
				t.Fatalf("unstorable text %q", s)
			}
		}
		if strings.Contains(strings.ToLower(html), "<script") {
			t.Fatalf("script survived sanitising: %q", html)
		}
	})
}
