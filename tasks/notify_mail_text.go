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
	str := func(k string) string { s, _ := n.Data[k].(string); return s }
	by := str("by_name")
	ticket := fmt.Sprintf("#%d %q", n.TicketNumber, n.TicketSubject)
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\n", n.AgentName)
	switch n.Kind {
	case tickets.NotifyAssignment:
		if by != "" {
			fmt.Fprintf(&b, "%s assigned ticket %s to you.\n", by, ticket)
		} else {
			fmt.Fprintf(&b, "Ticket %s was assigned to you.\n", ticket)
		}
	case tickets.NotifyMention:
		fmt.Fprintf(&b, "%s mentioned you in a note on ticket %s:\n\n", or(by, "Someone"), ticket)
		for _, line := range strings.Split(str("excerpt"), "\n") {
			b.WriteString("> " + line + "\n")
		}
	case tickets.NotifySnoozeWakeup:
		fmt.Fprintf(&b, "Ticket %s is back from snooze.\n", ticket)
	case tickets.NotifyDueReminder:
		fmt.Fprintf(&b, "Ticket %s is due %s.\n", ticket, dueText(str("due_at")))
	case tickets.NotifyDuePassed:
		fmt.Fprintf(&b, "Ticket %s was due %s and is not done.\n", ticket, dueText(str("due_at")))
	case tickets.NotifyNewTicket:
		fmt.Fprintf(&b, "A new ticket arrived in a channel you are responsible for: %s.\n", ticket)
	default:
		fmt.Fprintf(&b, "Something on ticket %s needs you.\n", ticket)
	}
	if n.TicketID != nil && baseURL != "" {
		fmt.Fprintf(&b, "\nOpen it: %s/tickets/%d\n", baseURL, *n.TicketID)
	}
	b.WriteString("\n-- \nYou get this mail because notification e-mail is on in your profile")
	if baseURL != "" {
		fmt.Fprintf(&b, " (%s/settings)", baseURL)
	}
	b.WriteString(".\n")
	return b.String()
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
