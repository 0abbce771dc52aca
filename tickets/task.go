package tickets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// NewTask is the input for CreateTask.
type NewTask struct {
	ChannelID   int64
	Subject     string
	Description string // stored as the task's first internal note
	AssigneeID  *int64
	DueAt       *time.Time
	Priority    string
	Checklist   []string
	Tags        []string
}

var priorities = map[string]bool{"low": true, "normal": true, "high": true, "urgent": true}

// MaxChecklistItems bounds how many items one ticket's checklist may hold.
const MaxChecklistItems = 200

// CreateTask creates a task (a ticket without a contact) in a tasks channel agent
// a can see. Channels of other kinds are refused with a validation error.
func (s *Service) CreateTask(ctx context.Context, a *Agent, in NewTask) (*Ticket, error) {
	var t *Ticket
	err := s.Transact(ctx, func(ctx context.Context, tx *gorm.DB) error {
		var err error
		t, err = s.createTask(ctx, tx, a, in, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.ScheduleDue(ctx, t)
	return t, nil
}

// createTask validates and stores a task inside tx. origin, when set, is the
// message the task was spawned from.
func (s *Service) createTask(ctx context.Context, tx *gorm.DB, a *Agent, in NewTask, origin *Message) (*Ticket, error) {
	if err := s.CanSeeChannel(ctx, a, in.ChannelID); err != nil {
		return nil, err
	}
	var ch Channel
	if err := tx.Take(&ch, in.ChannelID).Error; err != nil {
		return nil, notFound(err, "channel %d", in.ChannelID)
	}
	var v Validator
	v.Check(ch.Kind == ChannelTasks, "channel_id", "must be a tasks channel")
	in.Subject = strings.TrimSpace(in.Subject)
	v.Check(in.Subject != "", "subject", "is required")
	v.MaxLen(in.Subject, 998, "subject")
	v.MaxLen(in.Description, MaxNoteLen, "description")
	if in.Priority == "" {
		in.Priority = "normal"
	}
	v.Check(priorities[in.Priority], "priority", "must be low, normal, high or urgent")
	checkChecklistTexts(&v, in.Checklist)
	in.Tags = taskTags(&v, in.Tags)
	if in.AssigneeID != nil {
		var ve *ValidationError
		if err := assignable(tx, in.ChannelID, *in.AssigneeID); errors.As(err, &ve) {
			v.Add("assignee_id", ve.Fields["assignee_id"])
		} else if err != nil {
			return nil, err
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	t, err := s.OpenTicket(ctx, tx, NewTicket{ChannelID: in.ChannelID, Kind: KindTask, Subject: in.Subject,
		Priority: in.Priority, AssigneeID: in.AssigneeID, CreatedBy: &a.ID})
	if err != nil {
		return nil, err
	}
	// New cards go to the bottom of the board's first column.
	var pos float64
	if err := tx.Raw(`SELECT COALESCE(max(position), 0) + 1024 FROM tickets WHERE channel_id = ? AND status = ?`,
		t.ChannelID, t.Status).Scan(&pos).Error; err != nil {
		return nil, fmt.Errorf("board position: %w", err)
	}
	updates := map[string]any{"position": pos}
	if in.DueAt != nil {
		updates["due_at"] = in.DueAt.UTC()
	}
	if origin != nil {
		updates["origin_message_id"] = origin.ID
	}
	if err := tx.Model(&Ticket{}).Where("id = ?", t.ID).Updates(updates).Error; err != nil {
		return nil, fmt.Errorf("set up task %d: %w", t.ID, err)
	}
	if in.DueAt != nil {
		if err := RecordEvent(tx, t.ID, &a.ID, "due", "", in.DueAt.UTC().Format(time.RFC3339), nil); err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(in.Description) != "" {
		if _, err := s.addNote(ctx, tx, a, t, in.Description, nil); err != nil {
			return nil, err
		}
	}
	if _, err := addChecklistItems(tx, a, t.ID, in.Checklist); err != nil {
		return nil, err
	}
	if len(in.Tags) > 0 {
		if _, _, err := replaceTags(tx, t.ID, in.Tags); err != nil {
			return nil, err
		}
	}
	if in.AssigneeID != nil && *in.AssigneeID != a.ID {
		if err := s.Notify(ctx, tx, Notification{AgentID: *in.AssigneeID, Kind: NotifyAssignment, TicketID: &t.ID,
			Data: JSONMap{"by": a.ID, "by_name": a.Name, "subject": t.Subject}}); err != nil {
			return nil, err
		}
	}
	if err := tx.Take(t, t.ID).Error; err != nil {
		return nil, fmt.Errorf("reload task %d: %w", t.ID, err)
	}
	s.PublishAfterCommit(ctx, LiveEvent{Kind: "ticket.created", ChannelID: t.ChannelID, TicketID: t.ID})
	return t, nil
}

// taskTags validates and de-duplicates the tag names given with a new task.
func taskTags(v *Validator, names []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || len([]rune(n)) > 100 {
			v.Add("tags", "each tag must be 1 to 100 characters")
			continue
		}
		if !seen[strings.ToLower(n)] {
			seen[strings.ToLower(n)] = true
			out = append(out, n)
		}
	}
	v.Check(len(out) <= 30, "tags", "at most 30 tags")
	return out
}
