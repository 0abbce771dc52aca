package mail

import (
	"strings"
)

// Address is one mailbox of an address header.
type Address struct {
	Name    string
	Address string
}

// parseAddressList parses an address header leniently. net/mail rejects much of
// what real mail carries (addresses without a domain, encoded-words inside quoted
// names, stray 8-bit bytes), and a helpdesk must still know who wrote. Names are
// RFC 2047 decoded; comments are dropped (a name only in a comment is no name);
// groups are flattened.
func parseAddressList(raw string) []Address {
	var out []Address
	for _, item := range splitTopLevel(raw, ',') {
		// A group "Name: a, b;" shows up as "Name: a" ... "b;".
		if i := indexTopLevel(item, ':'); i >= 0 && !strings.Contains(item[:i], "@") && !strings.Contains(item[:i], "<") {
			item = item[i+1:]
		}
		item = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(item), ";"))
		if item == "" {
			continue
		}
		var a Address
		if lt := indexTopLevel(item, '<'); lt >= 0 {
			gt := strings.IndexByte(item[lt:], '>')
			if gt < 0 {
				a.Address = strings.TrimSpace(item[lt+1:])
			} else {
				a.Address = strings.TrimSpace(item[lt+1 : lt+gt])
			}
			a.Name = phraseText(item[:lt])
		} else {
			a.Address = strings.TrimSpace(stripComments(item))
		}
		a.Address = strings.Trim(a.Address, " \t\"'")
		if a.Address == "" && a.Name == "" {
			continue
		}
		a.Address = rawHeaderText(a.Address)
		out = append(out, a)
	}
	return out
}

// phraseText turns a display-name phrase into text: quotes and comments removed,
// quoted-pairs unescaped, encoded-words decoded, whitespace trimmed.
func phraseText(p string) string {
	var b strings.Builder
	inQuote, depth := false, 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p) && (inQuote || depth > 0):
			i++
			if depth == 0 {
				b.WriteByte(p[i])
			}
		case c == '"' && depth == 0:
			inQuote = !inQuote
		case c == '(' && !inQuote:
			depth++
		case c == ')' && !inQuote && depth > 0:
			depth--
		case depth > 0:
		default:
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(decodeHeader(strings.TrimSpace(b.String())))
}

func stripComments(s string) string {
	var b strings.Builder
	inQuote, depth := false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case c == '"' && depth == 0:
			inQuote = !inQuote
			b.WriteByte(c)
		case c == '(' && !inQuote:
			depth++
		case c == ')' && !inQuote && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// splitTopLevel splits s at sep outside quotes, comments and angle brackets.
func splitTopLevel(s string, sep byte) []string {
	var parts []string
	inQuote, depth, angle, last := false, 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case c == '"' && depth == 0:
			inQuote = !inQuote
		case inQuote:
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth > 0:
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case c == sep && !angle:
			parts = append(parts, s[last:i])
			last = i + 1
		}
	}
	return append(parts, s[last:])
}

// indexTopLevel finds c outside quotes and comments.
func indexTopLevel(s string, c byte) int {
	inQuote, depth := false, 0
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '\\':
			i++
		case ch == '"' && depth == 0:
			inQuote = !inQuote
		case inQuote:
		case ch == '(':
			depth++
		case ch == ')' && depth > 0:
			depth--
		case depth == 0 && ch == c:
			return i
		}
	}
	return -1
}

// parseMsgIDs returns the msg-ids of a Message-ID, In-Reply-To or References
// header without angle brackets, in order, duplicates kept. Bare ids without
// brackets (seen in the wild) are accepted when the header holds no bracketed one.
func parseMsgIDs(v string) []string {
	out := []string{}
	s := stripComments(v)
	for {
		lt := strings.IndexByte(s, '<')
		if lt < 0 {
			break
		}
		gt := strings.IndexByte(s[lt:], '>')
		if gt < 0 {
			break
		}
		id := strings.Join(strings.Fields(s[lt+1:lt+gt]), "")
		if id != "" {
			out = append(out, id)
		}
		s = s[lt+gt+1:]
	}
	if len(out) > 0 {
		return out
	}
	for _, f := range strings.Fields(stripComments(v)) {
		if strings.Contains(f, "@") {
			out = append(out, strings.Trim(f, "<>,"))
		}
	}
	return out
}
