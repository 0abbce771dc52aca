package mail

import (
	"regexp"
	"strings"
)

// quoteStart finds where the quoted history of a reply begins in text, so the UI
// can fold it; -1 when there is none. It looks for the attribution line clients
// put above a quote ("On … wrote:", Outlook's "From: … Sent:" block or
// "-----Original Message-----"), else the first run of ">" lines.
func quoteStart(text string) int {
	lines := strings.SplitAfter(text, "\n")
	off := 0
	for i, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case (strings.HasPrefix(t, "--") || strings.HasPrefix(t, "__")) && originalMessage.MatchString(t):
			return off
		case strings.HasSuffix(t, ":") && attribution.MatchString(t) && nextQuoted(lines[i+1:]):
			return off
		case strings.HasPrefix(t, "From:") && i+1 < len(lines) && outlookSent(lines[i+1:]) && off > 0:
			return off
		case strings.HasPrefix(t, ">") && off > 0:
			return off
		}
		off += len(l)
	}
	return -1
}

var (
	originalMessage = regexp.MustCompile(`(?i)^-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|исходное сообщение|forwarded message)\s*-{2,}$|^_{20,}$`)
	attribution     = regexp.MustCompile(`(?i)(wrote|writes|schrieb|a écrit|escribió|ha scritto|пишет|написал\(а\)|написал):\s*$`)
)

// nextQuoted reports whether the first non-blank line of rest starts with ">", or
// the attribution is the last thing before a blank-separated quote block.
func nextQuoted(rest []string) bool {
	for _, l := range rest {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		return strings.HasPrefix(t, ">")
	}
	return false
}

func outlookSent(rest []string) bool {
	for i, l := range rest {
		if i > 4 {
			return false
		}
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "Sent:") || strings.HasPrefix(t, "Date:") || strings.HasPrefix(t, "Gesendet:") {
			return true
		}
	}
	return false
}
