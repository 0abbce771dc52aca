package tickets

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// OpenStatuses are the statuses of unfinished work: the default queue shows them.
var OpenStatuses = []string{StatusNew, StatusOpen, StatusPending}

// TicketFilter is a queue query. Zero values mean "no filter", except that without
// Statuses the queue holds unfinished tickets and without Snoozed it leaves snoozed
// ones out: the default queue.
type TicketFilter struct {
	ChannelID  *int64
	Statuses   []string
	Priorities []string
	Assignee   string // "", "me", "none" or an agent id
	Tag        string
	Kind       string
	Due        string // "", overdue, today, week (UTC days)
	Snoozed    *bool
	Unread     *bool // unread for the caller
	Query      string
	ContactID  *int64
	Sort       string // priority (default), last_activity, due_at, created_at
	Order      string // asc or desc; default desc, except due_at asc
	Cursor     string
	Limit      int // default 50, at most 200
}

// TicketListItem is a ticket as queues show it.
type TicketListItem struct {
	Ticket      `gorm:"embedded"`
	Unread      bool     `json:"unread"`
	ContactName string   `json:"contact_name"`
	Tags        []string `json:"tags" gorm:"-"`
	// OverdueBy is how many seconds the due date has passed (nil when not overdue).
	OverdueBy *int64 `json:"overdue_by" gorm:"-"`
	// Rank and Snippet are set by searches: relevance and the matching text, HTML-escaped
	// with the match in <mark>.
	Rank    *float64 `json:"rank,omitempty" gorm:"-"`
	Snippet string   `json:"snippet,omitempty" gorm:"-"`
}

// TicketPage is one page of a queue.
type TicketPage struct {
	Items      []TicketListItem
	NextCursor string
}

// sortKey is one ordering of a listing: the key expressions (ending with t.id so the
// order is total) and their SQL types for the keyset cursor.
type sortKey struct {
	exprs []string
	types []string
	desc  bool // default direction
}

// Each ordering is served by an index: priority by tickets_queue_idx (one channel),
// tickets_queue_all_idx (many) or tickets_mine_queue_idx (an assignee),
// last_activity and created_at by tickets_queue_{activity,created}_idx (default
// queue) or tickets_channel_{activity,created}_idx, due_at by tickets_due_idx.
var sortKeys = map[string]sortKey{
	"priority": {exprs: []string{"t.priority_rank", "t.last_customer_activity_at", "t.id"},
		types: []string{"smallint", "timestamptz", "bigint"}, desc: true},
	"last_activity": {exprs: []string{"t.last_activity_at", "t.id"}, types: []string{"timestamptz", "bigint"}, desc: true},
	"due_at": {exprs: []string{"COALESCE(t.due_at, 'infinity'::timestamptz)", "t.id"},
		types: []string{"timestamptz", "bigint"}, desc: false},
	"created_at": {exprs: []string{"t.created_at", "t.id"}, types: []string{"timestamptz", "bigint"}, desc: true},
}

func (k sortKey) values(t *Ticket) []string {
	ts := func(v time.Time) string { return v.UTC().Format(time.RFC3339Nano) }
	id := strconv.FormatInt(t.ID, 10)
	switch k.exprs[0] {
	case "t.priority_rank":
		return []string{strconv.Itoa(t.PriorityRank), ts(t.LastCustomerActivityAt), id}
	case "t.last_activity_at":
		return []string{ts(t.LastActivityAt), id}
	case "t.created_at":
		return []string{ts(t.CreatedAt), id}
	}
	if t.DueAt == nil {
		return []string{"infinity", id}
	}
	return []string{ts(*t.DueAt), id}
}

// cursor is the opaque keyset position: the sort, its direction and the key values
// of the last row returned.
type cursor struct {
	Sort   string   `json:"s"`
	Order  string   `json:"o"`
	Values []string `json:"v"`
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil {
		return c, Invalid("cursor", "is not a cursor of this listing")
	}
	return c, nil
}

// query is a small builder for hand-written SQL: conditions joined by AND, with
// their arguments in order.
type query struct {
	conds []string
	args  []any
}

func (q *query) where(cond string, args ...any) {
	q.conds = append(q.conds, cond)
	q.args = append(q.args, args...)
}

func (q *query) sql() string {
	if len(q.conds) == 0 {
		return "true"
	}
	return strings.Join(q.conds, "\n  AND ")
}

var validStatus = map[string]bool{StatusNew: true, StatusOpen: true, StatusPending: true, StatusResolved: true, StatusClosed: true}
var validPriority = map[string]bool{"low": true, "normal": true, "high": true, "urgent": true}

