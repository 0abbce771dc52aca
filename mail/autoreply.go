package mail

import (
	"regexp"
	"strings"
)

// Classification of a mail that must never be answered automatically.
type Classification struct {
	AutoReply bool // RFC 3834 auto-reply, out-of-office, list or bulk mail
	Bounce    bool // a delivery-failure report
	// BouncedMessageIDs are the Message-IDs of the messages the bounce reports on.
	BouncedMessageIDs []string
}

var (
	bounceSubject = regexp.MustCompile(`(?i)(undeliver|returned mail|returned to sender|delivery status notification \(failure\)|` +
		`mail delivery failed|failure notice|delivery failure|mail system error|delivery error|could not be delivered|` +
		`postmaster notify|non.?delivery)`)
	oooSubject = regexp.MustCompile(`(?i)^\s*(automatic reply|auto(matic)?[ -]?reply|auto:|out of (the )?office|abwesenheit|réponse automatique)`)
	bodyMsgID  = regexp.MustCompile(`(?im)^\s*message-id:\s*<([^>\s]+)>`)
)

// Classify decides whether p is an auto-reply or a bounce. Order matters: a
// bounce is reported as a bounce only (most carry Auto-Submitted too).
//
//   - Bounces: multipart/report; report-type=delivery-status with a failed action
//     (RFC 3464; "delayed" is a warning, read receipts and abuse reports are not
//     bounces), or a plain-text failure notice from a mailer daemon (qmail, Exim,
//     Gmail and Yahoo send those).
//   - Auto-replies: RFC 3834 Auto-Submitted other than "no"; X-Autoreply and
//     X-Autorespond; Exchange out-of-office replies, which carry none of these but
//     a null Return-Path with X-Auto-Response-Suppress or an "Automatic reply"
//     subject; Precedence bulk/junk/list and List-Id (mailing lists).
func Classify(p *Parsed) Classification {
	var c Classification
	h := p.Header
	returnPath := strings.TrimSpace(h.Get("Return-Path"))
	nullSender := returnPath == "<>" || returnPath == "<<>>"
	local, _, _ := strings.Cut(strings.ToLower(p.From.Address), "@")
	daemon := local == "mailer-daemon" || local == "postmaster" || local == "mail-daemon" || nullSender
	switch p.ReportType {
	case "delivery-status":
		for _, a := range p.DSNActions {
			if a == "failed" {
				c.Bounce = true
			}
		}
		if len(p.DSNActions) == 0 && daemon && bounceSubject.MatchString(p.Subject) {
			c.Bounce = true
		}
	case "":
		c.Bounce = daemon && bounceSubject.MatchString(p.Subject)
	}
	if c.Bounce {
		c.BouncedMessageIDs = append(c.BouncedMessageIDs, p.ReturnedMessageIDs...)
		if len(c.BouncedMessageIDs) == 0 {
			for _, m := range bodyMsgID.FindAllStringSubmatch(p.Text, 5) {
				c.BouncedMessageIDs = append(c.BouncedMessageIDs, m[1])
			}
		}
		return c
	}
	if as := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); as != "" && as != "no" {
		c.AutoReply = true
	}
	if h.Has("X-Autoreply") || h.Has("X-Autorespond") || h.Has("X-Autoresponder") {
		c.AutoReply = true
	}
	if nullSender && (h.Has("X-Auto-Response-Suppress") || oooSubject.MatchString(p.Subject)) {
		c.AutoReply = true
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Precedence"))) {
	case "bulk", "junk", "list":
		c.AutoReply = true
	}
	if h.Has("List-Id") {
		c.AutoReply = true
	}
	return c
}
