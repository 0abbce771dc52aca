package mail

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// tnefStream is a minimal TNEF stream: the signature, a legacy key and one
// attribute (attAttachTitle), enough to look like Outlook's winmail.dat.
func tnefStream() []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint32(0x223e9f78)) // TNEF signature
	binary.Write(&b, binary.LittleEndian, uint16(0x0001))     // legacy key
	title := []byte("report.pdf\x00")
	b.WriteByte(0x02)                                         // attachment level
	binary.Write(&b, binary.LittleEndian, uint32(0x00018010)) // attAttachTitle
	binary.Write(&b, binary.LittleEndian, uint32(len(title)))
	b.Write(title)
	var sum uint16
	for _, c := range title {
		sum += uint16(c)
	}
	binary.Write(&b, binary.LittleEndian, sum)
	return b.Bytes()
}

// A winmail.dat part is kept byte for byte as an attachment beside the text body,
// with no warning: there is no decoder to fail.
func TestParseKeepsTNEFAsAttachment(t *testing.T) {
	tnef := tnefStream()
	raw := "From: outlook@customer.test\r\nMessage-ID: <tnef@customer.test>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=T\r\n\r\n" +
		"--T\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nPlease see the report.\r\n" +
		"--T\r\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\r\nContent-Transfer-Encoding: base64\r\n" +
		"Content-Disposition: attachment; filename=\"winmail.dat\"\r\n\r\n" +
		base64.StdEncoding.EncodeToString(tnef) + "\r\n--T--\r\n"
	p, err := Parse(strings.NewReader(raw), ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(tnef)
	if len(p.Attachments) != 1 {
		t.Fatalf("attachments %+v, want winmail.dat", p.Attachments)
	}
	a := p.Attachments[0]
	if a.Filename != "winmail.dat" || a.ContentType != "application/ms-tnef" || a.Size != int64(len(tnef)) ||
		a.SHA256 != hex.EncodeToString(want[:]) || a.Inline {
		t.Fatalf("attachment %+v, want winmail.dat of %d bytes, unchanged", a, len(tnef))
	}
	if !strings.Contains(p.Text, "see the report") || len(p.Warnings) != 0 {
		t.Fatalf("text %q warnings %v", p.Text, p.Warnings)
	}
}

// multipartMail wraps parts (each a header block, blank line and body) in a
// multipart/mixed mail.
func multipartMail(parts ...string) string {
	var b strings.Builder
	b.WriteString("From: limits@customer.test\r\nMessage-ID: <limits@customer.test>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=L\r\n\r\n")
	for _, p := range parts {
		b.WriteString("--L\r\n" + p + "\r\n")
	}
	b.WriteString("--L--\r\n")
	return b.String()
}

// Inputs built to exhaust memory or time (zip-bomb-like bodies, endless lines,
// thousands of parts or recipients) end at a limit with a warning; what is within
// the limits is kept.
func TestParseLimits(t *testing.T) {
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0}, n)) }
	cases := []struct {
		name  string
		raw   string
		opts  ParseOptions
		check func(t *testing.T, p *Parsed)
	}{
		{"attachment_over_the_part_limit_is_dropped_and_the_next_kept",
			multipartMail("Content-Type: text/plain\r\n\r\nsee files",
				"Content-Type: application/zip; name=bomb.zip\r\nContent-Transfer-Encoding: base64\r\n\r\n"+b64(300000),
				"Content-Type: application/pdf; name=ok.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"+b64(500)),
			ParseOptions{MaxPartBytes: 100000},
			func(t *testing.T, p *Parsed) {
				if len(p.Attachments) != 1 || p.Attachments[0].Filename != "ok.pdf" || p.Attachments[0].Size != 500 ||
					!strings.Contains(p.Warning(), `attachment "bomb.zip" larger than 100000 bytes not stored; it is in the original mail`) ||
					!strings.Contains(p.Text, "see files") {
					t.Fatalf("attachments %+v text %q warnings %v", p.Attachments, p.Text, p.Warnings)
				}
			}},
		{"endless_base64_line_decodes_in_full",
			multipartMail("Content-Type: application/octet-stream; name=blob.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(3<<20)),
			ParseOptions{},
			func(t *testing.T, p *Parsed) {
				if len(p.Attachments) != 1 || p.Attachments[0].Size != 3<<20 || len(p.Warnings) != 0 {
					t.Fatalf("attachments %+v warnings %v", p.Attachments, p.Warnings)
				}
			}},
		{"text_body_over_the_text_limit_is_cut",
			multipartMail("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("la "), 100000))),
			ParseOptions{MaxTextBytes: 4096},
			func(t *testing.T, p *Parsed) {
				if len(p.Text) != 4096 || !strings.Contains(p.Warning(), "longer than 4096 bytes truncated") {
					t.Fatalf("text of %d bytes, warnings %v", len(p.Text), p.Warnings)
				}
			}},
		{"thousands_of_parts_stop_at_the_part_limit",
			multipartMail(slices.Repeat([]string{"Content-Type: application/octet-stream; name=p.bin\r\n\r\nx"}, 3000)...),
			ParseOptions{},
			func(t *testing.T, p *Parsed) {
				if len(p.Attachments) != DefaultMaxParts-1 || !strings.Contains(p.Warning(), "more than 1000 MIME parts") {
					t.Fatalf("%d attachments, warnings %v", len(p.Attachments), p.Warnings)
				}
			}},
		{"thousands_of_recipients_keep_the_first_500",
			"From: blast@customer.test\r\nTo: " + addresses("to", 3000) + "\r\nCc: " + addresses("cc", 10) +
				"\r\nSubject: to everyone\r\n\r\nhello\r\n",
			ParseOptions{},
			func(t *testing.T, p *Parsed) {
				if len(p.To) != 500 || len(p.Cc) != 0 || p.To[499].Address != "to499@example.test" ||
					!strings.Contains(p.Warning(), "3010 To and Cc addresses; the first 500 kept") || p.Subject != "to everyone" {
					t.Fatalf("to %d cc %d subject %q warnings %v", len(p.To), len(p.Cc), p.Subject, p.Warnings)
				}
			}},
		{"few_to_many_cc_fill_up_to_the_limit",
			"From: blast@customer.test\r\nTo: " + addresses("to", 3) + "\r\nCc: " + addresses("cc", 600) + "\r\n\r\nhi\r\n",
			ParseOptions{},
			func(t *testing.T, p *Parsed) {
				if len(p.To) != 3 || len(p.Cc) != 497 || p.Cc[0].Address != "cc0@example.test" {
					t.Fatalf("to %d cc %d", len(p.To), len(p.Cc))
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(strings.NewReader(tc.raw), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, p)
		})
	}
}

// addresses is a comma-separated list of n addresses prefix0@example.test, ...
func addresses(prefix string, n int) string {
	list := make([]string, n)
	for i := range list {
		list[i] = fmt.Sprintf("%s%d@example.test", prefix, i)
	}
	return strings.Join(list, ",\r\n ")
}
