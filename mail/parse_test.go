package mail

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
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
