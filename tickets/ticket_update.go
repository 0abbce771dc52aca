package tickets

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// TicketChange is what PATCH /tickets/{id} and bulk changes may set; nil fields are
// left as they are.
type TicketChange struct {
	Status     *string
	Priority   *string
	AssigneeID **int64
	DueAt      **time.Time
	Tags       *[]string
	Subject    *string
	Position   *float64
}

// Empty reports whether the change sets nothing.
func (c *TicketChange) Empty() bool {
	return c.Status == nil && c.Priority == nil && c.AssigneeID == nil && c.DueAt == nil && c.Tags == nil &&
		c.Subject == nil && c.Position == nil
}

// transitions is the status state machine: forward moves may skip steps (a quick
// answer goes from new to resolved), pending and resolved may reopen, nothing goes
// back to new, and closed is final except that an admin may reopen it.
var transitions = map[string]map[string]bool{
	StatusNew:      {StatusOpen: true, StatusPending: true, StatusResolved: true, StatusClosed: true},
	StatusOpen:     {StatusPending: true, StatusResolved: true, StatusClosed: true},
	StatusPending:  {StatusOpen: true, StatusResolved: true, StatusClosed: true},
	StatusResolved: {StatusOpen: true, StatusClosed: true},
	StatusClosed:   {StatusOpen: true},
}

// CheckTransition returns ErrInvalidTransition unless agent a may move a ticket
// from one status to another.
func CheckTransition(a *Agent, from, to string) error {
	if !transitions[from][to] {
		return fmt.Errorf("%w: %s → %s", ErrInvalidTransition, from, to)
	}
	if from == StatusClosed && !a.IsAdmin() {
		return fmt.Errorf("%w: closed tickets can only be reopened by an admin", ErrInvalidTransition)
	}
	return nil
}

// TicketUpdate is the outcome of a change: the ticket as stored, and warnings about
// accepted but questionable input (a due date in the past).
type TicketUpdate struct {
	Ticket   *Ticket
	Warnings []string
	// Changed lists the fields that actually changed.
	Changed []string
}

// normalise validates c and puts it in stored form.
func (c *TicketChange) normalise() error {
	var v Validator
	if c.Status != nil {
		v.Check(validStatus[*c.Status], "status", "must be new, open, pending, resolved or closed")
	}
	if c.Priority != nil {
		v.Check(validPriority[*c.Priority], "priority", "must be low, normal, high or urgent")
	}
	if c.Subject != nil {
		s := strings.TrimSpace(*c.Subject)
		c.Subject = &s
		v.Check(s != "", "subject", "must not be empty")
		v.MaxLen(s, 998, "subject")
	}
	if c.Tags != nil {
		seen := map[string]bool{}
		tags := []string{}
		for _, t := range *c.Tags {
			t = strings.TrimSpace(t)
			if t == "" {
				v.Add("tags", "must not hold empty names")
				continue
			}
			v.MaxLen(t, 100, "tags")
			if !seen[strings.ToLower(t)] {
				seen[strings.ToLower(t)] = true
				tags = append(tags, t)
			}
		}
		v.Check(len(tags) <= 30, "tags", "at most 30 tags")
		c.Tags = &tags
	}
	if c.DueAt != nil && *c.DueAt != nil {
		d := (*c.DueAt).UTC()
		v.Check(d.Year() >= 2000 && d.Year() <= 2200, "due_at", "must be between the years 2000 and 2200")
		*c.DueAt = &d
	}
	return v.Err()
}

