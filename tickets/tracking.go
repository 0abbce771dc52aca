package tickets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// MessageOpen is one fetch of a message's tracking pixel.
type MessageOpen struct {
	ID            int64     `json:"id"`
	MessageID     int64     `json:"message_id"`
	OpenedAt      time.Time `json:"opened_at"`
	IP            string    `json:"ip"`
	UserAgent     string    `json:"user_agent"`
	Flagged       bool      `json:"flagged"`
	FlaggedReason string    `json:"flagged_reason"`
}

// prefetchWindow: a fetch this soon after delivery is a gateway or a client
// fetching images on arrival, not a person reading.
const prefetchWindow = 10 * time.Second

// proxyAgents are user agents of image proxies and scanners that fetch pixels on
// their own; their opens are stored but not counted as read by the recipient.
var proxyAgents = []struct{ substr, reason string }{
	{"GoogleImageProxy", "Gmail image proxy"},
	{"YahooMailProxy", "Yahoo image proxy"},
	{"Outlook-iOS", "Outlook image proxy"},
	{"Barracuda", "mail gateway scanner"},
	{"Mimecast", "mail gateway scanner"},
	{"Proofpoint", "mail gateway scanner"},
	{"Symantec", "mail gateway scanner"},
	{"bot", "automated fetch"},
	{"curl/", "automated fetch"},
	{"python-requests", "automated fetch"},
	{"Go-http-client", "automated fetch"},
}

// openFlag says why an open does not count as a person reading, or "".
func openFlag(ua string, sentAt *time.Time, at time.Time) string {
	ua = strings.TrimSpace(ua)
	switch {
	case ua == "":
		return "no user agent"
	case ua == "Mozilla/5.0":
		// Apple Mail Privacy Protection fetches through Apple's proxies with this
		// bare user agent, whether or not anyone reads the mail.
		return "Apple Mail Privacy Protection"
	}
	low := strings.ToLower(ua)
	for _, p := range proxyAgents {
		if strings.Contains(low, strings.ToLower(p.substr)) {
			return p.reason
		}
	}
	if sentAt != nil && at.Sub(*sentAt) < prefetchWindow {
		return "fetched seconds after delivery"
	}
	return ""
}

// RecordOpen stores a fetch of the pixel with token. A person's open (not flagged)
// counts on the message, and the first one adds "recipient opened" to the ticket.
// An unknown token returns ErrNotFound.
func (s *Service) RecordOpen(ctx context.Context, token, userAgent, ip string) (*MessageOpen, error) {
	if len(token) < 16 || len(token) > 64 {
		return nil, ErrNotFound
	}
	var open *MessageOpen
	var m Message
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("tracking_token = ?", token).Take(&m).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("message by pixel: %w", err)
		}
		now := s.now()
		reason := openFlag(userAgent, m.SentAt, now)
		open = &MessageOpen{MessageID: m.ID, OpenedAt: now, IP: truncate(ip, 100), UserAgent: truncate(userAgent, 500),
			Flagged: reason != "", FlaggedReason: reason}
		if err := tx.Create(open).Error; err != nil {
			return fmt.Errorf("store open: %w", err)
		}
		if open.Flagged {
			return nil
		}
		updates := map[string]any{"open_count": gorm.Expr("open_count + 1"), "last_opened_at": now}
		if m.OpenedAt == nil {
			updates["opened_at"] = now
		}
		if err := tx.Model(&Message{}).Where("id = ?", m.ID).Updates(updates).Error; err != nil {
			return fmt.Errorf("count open: %w", err)
		}
		if m.OpenedAt == nil {
			return RecordEvent(tx, m.TicketID, nil, "recipient_opened", "", "", JSONMap{"message_id": m.ID})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !open.Flagged {
		s.Publisher.Publish(ctx, LiveEvent{Kind: "message.updated", ChannelID: m.ChannelID, TicketID: m.TicketID,
			Data: map[string]any{"message_id": m.ID, "opened": true}})
	}
	return open, nil
}

// MessageOpens lists the pixel fetches of a message agent a may see.
func (s *Service) MessageOpens(ctx context.Context, a *Agent, messageID int64) ([]MessageOpen, error) {
	if _, err := s.VisibleMessage(ctx, a, messageID); err != nil {
		return nil, err
	}
	var out []MessageOpen
	if err := s.DB.WithContext(ctx).Where("message_id = ?", messageID).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("opens of message %d: %w", messageID, err)
	}
	return out, nil
}
