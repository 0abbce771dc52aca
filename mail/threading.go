package mail

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/postdesk/postdesk/tickets"
)

// Threading reasons, recorded on the message's ticket event.
const (
	ThreadByHeader = "references"
	// ThreadByReply: a reply to this mail was ingested before it and opened the ticket.
	ThreadByReply = "replied_to"
	ThreadByToken = "reply_address"
	ThreadBySubj  = "subject_number"
	ThreadNew     = "new"
)

// ReplyAddress is the reply address of ticket number in a mailbox:
// box+t<number>-<token>@domain. Mail to it threads onto the ticket even when the
// client dropped In-Reply-To and References.
func ReplyAddress(mailboxAddress string, number int64, token string) string {
	local, domain, ok := strings.Cut(mailboxAddress, "@")
	if !ok || token == "" {
		return mailboxAddress
	}
	if plus := strings.IndexByte(local, '+'); plus > 0 {
		local = local[:plus]
	}
	return fmt.Sprintf("%s+t%d-%s@%s", local, number, token, domain)
}

var (
	replyTokenRe = regexp.MustCompile(`(?i)\+t(\d{1,18})-([0-9a-f]{12})@`)
	subjectNumRe = regexp.MustCompile(`\[#(\d{1,18})\]`)
)

// findThread picks the ticket of channelID an inbound mail belongs to, in the
// order the design fixes: Message-IDs we know (In-Reply-To, then References newest
// first, then the message a bounce returns; k says which of them the channel has
// stored), or the ticket of a stored reply to this very mail → a reply-address token
// → "[#N]" in the subject, only when the sender already takes part in ticket N (a
// stranger's mail never lands on someone else's ticket). Nil means a new ticket.
func findThread(ctx context.Context, tx *gorm.DB, channelID int64, p *Parsed, cls Classification, contactID *int64,
	k *known) (*tickets.Ticket, string, error) {
	for _, id := range referencedIDs(p, cls) {
		if tid, ok := k.tickets[id]; ok {
			t, err := liveTicket(ctx, tx, tid)
			return t, ThreadByHeader, err
		}
	}
	if k.answeredOn != 0 {
		t, err := liveTicket(ctx, tx, k.answeredOn)
		return t, ThreadByReply, err
	}

	for _, addr := range recipientHeaderValues(p) {
		m := replyTokenRe.FindStringSubmatch(addr)
		if m == nil {
			continue
		}
		number, _ := strconv.ParseInt(m[1], 10, 64)
		var tid int64
		err := tx.WithContext(ctx).Raw(`SELECT id FROM tickets WHERE channel_id = ? AND number = ? AND reply_token = ?`,
			channelID, number, strings.ToLower(m[2])).Scan(&tid).Error
		if err != nil {
			return nil, "", fmt.Errorf("thread by reply address: %w", err)
		}
		if tid != 0 {
			t, err := liveTicket(ctx, tx, tid)
			return t, ThreadByToken, err
		}
	}

	if m := subjectNumRe.FindStringSubmatch(p.Subject); m != nil && contactID != nil {
		number, _ := strconv.ParseInt(m[1], 10, 64)
		var tid int64
		// The sender must already be part of the ticket: its contact, or the author
		// of one of its messages.
		err := tx.WithContext(ctx).Raw(`SELECT t.id FROM tickets t WHERE t.channel_id = ? AND t.number = ?
			AND (t.contact_id = ? OR EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id AND m.contact_id = ?))`,
			channelID, number, *contactID, *contactID).Scan(&tid).Error
		if err != nil {
			return nil, "", fmt.Errorf("thread by subject number: %w", err)
		}
		if tid != 0 {
			t, err := liveTicket(ctx, tx, tid)
			return t, ThreadBySubj, err
		}
	}
	return nil, ThreadNew, nil
}

func recipientHeaderValues(p *Parsed) []string {
	var out []string
	for _, a := range p.To {
		out = append(out, a.Address)
	}
	for _, a := range p.Cc {
		out = append(out, a.Address)
	}
	for _, k := range []string{"Delivered-To", "X-Original-To", "Envelope-To"} {
		out = append(out, p.Header.Values(k)...)
	}
	return out
}

// liveTicket loads a ticket, following merges to the ticket that lives on.
func liveTicket(ctx context.Context, tx *gorm.DB, id int64) (*tickets.Ticket, error) {
	for hops := 0; hops < 10; hops++ {
		var t tickets.Ticket
		if err := tx.WithContext(ctx).Set("gorm:query_option", "FOR UPDATE").Take(&t, id).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return nil, nil
			}
			return nil, fmt.Errorf("ticket %d: %w", id, err)
		}
		if t.MergedIntoID == nil {
			return &t, nil
		}
		id = *t.MergedIntoID
	}
	return nil, fmt.Errorf("ticket %d: merge chain too long", id)
}
