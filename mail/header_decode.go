package mail

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// decodeHeader decodes RFC 2047 encoded-words in a header value. It is lenient the
// way real mail needs: whitespace between adjacent encoded-words is dropped (RFC 2047
// 6.2) and adjacent words in the same charset are joined *before* charset decoding,
// because senders split multi-byte characters across words; words inside quoted
// strings or glued to text are decoded too; raw 8-bit bytes are taken as UTF-8
// (RFC 6532) or, when invalid, as Windows-1252.
func decodeHeader(s string) string {
	if !strings.Contains(s, "=?") {
		return rawHeaderText(s)
	}
	var out strings.Builder
	var pendCharset string
	var pend []byte
	var gap string // whitespace seen after the pending encoded-word
	flush := func() {
		if pend != nil {
			text, _ := decodeCharset(pendCharset, pend)
			out.WriteString(text)
			pend, pendCharset = nil, ""
		}
	}
	for len(s) > 0 {
		start := strings.Index(s, "=?")
		if start < 0 {
			if pend != nil && strings.TrimSpace(s) == "" {
				gap += s
				s = ""
				break
			}
			flush()
			out.WriteString(gap)
			gap = ""
			out.WriteString(rawHeaderText(s))
			break
		}
		cs, enc, text, n, ok := parseEncodedWord(s[start:])
		if !ok {
			flush()
			out.WriteString(gap)
			gap = ""
			out.WriteString(rawHeaderText(s[:start+2]))
			s = s[start+2:]
			continue
		}
		before := s[:start]
		if pend != nil && strings.TrimSpace(before) == "" {
			// Adjacent encoded-words: the whitespace between them is not text.
		} else {
			flush()
			out.WriteString(gap)
			out.WriteString(rawHeaderText(before))
		}
		gap = ""
		decoded := decodeWordBytes(enc, text)
		if pend != nil && !strings.EqualFold(cs, pendCharset) {
			flush()
		}
		if pend == nil {
			pendCharset = cs
			pend = []byte{}
		}
		pend = append(pend, decoded...)
		s = s[start+n:]
		// Remember trailing whitespace; it is dropped if another word follows.
		ws := len(s) - len(strings.TrimLeft(s, " \t\r\n"))
		gap, s = s[:ws], s[ws:]
	}
	flush()
	out.WriteString(gap)
	return out.String()
}

// parseEncodedWord parses "=?charset?enc?text?=" at the start of s.
func parseEncodedWord(s string) (cs, enc, text string, n int, ok bool) {
	if !strings.HasPrefix(s, "=?") {
		return
	}
	rest := s[2:]
	q1 := strings.IndexByte(rest, '?')
	if q1 <= 0 || q1+2 >= len(rest) || rest[q1+2] != '?' {
		return
	}
	cs = rest[:q1]
	if i := strings.IndexByte(cs, '*'); i >= 0 { // RFC 2231 language suffix
		cs = cs[:i]
	}
	enc = strings.ToUpper(rest[q1+1 : q1+2])
	if enc != "B" && enc != "Q" {
		return
	}
	body := rest[q1+3:]
	end := strings.Index(body, "?=")
	if end < 0 || strings.ContainsAny(body[:end], " \t\r\n") && enc == "B" {
		return
	}
	if strings.ContainsAny(body[:end], "\r\n") {
		return
	}
	return cs, enc, body[:end], 2 + q1 + 3 + end + 2, true
}

func decodeWordBytes(enc, text string) []byte {
	if enc == "B" {
		t := strings.TrimRight(text, "=")
		if b, err := base64.RawStdEncoding.DecodeString(t); err == nil {
			return b
		}
		// Truncated groups: decode what is whole.
		t = t[:len(t)/4*4]
		b, _ := base64.RawStdEncoding.DecodeString(t)
		return b
	}
	out := make([]byte, 0, len(text))
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '_':
			out = append(out, ' ')
		case c == '=' && i+2 < len(text) && isHex(text[i+1]) && isHex(text[i+2]):
			out = append(out, unhex(text[i+1])<<4|unhex(text[i+2]))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// rawHeaderText returns header text that carries no encoded-words: UTF-8 when valid
// (RFC 6532), Windows-1252 otherwise.
func rawHeaderText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return latin1([]byte(s))
}