// ListTickets returns one page of the tickets agent a may see that match f. With a
// search query and no explicit sort, the page is ordered by relevance (see Search).
func (s *Service) ListTickets(ctx context.Context, a *Agent, f TicketFilter) (*TicketPage, error) {
	f.Query = strings.TrimSpace(f.Query)
	relevance := f.Query != "" && f.Sort == ""
	if f.Sort == "" {
		f.Sort = "priority"
	}
	key, okSort := sortKeys[f.Sort]
	var v Validator
	v.Check(okSort, "sort", "must be priority, last_activity, due_at or created_at")
	if f.Order == "" {
		f.Order = map[bool]string{true: "desc", false: "asc"}[key.desc]
	}
	v.Check(f.Order == "asc" || f.Order == "desc", "order", "must be asc or desc")
	if f.Limit <= 0 {
		f.Limit = 50
	}
	v.Check(f.Limit <= 200, "limit", "must be at most 200")
	q := s.filterConds(a, &f, &v, !relevance)
	if relevance {
		if err := v.Err(); err != nil {
			return nil, err
		}
		return s.search(ctx, a, f, q)
	}
	var after []string
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, err
		}
		v.Check(c.Sort == f.Sort && c.Order == f.Order && len(c.Values) == len(key.exprs), "cursor",
			"belongs to another sort order")
		after = c.Values
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	cmp, dir := "<", "DESC"
	if f.Order == "asc" {
		cmp, dir = ">", "ASC"
	}
	if after != nil {
		ph := make([]string, len(after))
		args := make([]any, len(after))
		for i := range after {
			ph[i] = "?::" + key.types[i]
			args[i] = after[i]
		}
		q.where("("+strings.Join(key.exprs, ", ")+") "+cmp+" ("+strings.Join(ph, ", ")+")", args...)
	}
	order := make([]string, len(key.exprs))
	for i, e := range key.exprs {
		order[i] = e + " " + dir
	}
	// The page's ids first, then its rows: the inner query reads only columns the
	// queue indexes carry (INCLUDE), so filtering and ordering are index-only and
	// cost the same whichever plan the estimates pick; just the page's rows are
	// read from the table. (Without it, a "mine + unread" page sorted a bitmap
	// scan of the agent's whole assignment history when the planner underestimated
	// how many of their tickets match.)
	sql := `SELECT t.*, t.activity_seq > COALESCE(r.seen_seq, 0) AS unread, COALESCE(c.name, '') AS contact_name
FROM (SELECT t.id
        FROM tickets t
        LEFT JOIN ticket_reads r ON r.agent_id = ? AND r.ticket_id = t.id
       WHERE ` + q.sql() + `
       ORDER BY ` + strings.Join(order, ", ") + `
       LIMIT ?) page
JOIN tickets t ON t.id = page.id
LEFT JOIN ticket_reads r ON r.agent_id = ? AND r.ticket_id = t.id
LEFT JOIN contacts c ON c.id = t.contact_id
ORDER BY ` + strings.Join(order, ", ")
	args := append([]any{a.ID}, q.args...)
	args = append(args, f.Limit+1, a.ID)
	var items []TicketListItem
	if err := s.DB.WithContext(ctx).Raw(sql, args...).Scan(&items).Error; err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	page := &TicketPage{Items: items}
	if len(items) > f.Limit {
		page.Items = items[:f.Limit]
		last := &page.Items[f.Limit-1].Ticket
		page.NextCursor = encodeCursor(cursor{Sort: f.Sort, Order: f.Order, Values: key.values(last)})
	}
	if err := s.decorate(ctx, page.Items); err != nil {
		return nil, err
	}
	return page, nil
}

