package mail

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"
)

// part is one leaf of a parsed MIME tree.
type part struct {
	contentType string
	params      map[string]string
	disposition string
	dispParams  map[string]string
	body        []byte
}

// walkMIME parses a message with the standard library only (not go-message, which
// built it), decoding transfer encodings, and returns its leaves in order.
func walkMIME(t *testing.T, header map[string][]string, body io.Reader) []part {
	t.Helper()
	get := func(k string) string {
		if v := header[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	ct, params, err := mime.ParseMediaType(get("Content-Type"))
	if err != nil {
		t.Fatalf("content type %q: %v", get("Content-Type"), err)
	}
	if strings.HasPrefix(ct, "multipart/") {
		var out []part
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, walkMIME(t, p.Header, p)...)
		}
	}
	var r io.Reader = body
	switch strings.ToLower(get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	p := part{contentType: ct, params: params, body: b}
	if d := get("Content-Disposition"); d != "" {
		p.disposition, p.dispParams, err = mime.ParseMediaType(d)
		if err != nil {
			t.Fatalf("disposition %q: %v", d, err)
		}
	}
	return []part{p}
}

func TestWriteOutgoing(t *testing.T) {
	pdf := bytes.Repeat([]byte("%PDF-1.4 \x00\x01\x02 binary "), 300)
	o := &Outgoing{
		From:       &mail.Address{Name: "Anna Müller from Blumen & Söhne", Address: "support@blumen.example"},
		To:         []*mail.Address{{Name: "Jürgen Kunde", Address: "juergen@customer.example"}},
		Cc:         []*mail.Address{{Address: "boss@customer.example"}},
		Subject:    "Re: Grüße aus Köln – Bestellung [#1042]",
		MessageID:  "abc123.1042@postdesk.example",
		InReplyTo:  "orig-2@customer.example",
		References: []string{"orig-1@customer.example", "orig-2@customer.example"},
		Date:       time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
		Text:       "Hallo Jürgen,\n\ndanke für Ihre Nachricht.\nEine sehr lange Zeile " + strings.Repeat("lang ", 40),
		PixelURL:   "https://desk.example/o/tok123.gif",
		Attachments: []OutgoingAttachment{{Filename: "Rechnung März.pdf", ContentType: "application/pdf",
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(pdf)), nil }}},
	}
	var buf bytes.Buffer
	if err := WriteOutgoing(&buf, o); err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(buf.String(), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("line %d is %d octets long (RFC 5322 2.1.1)", i, len(line))
		}
		for _, c := range []byte(line) {
			if c >= 0x80 {
				t.Fatalf("line %d has 8-bit data: %q", i, line)
			}
		}
	}

	msg, err := mail.ReadMessage(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	from, err := msg.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Anna Müller from Blumen & Söhne" || from[0].Address != "support@blumen.example" {
		t.Fatalf("From = %v, %v (raw %q)", from, err, msg.Header.Get("From"))
	}
	to, _ := msg.Header.AddressList("To")
	cc, _ := msg.Header.AddressList("Cc")
	if len(to) != 1 || to[0].Name != "Jürgen Kunde" || len(cc) != 1 || cc[0].Address != "boss@customer.example" {
		t.Fatalf("To = %v, Cc = %v", to, cc)
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subj != o.Subject {
		t.Fatalf("Subject = %q, %v", subj, err)
	}
	if got := msg.Header.Get("Message-Id"); got != "<abc123.1042@postdesk.example>" {
		t.Fatalf("Message-Id = %q", got)
	}
	if got := msg.Header.Get("In-Reply-To"); got != "<orig-2@customer.example>" {
		t.Fatalf("In-Reply-To = %q", got)
	}
	if got := msg.Header.Get("References"); got != "<orig-1@customer.example> <orig-2@customer.example>" {
		t.Fatalf("References = %q", got)
	}
	if d, err := msg.Header.Date(); err != nil || !d.Equal(o.Date) {
		t.Fatalf("Date = %v, %v", d, err)
	}
	if msg.Header.Get("Auto-Submitted") != "" {
		t.Fatal("a person's reply must not be Auto-Submitted")
	}
	if !strings.HasPrefix(msg.Header.Get("Content-Type"), "multipart/mixed") {
		t.Fatalf("Content-Type = %q", msg.Header.Get("Content-Type"))
	}

	parts := walkMIME(t, msg.Header, msg.Body)
	if len(parts) != 3 {
		t.Fatalf("%d parts, want text, html, attachment", len(parts))
	}
	text, html, att := parts[0], parts[1], parts[2]
	if text.contentType != "text/plain" || text.params["charset"] != "utf-8" || !strings.Contains(string(text.body), "danke für Ihre Nachricht.") {
		t.Fatalf("text part %s %v: %q", text.contentType, text.params, text.body)
	}
	if html.contentType != "text/html" || !strings.Contains(string(html.body), "<p>Hallo Jürgen,</p>") {
		t.Fatalf("html part %s: %q", html.contentType, html.body)
	}
	if !strings.Contains(string(html.body), `<img src="https://desk.example/o/tok123.gif" width="1" height="1"`) {
		t.Fatalf("html part lacks the pixel: %q", html.body)
	}
	if strings.Contains(string(text.body), "tok123") {
		t.Fatal("the pixel leaked into the text part")
	}
	if att.disposition != "attachment" || att.dispParams["filename"] != "Rechnung März.pdf" || att.contentType != "application/pdf" {
		t.Fatalf("attachment %s %v %v", att.disposition, att.dispParams, att.contentType)
	}
	if !bytes.Equal(att.body, pdf) {
		t.Fatal("attachment bytes changed on the way")
	}
}

func TestWriteOutgoingHTMLOnlyAndAuto(t *testing.T) {
	o := &Outgoing{
		From: &mail.Address{Name: "Events", Address: "events@example.com"}, To: []*mail.Address{{Address: "a@b.example"}},
		Subject: "We got your mail", MessageID: "x@y", AutoSubmitted: true,
		HTML: `<html><head><style>p{color:red}</style></head><body><p>Hello <b>there</b></p><p>See <a href="https://example.com/faq">the FAQ</a></p></body></html>`,
	}
	var buf bytes.Buffer
	if err := WriteOutgoing(&buf, o); err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Auto-Submitted") != "auto-replied" {
		t.Fatalf("Auto-Submitted = %q", msg.Header.Get("Auto-Submitted"))
	}
	if !strings.HasPrefix(msg.Header.Get("Content-Type"), "multipart/alternative") {
		t.Fatalf("Content-Type = %q", msg.Header.Get("Content-Type"))
	}
	parts := walkMIME(t, msg.Header, msg.Body)
	if len(parts) != 2 {
		t.Fatalf("%d parts", len(parts))
	}
	want := "Hello there\n\nSee the FAQ (https://example.com/faq)\n"
	if got := strings.ReplaceAll(string(parts[0].body), "\r\n", "\n"); got != want {
		t.Fatalf("text made from HTML = %q, want %q", parts[0].body, want)
	}
	if strings.Contains(string(parts[0].body), "color") {
		t.Fatal("style leaked into text")
	}
}
