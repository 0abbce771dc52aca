package messengers

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/postdesk/postdesk/tickets"
)

// Menu is a connection's optional first-message menu (settings.menu): a new
// conversation is greeted with Prompt, and the customer's answer routes it. One
// unclear answer sends the conversation to Fallback.
type Menu struct {
	Prompt   string       `json:"prompt"`
	Options  []MenuOption `json:"options"`
	Fallback MenuRoute    `json:"fallback"`
}

// MenuOption is one answer: Key ("1") or Label ("Orders") matches, case-insensitively.
type MenuOption struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	MenuRoute
}

// MenuRoute says where a conversation goes; zero fields leave that part alone.
type MenuRoute struct {
	ChannelID  int64  `json:"channel_id,omitempty"`
	AssigneeID int64  `json:"assignee_id,omitempty"`
	Tag        string `json:"tag,omitempty"`
}

// ParseMenu reads settings.menu; nil when none is configured.
func ParseMenu(settings tickets.JSONMap) (*Menu, error) {
	raw, ok := settings["menu"]
	if !ok || raw == nil {
		return nil, nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var m Menu
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("settings.menu: %w", err)
	}
	if strings.TrimSpace(m.Prompt) == "" || len(m.Options) == 0 {
		return nil, nil
	}
	return &m, nil
}

// match returns the option an answer picks, or nil.
func (m *Menu) match(answer string) *MenuOption {
	a := strings.ToLower(strings.Trim(strings.TrimSpace(answer), ".)"))
	for i, o := range m.Options {
		if a != "" && (a == strings.ToLower(o.Key) || a == strings.ToLower(o.Label)) {
			return &m.Options[i]
		}
	}
	return nil
}

// menu runs the first-message menu inside the receiving transaction. On a new
// ticket it writes the prompt as a queued outbound message (returned, for the
// caller to schedule after commit); on an answer it routes the ticket.
func (r *Receiver) menu(ctx context.Context, tx *gorm.DB, c *Conn, t *tickets.Ticket, m *tickets.Message,
	isNew bool) (*tickets.Message, error) {
	menu, err := ParseMenu(c.Settings)
	if err != nil || menu == nil {
		return nil, nil // a broken menu must not lose the customer's message
	}
	if isNew {
		if err := tx.Exec(`INSERT INTO messenger_menu_states (ticket_id, connection_id) VALUES (?, ?)
			ON CONFLICT DO NOTHING`, t.ID, c.ID).Error; err != nil {
			return nil, fmt.Errorf("menu state: %w", err)
		}
		now := r.Tickets.Now().Truncate(time.Microsecond)
		prompt := &tickets.Message{TicketID: t.ID, ChannelID: t.ChannelID, Direction: tickets.DirectionOutbound,
			Status: tickets.MessageQueued, ContactID: m.ContactID, MessengerConnectionID: &c.ID, BodyText: menu.Prompt,
			IsAutoReply: true, QuoteOffset: -1, SendAt: &now}
		if err := tx.Create(prompt).Error; err != nil {
			return nil, fmt.Errorf("menu prompt: %w", err)
		}
		return prompt, nil
	}
	var state struct {
		State string
	}
	err = tx.Raw("SELECT state FROM messenger_menu_states WHERE ticket_id = ? FOR UPDATE", t.ID).Scan(&state).Error
	if err != nil {
		return nil, fmt.Errorf("menu state: %w", err)
	}
	if state.State != "awaiting" {
		return nil, nil
	}
	route, choice := menu.Fallback, "fallback"
	if o := menu.match(m.BodyText); o != nil {
		route, choice = o.MenuRoute, o.Key
	}
	if err := tx.Exec(`UPDATE messenger_menu_states SET state = 'done', choice = ?, unclear = unclear + ?,
		updated_at = now() WHERE ticket_id = ?`, choice, boolInt(choice == "fallback"), t.ID).Error; err != nil {
		return nil, fmt.Errorf("menu state: %w", err)
	}
	return nil, Route(ctx, tx, t, route, "menu:"+choice)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Route moves a conversation to a channel, assignee and tag, recording each change
// on the ticket's timeline.
func Route(ctx context.Context, tx *gorm.DB, t *tickets.Ticket, to MenuRoute, reason string) error {
	data := tickets.JSONMap{"reason": reason}
	if to.ChannelID != 0 && to.ChannelID != t.ChannelID {
		// messages.channel_id is denormalised from the ticket: move both.
		if err := tx.Exec("UPDATE tickets SET channel_id = ?, updated_at = now() WHERE id = ?", to.ChannelID, t.ID).Error; err != nil {
			return fmt.Errorf("route ticket %d: %w", t.ID, err)
		}
		if err := tx.Exec("UPDATE messages SET channel_id = ? WHERE ticket_id = ?", to.ChannelID, t.ID).Error; err != nil {
			return fmt.Errorf("route ticket %d messages: %w", t.ID, err)
		}
		if err := tickets.RecordEvent(tx, t.ID, nil, "channel", strconv.FormatInt(t.ChannelID, 10),
			strconv.FormatInt(to.ChannelID, 10), data); err != nil {
			return err
		}
		t.ChannelID = to.ChannelID
	}
	if to.AssigneeID != 0 {
		old := ""
		if t.AssigneeID != nil {
			old = strconv.FormatInt(*t.AssigneeID, 10)
		}
		if err := tx.Exec("UPDATE tickets SET assignee_id = ?, updated_at = now() WHERE id = ?", to.AssigneeID, t.ID).Error; err != nil {
			return fmt.Errorf("assign ticket %d: %w", t.ID, err)
		}
		if err := tickets.RecordEvent(tx, t.ID, nil, "assigned", old, strconv.FormatInt(to.AssigneeID, 10), data); err != nil {
			return err
		}
		t.AssigneeID = &to.AssigneeID
	}
	if tag := strings.TrimSpace(to.Tag); tag != "" {
		err := tx.Exec(`WITH t AS (INSERT INTO tags (name) VALUES (?) ON CONFLICT (name) DO UPDATE SET name = tags.name
			RETURNING id) INSERT INTO ticket_tags (ticket_id, tag_id) SELECT ?, id FROM t ON CONFLICT DO NOTHING`,
			tag, t.ID).Error
		if err != nil {
			return fmt.Errorf("tag ticket %d: %w", t.ID, err)
		}
		if err := tickets.RecordEvent(tx, t.ID, nil, "tagged", "", tag, data); err != nil {
			return err
		}
	}
	return nil
}
