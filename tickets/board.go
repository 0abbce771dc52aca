package tickets

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
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
	// More is true when the column holds more cards than were returned;
	// NextCursor then reads the next ones (BoardQuery.Cursor with this Status).
	More       bool   `json:"more"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// Board is a channel's tickets as columns by status.
type Board struct {
	ChannelID int64         `json:"channel_id"`
	Columns   []BoardColumn `json:"columns"`
}

// BoardColumnLimit is how many cards each column returns by default, and
// MaxBoardColumnLimit the most a caller may ask for in one page.
const (
	BoardColumnLimit    = 200
	MaxBoardColumnLimit = 500
)

var boardStatuses = []string{StatusNew, StatusOpen, StatusPending, StatusResolved, StatusClosed}

// BoardQuery picks what a board request returns: every column's first page, or
// (Status set) one column, continuing after Cursor.
type BoardQuery struct {
	Status string
	Cursor string
	Limit  int
}

func (q *BoardQuery) normalise() (boardCursor, error) {
	var v Validator
	if q.Limit == 0 {
		q.Limit = BoardColumnLimit
	}
	v.Check(q.Limit >= 1 && q.Limit <= MaxBoardColumnLimit, "limit",
		fmt.Sprintf("must be between 1 and %d", MaxBoardColumnLimit))
	v.Check(q.Status == "" || slices.Contains(boardStatuses, q.Status), "status",
		"must be new, open, pending, resolved or closed")
	v.Check(q.Cursor == "" || q.Status != "", "cursor", "needs the status of its column")
	cur, err := decodeBoardCursor(q.Cursor)
	if err != nil {
		v.Add("cursor", "is not a board cursor")
	}
	return cur, v.Err()
}

// boardCursor is the (position, id) of the last card of a page: the column is
// ordered by both, so the next page starts strictly after it and a card moved
// meanwhile is neither lost twice nor read twice unless it moved past the cursor.
type boardCursor struct {
	Position float64
	ID       int64
}

func (c boardCursor) String() string {
	raw := strconv.FormatFloat(c.Position, 'g', -1, 64) + ":" + strconv.FormatInt(c.ID, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeBoardCursor(s string) (boardCursor, error) {
	if s == "" {
		return boardCursor{}, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return boardCursor{}, err
	}
	pos, id, ok := strings.Cut(string(raw), ":")
	if !ok {
		return boardCursor{}, errors.New("board cursor: no separator")
	}
	var c boardCursor
	if c.Position, err = strconv.ParseFloat(pos, 64); err != nil || math.IsNaN(c.Position) || math.IsInf(c.Position, 0) {
		return boardCursor{}, errors.New("board cursor: bad position")
	}
	if c.ID, err = strconv.ParseInt(id, 10, 64); err != nil {
		return boardCursor{}, err
	}
	return c, nil
}

// Board returns the board of a channel agent a can see: one column per status,
// cards ordered by position (the UI moves a card by PATCHing status and a position
// between its new neighbours'). Merged tickets are left out. Each column returns at
// most q.Limit cards and a cursor for the rest; with q.Status only that column is
// returned, starting after q.Cursor.
func (s *Service) Board(ctx context.Context, a *Agent, channelID int64, q BoardQuery) (*Board, error) {
	after, err := q.normalise()
	if err != nil {
		return nil, err
	}
	if err := s.CanSeeChannel(ctx, a, channelID); err != nil {
		return nil, err
	}
	statuses := boardStatuses
	if q.Status != "" {
		statuses = []string{q.Status}
	}
	b := &Board{ChannelID: channelID, Columns: []BoardColumn{}}
	for _, st := range statuses {
		col, err := s.boardColumn(ctx, channelID, st, after, q.Cursor != "", q.Limit)
		if err != nil {
			return nil, err
		}
		b.Columns = append(b.Columns, *col)
	}
	return b, nil
}

// boardColumn reads one page of a column. tickets_channel_status_idx narrows to
// the column and positions are sorted in memory: boards belong to task channels,
// whose columns are small beside the queues, so no index of their own is kept on
// the busiest table.
func (s *Service) boardColumn(ctx context.Context, channelID int64, status string, after boardCursor, useCursor bool,
	limit int) (*BoardColumn, error) {
	col := &BoardColumn{Status: status, Cards: []BoardCard{}}
	keyset, args := "", []any{channelID, status}
	if useCursor {
		keyset = "AND (t.position, t.id) > (?, ?)"
		args = append(args, after.Position, after.ID)
	}
	args = append(args, limit+1)
	err := s.DB.WithContext(ctx).Raw(`SELECT t.id, t.number, t.kind, t.subject, t.status, t.priority, t.assignee_id,
			COALESCE(ag.name, '') AS assignee_name, t.due_at, t.snoozed_until, t.checklist_total, t.checklist_done,
			t.position
		FROM tickets t LEFT JOIN agents ag ON ag.id = t.assignee_id
		WHERE t.channel_id = ? AND t.status = ? AND t.merged_into_id IS NULL `+keyset+`
		ORDER BY t.position, t.id LIMIT ?`, args...).Scan(&col.Cards).Error
	if err != nil {
		return nil, fmt.Errorf("board of channel %d, column %s: %w", channelID, status, err)
	}
	if len(col.Cards) > limit {
		col.Cards, col.More = col.Cards[:limit], true
		last := col.Cards[limit-1]
		col.NextCursor = boardCursor{Position: last.Position, ID: last.ID}.String()
	}
	return col, nil
}