// filterConds validates f into v and returns its conditions on tickets t (joined
// with ticket_reads r for the caller). Access control comes first, always. match
// adds the search query as a plain filter (for listings in another order).
func (s *Service) filterConds(a *Agent, f *TicketFilter, v *Validator, match bool) *query {
	for _, st := range f.Statuses {
		v.Check(validStatus[st], "status", "must be new, open, pending, resolved or closed")
	}
	for _, p := range f.Priorities {
		v.Check(validPriority[p], "priority", "must be low, normal, high or urgent")
	}
	v.Check(f.Kind == "" || f.Kind == KindConversation || f.Kind == KindTask, "kind", "must be conversation or task")
	v.Check(f.Due == "" || f.Due == "overdue" || f.Due == "today" || f.Due == "week", "due", "must be overdue, today or week")
	var assigneeID int64
	if f.Assignee != "" && f.Assignee != "me" && f.Assignee != "none" {
		id, err := strconv.ParseInt(f.Assignee, 10, 64)
		v.Check(err == nil && id > 0, "assignee", "must be me, none or an agent id")
		assigneeID = id
	}
	v.MaxLen(f.Query, 200, "q")

	q := &query{}
	scope, scopeArgs := ChannelScopeSQL(a, "t.channel_id")
	q.where(scope, scopeArgs...)
	if f.ChannelID != nil {
		q.where("t.channel_id = ?", *f.ChannelID)
	}
	// A search looks through finished and snoozed tickets too; a queue does not.
	statuses := f.Statuses
	if len(statuses) == 0 && f.Query == "" {
		statuses = OpenStatuses
	}
	if len(statuses) > 0 && v.Err() == nil {
		// Spelled out as a literal list so the planner matches the partial indexes'
		// "status IN ('new', 'open', 'pending')".
		q.where("t.status IN (" + quoteList(statuses) + ")")
	}
	switch {
	case f.Snoozed != nil && *f.Snoozed:
		q.where("t.snoozed_until IS NOT NULL")
	case f.Snoozed != nil || f.Query == "":
		q.where("t.snoozed_until IS NULL")
	}
	if len(f.Priorities) > 0 && v.Err() == nil {
		q.where("t.priority IN (" + quoteList(f.Priorities) + ")")
	}
	switch f.Assignee {
	case "":
	case "me":
		q.where("t.assignee_id = ?", a.ID)
	case "none":
		q.where("t.assignee_id IS NULL")
	default:
		q.where("t.assignee_id = ?", assigneeID)
	}
	if f.Tag != "" {
		q.where(`EXISTS (SELECT 1 FROM ticket_tags tt JOIN tags g ON g.id = tt.tag_id
		                  WHERE tt.ticket_id = t.id AND g.name = ?)`, f.Tag)
	}
	if f.Kind != "" {
		q.where("t.kind = ?", f.Kind)
	}
	now := s.now()
	day := now.Truncate(24 * time.Hour)
	switch f.Due {
	case "overdue":
		q.where("t.due_at < ?", now)
	case "today":
		q.where("t.due_at >= ? AND t.due_at < ?", day, day.Add(24*time.Hour))
	case "week":
		q.where("t.due_at >= ? AND t.due_at < ?", day, day.AddDate(0, 0, 7))
	}
	if f.Unread != nil {
		if *f.Unread {
			q.where("t.activity_seq > COALESCE(r.seen_seq, 0)")
		} else {
			q.where("t.activity_seq <= COALESCE(r.seen_seq, 0)")
		}
	}
	if f.ContactID != nil {
		q.where("t.contact_id = ?", *f.ContactID)
	}
	if f.Query != "" && match {
		match, args := searchMatchSQL(f.Query)
		q.where("t.id IN ("+match+")", args...)
	}
	return q
}

// decorate fills tags and overdue_by of listed tickets.
func (s *Service) decorate(ctx context.Context, items []TicketListItem) error {
	if len(items) == 0 {
		return nil
	}
	ids := make([]int64, len(items))
	byID := make(map[int64]*TicketListItem, len(items))
	now := s.now()
	for i := range items {
		it := &items[i]
		ids[i] = it.ID
		byID[it.ID] = it
		it.Tags = []string{}
		it.OverdueBy = overdueBy(&it.Ticket, now)
	}
	var rows []struct {
		TicketID int64
		Name     string
	}
	err := s.DB.WithContext(ctx).Raw(`SELECT tt.ticket_id, g.name FROM ticket_tags tt JOIN tags g ON g.id = tt.tag_id
		WHERE tt.ticket_id IN ? ORDER BY g.name`, ids).Scan(&rows).Error
	if err != nil {
		return fmt.Errorf("ticket tags: %w", err)
	}
	for _, r := range rows {
		byID[r.TicketID].Tags = append(byID[r.TicketID].Tags, r.Name)
	}
	return nil
}

// overdueBy is the number of seconds an unfinished ticket's due date has passed.
func overdueBy(t *Ticket, now time.Time) *int64 {
	if t.DueAt == nil || !now.After(*t.DueAt) || t.Status == StatusResolved || t.Status == StatusClosed {
		return nil
	}
	d := int64(now.Sub(*t.DueAt) / time.Second)
	return &d
}

// quoteList renders validated keywords as a SQL literal list ('a', 'b'). Only ever
// called with values checked against a fixed set.
func quoteList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	return strings.Join(q, ", ")
}
