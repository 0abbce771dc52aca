package tasks

import (
	"fmt"
	"strings"
	"time"

	"github.com/postdesk/postdesk/tickets"
)

// The words of a notification mail: a subject that says what happened and to which
// ticket (so a mail client's list is enough to triage), a line or two of body, and
// the link to the ticket in the desk. Plain text; WriteOutgoing adds the HTML part.

func notificationSubject(n *tickets.NotificationMail) string {
	what := map[string]string{
		tickets.NotifyAssignment:   "Assigned to you",
		tickets.NotifyMention:      "You were mentioned",
		tickets.NotifySnoozeWakeup: "Back from snooze",
		tickets.NotifyDueReminder:  "Due soon",
		tickets.NotifyDuePassed:    "Overdue",
		tickets.NotifyNewTicket:    "New ticket",
	}[n.Kind]
	if what == "" {
		what = "Notification"
	}
	if n.TicketID == nil {
		return what
	}
	return fmt.Sprintf("%s: [#%d] %s", what, n.TicketNumber, n.TicketSubject)
}

func notificationText(n *tickets.NotificationMail, baseURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\n%s", n.AgentName, notificationLine(n))
	if link := ticketLink(n, baseURL); link != "" {
		fmt.Fprintf(&b, "\nOpen it: %s\n", link)
	}
	b.WriteString(footer(baseURL))
	return b.String()
}

// digestSubject and digestText make one mail of several notifications that
// waited for the same agent, each with its line and link.
func digestSubject(batch tickets.NotificationBatch) string {
	return fmt.Sprintf("%d notifications: %s, and %d more", len(batch), notificationSubject(&batch[0]), len(batch)-1)
}

func digestText(batch tickets.NotificationBatch, baseURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\n%d things need you:\n", batch[0].AgentName, len(batch))
	for i := range batch {
		b.WriteString("\n* " + strings.ReplaceAll(strings.TrimRight(notificationLine(&batch[i]), "\n"), "\n", "\n  ") + "\n")
		if link := ticketLink(&batch[i], baseURL); link != "" {
			b.WriteString("  " + link + "\n")
		}
	}
	b.WriteString(footer(baseURL))
	return b.String()
}

// notificationLine says what happened, ending in a newline.
func notificationLine(n *tickets.NotificationMail) string {
	str := func(k string) string { s, _ := n.Data[k].(string); return s }
	by := str("by_name")
	ticket := fmt.Sprintf("#%d %q", n.TicketNumber, n.TicketSubject)
	switch n.Kind {
	case tickets.NotifyAssignment:
		if by != "" {
			return fmt.Sprintf("%s assigned ticket %s to you.\n", by, ticket)
		}
		return fmt.Sprintf("Ticket %s was assigned to you.\n", ticket)
	case tickets.NotifyMention:
		var b strings.Builder
		fmt.Fprintf(&b, "%s mentioned you in a note on ticket %s:\n\n", or(by, "Someone"), ticket)
		for _, line := range strings.Split(str("excerpt"), "\n") {
			b.WriteString("> " + line + "\n")
		}
		return b.String()
	case tickets.NotifySnoozeWakeup:
		return fmt.Sprintf("Ticket %s is back from snooze.\n", ticket)
	case tickets.NotifyDueReminder:
		return fmt.Sprintf("Ticket %s is due %s.\n", ticket, dueText(str("due_at")))
	case tickets.NotifyDuePassed:
		return fmt.Sprintf("Ticket %s was due %s and is not done.\n", ticket, dueText(str("due_at")))
	case tickets.NotifyNewTicket:
		return fmt.Sprintf("A new ticket arrived in a channel you are responsible for: %s.\n", ticket)
	}
	return fmt.Sprintf("Something on ticket %s needs you.\n", ticket)
}

func ticketLink(n *tickets.NotificationMail, baseURL string) string {
	if n.TicketID == nil || baseURL == "" {
		return ""
	}
	return fmt.Sprintf("%s/tickets/%d", baseURL, *n.TicketID)
}

func footer(baseURL string) string {
	f := "\n-- \nYou get this mail because notification e-mail is on in your profile"
	if baseURL != "" {
		f += " (" + baseURL + "/settings)"
	}
	return f + ".\n"
}

// dueText shows a due date in UTC, the one zone every reader can convert from.
func dueText(raw string) string {
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return "soon"
	}
	return "on " + t.UTC().Format("Mon 2 Jan 2006 at 15:04 UTC")
}

func or(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
