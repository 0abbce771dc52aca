package tickets

import (
	"context"
	"fmt"
	"time"
)

// BoardCard is one ticket as a board shows it.
type BoardCard struct {
	ID             int64      `json:"id"`
	Number         int64      `json:"number"`
	Kind           string     `json:"kind"`
	Subject        string     `json:"subject"`
	Status         string     `json:"status"`
	Priority       string     `json:"priority"`
	AssigneeID     *int64     `json:"assignee_id"`
	AssigneeName   string     `json:"assignee_name"`
	DueAt          *time.Time `json:"due_at"`
	SnoozedUntil   *time.Time `json:"snoozed_until"`
	ChecklistTotal int        `json:"checklist_total"`
	ChecklistDone  int        `json:"checklist_done"`
	Position       float64    `json:"position"`
}

// BoardColumn is the cards of one status, in board order.
type BoardColumn struct {
	Status string      `json:"status"`
	Cards  []BoardCard `json:"cards"`
	// More is true when the column holds more cards than were returned.
	More bool `json:"more"`
}

// Board is a channel's tickets as columns by status.
type Board struct {
	ChannelID int64         `json:"channel_id"`
	Columns   []BoardColumn `json:"columns"`
}

// BoardColumnLimit is how many cards each column returns at most.
const BoardColumnLimit = 200

var boardStatuses = []string{StatusNew, StatusOpen, StatusPending, StatusResolved, StatusClosed}

// Board returns the board of a channel agent a can see: one column per status,
// cards ordered by position (the UI moves a card by PATCHing status and a position
// between its new neighbours'). Merged tickets are left out; each column returns
// at most BoardColumnLimit cards.
func (s *Service) Board(ctx context.Context, a *Agent, channelID int64) (*Board, error) {
	if err := s.CanSeeChannel(ctx, a, channelID); err != nil {
		return nil, err
	}
	b := &Board{ChannelID: channelID, Columns: []BoardColumn{}}
	for _, st := range boardStatuses {
		col := BoardColumn{Status: st, Cards: []BoardCard{}}
		// tickets_channel_status_idx narrows to the column; positions are sorted in memory.
		err := s.DB.WithContext(ctx).Raw(`SELECT t.id, t.number, t.kind, t.subject, t.status, t.priority, t.assignee_id,
				COALESCE(ag.name, '') AS assignee_name, t.due_at, t.snoozed_until, t.checklist_total, t.checklist_done,
				t.position
			FROM tickets t LEFT JOIN agents ag ON ag.id = t.assignee_id
			WHERE t.channel_id = ? AND t.status = ? AND t.merged_into_id IS NULL
			ORDER BY t.position, t.id LIMIT ?`, channelID, st, BoardColumnLimit+1).Scan(&col.Cards).Error
		if err != nil {
			return nil, fmt.Errorf("board of channel %d: %w", channelID, err)
		}
		if len(col.Cards) > BoardColumnLimit {
			col.Cards, col.More = col.Cards[:BoardColumnLimit], true
		}
		b.Columns = append(b.Columns, col)
	}
	return b, nil
}