// UpdateTicket applies c to ticket id in one transaction, recording an event per
// changed field and notifying a new assignee; ticket.updated goes out after commit.
func (s *Service) UpdateTicket(ctx context.Context, a *Agent, id int64, c TicketChange) (*TicketUpdate, error) {
	if err := c.normalise(); err != nil {
		return nil, err
	}
	var up *TicketUpdate
	err := s.Transact(ctx, func(ctx context.Context, tx *gorm.DB) error {
		var t Ticket
		err := tx.Scopes(ChannelScope(a, "tickets.channel_id")).Clauses(lockForUpdate).
			Where("tickets.id = ?", id).Take(&t).Error
		if err != nil {
			return notFound(err, "ticket %d", id)
		}
		up, err = s.applyChange(ctx, tx, a, &t, c)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.rescheduleDue(ctx, id, up.Changed)
	return up, nil
}

// applyChange changes the locked ticket t inside tx.
func (s *Service) applyChange(ctx context.Context, tx *gorm.DB, a *Agent, t *Ticket, c TicketChange) (*TicketUpdate, error) {
	up := &TicketUpdate{Ticket: t}
	if t.Status == StatusClosed && !a.IsAdmin() {
		if c.Status != nil && *c.Status != StatusClosed {
			return nil, CheckTransition(a, t.Status, *c.Status)
		}
		if c.Priority != nil || c.AssigneeID != nil || c.DueAt != nil || c.Tags != nil || c.Subject != nil || c.Position != nil {
			return nil, fmt.Errorf("%w: ticket is closed; only an admin can change it", ErrInvalidTransition)
		}
	}
	now := s.now()
	updates := map[string]any{}
	event := func(kind, old, new string, data JSONMap) error {
		up.Changed = append(up.Changed, kind)
		return RecordEvent(tx, t.ID, &a.ID, kind, old, new, data)
	}
	if c.Status != nil && *c.Status != t.Status {
		from, to := t.Status, *c.Status
		if err := CheckTransition(a, from, to); err != nil {
			return nil, err
		}
		data := JSONMap{}
		updates["status"] = to
		switch to {
		case StatusResolved, StatusClosed:
			if t.ResolvedAt == nil {
				updates["resolved_at"] = now
				t.ResolvedAt = &now
				data["resolution_seconds"] = int64(now.Sub(t.CreatedAt) / time.Second)
			}
			if to == StatusClosed {
				updates["closed_at"] = now
				t.ClosedAt = &now
			}
		case StatusOpen, StatusPending:
			if from == StatusResolved || from == StatusClosed {
				data["reopened"] = true
				updates["resolved_at"], updates["closed_at"] = nil, nil
				t.ResolvedAt, t.ClosedAt = nil, nil
			}
		}
		t.Status = to
		if err := event("status", from, to, data); err != nil {
			return nil, err
		}
	}
	if c.Priority != nil && *c.Priority != t.Priority {
		if err := event("priority", t.Priority, *c.Priority, nil); err != nil {
			return nil, err
		}
		updates["priority"] = *c.Priority
		t.Priority = *c.Priority
	}
	if c.AssigneeID != nil && !sameID(*c.AssigneeID, t.AssigneeID) {
		to := *c.AssigneeID
		if to != nil {
			if err := assignable(tx, t.ChannelID, *to); err != nil {
				return nil, err
			}
		}
		if err := event("assigned", idString(t.AssigneeID), idString(to), nil); err != nil {
			return nil, err
		}
		updates["assignee_id"] = to
		t.AssigneeID = to
		if to != nil && *to != a.ID {
			err := s.Notify(ctx, tx, Notification{AgentID: *to, Kind: NotifyAssignment, TicketID: &t.ID,
				Data: JSONMap{"by": a.ID, "by_name": a.Name, "subject": t.Subject}})
			if err != nil {
				return nil, err
			}
		}
	}
	if c.DueAt != nil && !sameTime(*c.DueAt, t.DueAt) {
		to := *c.DueAt
		if to != nil && to.Before(now) {
			up.Warnings = append(up.Warnings, "due_at is in the past")
		}
		if err := event("due_at", timeString(t.DueAt), timeString(to), nil); err != nil {
			return nil, err
		}
		updates["due_at"] = to
		t.DueAt = to
	}
	if c.Subject != nil && *c.Subject != t.Subject {
		if err := event("subject", t.Subject, *c.Subject, nil); err != nil {
			return nil, err
		}
		updates["subject"] = *c.Subject
		t.Subject = *c.Subject
	}
	if c.Position != nil && *c.Position != t.Position {
		if err := event("position", fmt.Sprint(t.Position), fmt.Sprint(*c.Position), nil); err != nil {
			return nil, err
		}
		updates["position"] = *c.Position
		t.Position = *c.Position
	}
	if c.Tags != nil {
		old, changed, err := replaceTags(tx, t.ID, *c.Tags)
		if err != nil {
			return nil, err
		}
		if changed {
			if err := event("tags", strings.Join(old, ", "), strings.Join(*c.Tags, ", "), nil); err != nil {
				return nil, err
			}
		}
	}
	if len(up.Changed) == 0 {
		return up, nil
	}
	updates["updated_at"] = now
	t.UpdatedAt = now
	if err := tx.Model(&Ticket{}).Where("id = ?", t.ID).Updates(updates).Error; err != nil {
		return nil, fmt.Errorf("update ticket %d: %w", t.ID, err)
	}
	s.PublishAfterCommit(ctx, LiveEvent{Kind: "ticket.updated", ChannelID: t.ChannelID, TicketID: t.ID, AgentID: a.ID,
		Data: map[string]any{"changed": up.Changed}})
	return up, nil
}

// assignable returns a validation error unless agentID is an active member of the
// channel: assigning outside the channel would hand someone a ticket they cannot see.
func assignable(tx *gorm.DB, channelID, agentID int64) error {
	var n int64
	err := tx.Raw(`SELECT count(*) FROM channel_members cm JOIN agents ag ON ag.id = cm.agent_id
		WHERE cm.channel_id = ? AND cm.agent_id = ? AND ag.disabled_at IS NULL`, channelID, agentID).Scan(&n).Error
	if err != nil {
		return fmt.Errorf("check assignee: %w", err)
	}
	if n == 0 {
		return Invalid("assignee_id", "must be an active member of the ticket's channel")
	}
	return nil
}

// replaceTags sets the ticket's tags to names, creating unknown tags. It returns
// the previous names and whether anything changed.
func replaceTags(tx *gorm.DB, ticketID int64, names []string) ([]string, bool, error) {
	var old []string
	err := tx.Raw(`SELECT g.name FROM ticket_tags tt JOIN tags g ON g.id = tt.tag_id WHERE tt.ticket_id = ? ORDER BY g.name`,
		ticketID).Scan(&old).Error
	if err != nil {
		return nil, false, fmt.Errorf("ticket %d tags: %w", ticketID, err)
	}
	if sameSet(old, names) {
		return old, false, nil
	}
	if err := tx.Exec(`DELETE FROM ticket_tags WHERE ticket_id = ?`, ticketID).Error; err != nil {
		return nil, false, fmt.Errorf("clear tags of ticket %d: %w", ticketID, err)
	}
	if len(names) > 0 {
		err := tx.Exec(`INSERT INTO tags (name) SELECT unnest(?::text[]) ON CONFLICT (name) DO NOTHING`, StringList(names)).Error
		if err == nil {
			err = tx.Exec(`INSERT INTO ticket_tags (ticket_id, tag_id) SELECT ?, id FROM tags WHERE name = ANY(?::citext[])`,
				ticketID, StringList(names)).Error
		}
		if err != nil {
			return nil, false, fmt.Errorf("tag ticket %d: %w", ticketID, err)
		}
	}
	return old, true, nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	norm := func(x []string) []string {
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = strings.ToLower(s)
		}
		sort.Strings(out)
		return out
	}
	na, nb := norm(a), norm(b)
	for i := range na {
		if na[i] != nb[i] {
			return false
		}
	}
	return true
}

func sameID(a, b *int64) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

func sameTime(a, b *time.Time) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && a.Equal(*b))
}

func idString(p *int64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}

func timeString(p *time.Time) string {
	if p == nil {
		return ""
	}
	return p.UTC().Format(time.RFC3339)
}
