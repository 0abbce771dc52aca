package tickets

import (
	"fmt"
	"regexp"
	"strings"
)

// replyPrefix matches the reply and forward markers mail clients put in front of a
// subject, in the languages our customers write in ("Re:", "RE[2]:", "AW:", "Fwd:",
// "SV:", "Antw:" …), possibly repeated.
var replyPrefix = regexp.MustCompile(`(?i)^\s*(re|aw|sv|vs|antw|odp|fwd?|wg|tr|rv)(\[\d+\]|\(\d+\))?\s*[:：]\s*`)

// BaseSubject removes every leading reply/forward marker, so "Re: RE: Fwd: x" is "x".
func BaseSubject(s string) string {
	s = strings.TrimSpace(s)
	for {
		loc := replyPrefix.FindStringIndex(s)
		if loc == nil {
			return s
		}
		s = strings.TrimSpace(s[loc[1]:])
	}
}

// ReplySubject is the subject of a reply: one "Re: " in front of the base subject,
// never "Re: Re: …".
func ReplySubject(s string) string {
	b := BaseSubject(s)
	if b == "" {
		return "Re: (no subject)"
	}
	return "Re: " + b
}

// ForwardSubject is the subject of a forward.
func ForwardSubject(s string) string {
	b := BaseSubject(s)
	if b == "" {
		return "Fwd: (no subject)"
	}
	return "Fwd: " + b
}

// TagSubject appends the ticket number tag "[#N]" unless the subject has it already;
// the inbound threader finds the ticket by it when headers were lost.
func TagSubject(s string, number int64) string {
	tag := fmt.Sprintf("[#%d]", number)
	if strings.Contains(s, tag) {
		return s
	}
	return strings.TrimSpace(s + " " + tag)
}
