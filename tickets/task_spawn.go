package tickets

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// SpawnTaskInput is the input for SpawnTask; zero fields take defaults.
type SpawnTaskInput struct {
	ChannelID  int64
	Subject    string
	AssigneeID *int64
	DueAt      *time.Time
}

// maxQuote bounds how much of the source message a spawned task quotes.
const maxQuote = 5000

// SpawnTask creates a task in a tasks channel from any message agent a can see (a
// mail, a chat message, a note). The task quotes the message as its first note and
// links back through origin_message_id; the source ticket records a task_spawned
// event. A target channel a cannot see is ErrNotFound, one of another kind a
// validation error.
func (s *Service) SpawnTask(ctx context.Context, a *Agent, messageID int64, in SpawnTaskInput) (*Ticket, error) {
	m, err := s.VisibleMessage(ctx, a, messageID)
	if err != nil {
		return nil, err
	}
	var src Ticket
	if err := s.DB.WithContext(ctx).Take(&src, m.TicketID).Error; err != nil {
		return nil, notFound(err, "ticket %d", m.TicketID)
	}
	subject := strings.TrimSpace(in.Subject)
	if subject == "" {
		subject = spawnSubject(&src, m)
	}
	var t *Ticket
	err = s.Transact(ctx, func(ctx context.Context, tx *gorm.DB) error {
		var err error
		t, err = s.createTask(ctx, tx, a, NewTask{ChannelID: in.ChannelID, Subject: subject,
			Description: quoteMessage(&src, m), AssigneeID: in.AssigneeID, DueAt: in.DueAt}, m)
		if err != nil {
			return err
		}
		err = RecordEvent(tx, src.ID, &a.ID, "task_spawned", "", fmt.Sprint(t.ID),
			JSONMap{"task_id": t.ID, "task_number": t.Number, "message_id": m.ID, "channel_id": t.ChannelID})
		if err != nil {
			return err
		}
		s.PublishAfterCommit(ctx, LiveEvent{Kind: "ticket.updated", ChannelID: src.ChannelID, TicketID: src.ID})
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.ScheduleDue(ctx, t)
	return t, nil
}

// spawnSubject is the default subject of a task spawned from m: the first line of
// the message, else the source ticket's subject.
func spawnSubject(src *Ticket, m *Message) string {
	for _, line := range strings.Split(m.BodyText, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return excerpt(line, 120)
		}
	}
	if src.Subject != "" {
		return excerpt(src.Subject, 120)
	}
	return fmt.Sprintf("Task from ticket #%d", src.Number)
}

// quoteMessage renders m as the quoted first note of a spawned task.
func quoteMessage(src *Ticket, m *Message) string {
	who := m.FromName
	if who == "" {
		who = m.FromAddress
	}
	if who == "" {
		who = "unknown sender"
	}
	body := strings.TrimSpace(m.BodyText)
	if m.QuoteOffset > 0 && m.QuoteOffset < len(body) {
		body = strings.TrimSpace(body[:m.QuoteOffset]) // leave out the quoted history
	}
	if r := []rune(body); len(r) > maxQuote {
		body = string(r[:maxQuote]) + "…"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From ticket #%d (%s), %s wrote on %s:\n\n", src.Number, src.Subject, who,
		m.CreatedAt.UTC().Format("2006-01-02 15:04 MST"))
	for _, line := range strings.Split(body, "\n") {
		b.WriteString("> " + line + "\n")
	}
	return b.String()
}

// TicketRef is a short reference to a linked ticket.
type TicketRef struct {
	ID         int64      `json:"id"`
	Number     int64      `json:"number"`
	ChannelID  int64      `json:"channel_id"`
	Kind       string     `json:"kind"`
	Subject    string     `json:"subject"`
	Status     string     `json:"status"`
	AssigneeID *int64     `json:"assignee_id"`
	DueAt      *time.Time `json:"due_at"`
	// MessageID is the message the link goes through (the origin message).
	MessageID *int64 `json:"message_id,omitempty"`
}

// TicketLinks are the tickets linked to one ticket. Only tickets the asking agent
// can see are listed.
type TicketLinks struct {
	// Origin is the ticket this task was spawned from.
	Origin *TicketRef `json:"origin"`
	// Spawned are the tasks spawned from this ticket's messages.
	Spawned []TicketRef `json:"spawned"`
	// MergedInto is the ticket this one was merged into; MergedFrom those merged into it.
	MergedInto *TicketRef  `json:"merged_into"`
	MergedFrom []TicketRef `json:"merged_from"`
}

const ticketRefCols = "tickets.id, tickets.number, tickets.channel_id, tickets.kind, tickets.subject, tickets.status, tickets.assignee_id, tickets.due_at"

// Links returns the tickets linked to ticketID, as agent a may see them.
func (s *Service) Links(ctx context.Context, a *Agent, ticketID int64) (*TicketLinks, error) {
	t, err := s.VisibleTicket(ctx, a, ticketID)
	if err != nil {
		return nil, err
	}
	db := s.DB.WithContext(ctx).Table("tickets").Scopes(ChannelScope(a, "tickets.channel_id"))
	out := &TicketLinks{Spawned: []TicketRef{}, MergedFrom: []TicketRef{}}
	if t.OriginMessageID != nil {
		var refs []TicketRef
		err := db.Session(&gorm.Session{}).Select(ticketRefCols+", messages.id AS message_id").
			Joins("JOIN messages ON messages.ticket_id = tickets.id").Where("messages.id = ?", *t.OriginMessageID).
			Scan(&refs).Error
		if err != nil {
			return nil, fmt.Errorf("origin of ticket %d: %w", t.ID, err)
		}
		if len(refs) > 0 {
			out.Origin = &refs[0]
		}
	}
	err = db.Session(&gorm.Session{}).Select(ticketRefCols+", tickets.origin_message_id AS message_id").
		Where("tickets.origin_message_id IN (SELECT id FROM messages WHERE ticket_id = ?)", t.ID).
		Order("tickets.id").Scan(&out.Spawned).Error
	if err != nil {
		return nil, fmt.Errorf("tasks spawned from ticket %d: %w", t.ID, err)
	}
	if t.MergedIntoID != nil {
		var refs []TicketRef
		if err := db.Session(&gorm.Session{}).Select(ticketRefCols).Where("tickets.id = ?", *t.MergedIntoID).
			Scan(&refs).Error; err != nil {
			return nil, fmt.Errorf("merge target of ticket %d: %w", t.ID, err)
		}
		if len(refs) > 0 {
			out.MergedInto = &refs[0]
		}
	}
	err = db.Session(&gorm.Session{}).Select(ticketRefCols).Where("tickets.merged_into_id = ?", t.ID).
		Order("tickets.id").Scan(&out.MergedFrom).Error
	if err != nil {
		return nil, fmt.Errorf("tickets merged into %d: %w", t.ID, err)
	}
	return out, nil
}
