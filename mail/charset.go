package mail

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding/charmap"
)

// decodeCharset converts data in the named charset to UTF-8. It never fails: an
// unknown or missing charset falls back to UTF-8 when the bytes are valid UTF-8 and
// to Windows-1252 otherwise (the usual truth of mail that declares nothing), and
// reports that it guessed.
func decodeCharset(label string, data []byte) (string, bool) {
	label = strings.ToLower(strings.Trim(strings.TrimSpace(label), `"'`))
	switch label {
	case "", "us-ascii", "ascii":
		if utf8.Valid(data) {
			return string(data), true
		}
		// 8-bit bytes in mail that declares ASCII or nothing: the usual truth is
		// Windows-1252. Say so only when a charset was declared and wrong.
		return latin1(data), label == ""
	case "utf-8", "utf8":
		// Declared UTF-8 with a few broken sequences (clients cut lines inside a
		// character) is still UTF-8: replace what is broken, keep the rest.
		return strings.ToValidUTF8(string(data), "\uFFFD"), utf8.Valid(data)
	case "utf-7", "unicode-1-1-utf-7":
		return decodeUTF7(data), true
	}
	r, err := charset.Reader(label, bytes.NewReader(data))
	if err == nil {
		out, err := io.ReadAll(r)
		if err == nil {
			return strings.ToValidUTF8(string(out), "\uFFFD"), true
		}
	}
	if utf8.Valid(data) {
		return string(data), false
	}
	return latin1(data), false
}

func latin1(data []byte) string {
	out, err := charmap.Windows1252.NewDecoder().Bytes(data)
	if err != nil {
		return strings.ToValidUTF8(string(data), "\uFFFD")
	}
	return string(out)
}

// decodeUTF7 decodes RFC 2152 UTF-7, which golang.org/x/text does not offer and
// Outlook 2000 still sends.
func decodeUTF7(data []byte) string {
	var b strings.Builder
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c != '+' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(data) && isBase64Char(data[j]) {
			j++
		}
		if j == i+1 { // "+-" is a literal plus
			b.WriteByte('+')
			if j < len(data) && data[j] == '-' {
				j++
			}
			i = j - 1
			continue
		}
		raw, _ := base64.RawStdEncoding.DecodeString(string(data[i+1 : j]))
		units := make([]uint16, 0, len(raw)/2)
		for k := 0; k+1 < len(raw); k += 2 {
			units = append(units, uint16(raw[k])<<8|uint16(raw[k+1]))
		}
		b.WriteString(string(utf16.Decode(units)))
		if j < len(data) && data[j] == '-' {
			j++
		}
		i = j - 1
	}
	return b.String()
}

func isBase64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/'
}
