package web

import (
	"context"
	"fmt"
	"time"

	"github.com/postdesk/postdesk/tickets"
)

// fillSidebar loads the channels the agent sees with their counts, and the view
// counts.
func (s *Server) fillSidebar(ctx context.Context, a *tickets.Agent, d *inboxData) error {
	chs, err := s.tickets.Channels(ctx, a)
	if err != nil {
		return err
	}
	counts, err := s.channelCounts(ctx, a)
	if err != nil {
		return err
	}
	d.Channels = make([]sideChannel, 0, len(chs))
	for _, ch := range chs {
		n := counts[ch.ID]
		d.Channels = append(d.Channels, sideChannel{ID: ch.ID, Name: ch.Name, Kind: ch.Kind, Open: n[0], Unread: n[1]})
	}
	d.Views, err = s.viewCounts(ctx, a)
	return err
}

// fillQueue loads one page of the queue for d.Filter.
func (s *Server) fillQueue(ctx context.Context, a *tickets.Agent, d *inboxData) error {
	names, err := s.names(ctx, a)
	if err != nil {
		return err
	}
	items, next, err := s.listQueue(ctx, a, d.Filter)
	if err != nil {
		return err
	}
	now := time.Now()
	for i := range items {
		it := &items[i]
		if ch, ok := names.channels[it.ChannelID]; ok {
			it.ChannelName, it.ChannelKind = ch.Name, ch.Kind
		}
		it.Overdue = it.DueAt != nil && it.DueAt.Before(now) && (it.Status == "new" || it.Status == "open" || it.Status == "pending")
	}
	d.Items, d.Next = items, next
	return nil
}

// nameCache resolves ids in lists to names: the channels the agent sees and all
// agents (a helpdesk has tens of agents, not thousands).
type nameCache struct {
	channels map[int64]tickets.Channel
	agents   map[int64]string
}

func (s *Server) names(ctx context.Context, a *tickets.Agent) (*nameCache, error) {
	chs, err := s.tickets.Channels(ctx, a)
	if err != nil {
		return nil, err
	}
	ags, err := s.tickets.Agents(ctx)
	if err != nil {
		return nil, err
	}
	n := &nameCache{channels: map[int64]tickets.Channel{}, agents: map[int64]string{}}
	for _, c := range chs {
		n.channels[c.ID] = c
	}
	for _, g := range ags {
		n.agents[g.ID] = g.Name
	}
	return n, nil
}

func (n *nameCache) agent(id *int64) string {
	if id == nil {
		return ""
	}
	return n.agents[*id]
}

// listQueue, channelCounts and viewCounts read the queue until the workflow's
// listing (tickets.ListTickets) is available to call; they apply the same default
// queue rule.
func (s *Server) listQueue(ctx context.Context, a *tickets.Agent, f inboxFilter) ([]queueItem, string, error) {
	q := s.tickets.DB.WithContext(ctx).Table("tickets t").
		Select(`t.id, t.number, t.subject, t.channel_id, t.priority, t.status, t.assignee_id, t.due_at,
		        t.checklist_done, t.checklist_total, t.reminder, t.snoozed_until, t.last_activity_at,
		        COALESCE(c.name, '') AS contact_name`).
		Joins("LEFT JOIN contacts c ON c.id = t.contact_id").
		Scopes(tickets.ChannelScope(a, "t.channel_id"))
	switch f.View {
	case "snoozed":
		q = q.Where("t.snoozed_until IS NOT NULL")
	default:
		q = q.Where("t.snoozed_until IS NULL")
	}
	if f.Status != "" {
		q = q.Where("t.status = ?", f.Status)
	} else {
		q = q.Where("t.status IN ('new', 'open', 'pending')")
	}
	switch f.View {
	case "mine":
		q = q.Where("t.assignee_id = ?", a.ID)
	case "unassigned":
		q = q.Where("t.assignee_id IS NULL")
	case "overdue":
		q = q.Where("t.due_at < now()")
	case "channel":
		q = q.Where("t.channel_id = ?", f.ChannelID)
	}
	if f.Priority != "" {
		q = q.Where("t.priority = ?", f.Priority)
	}
	var rows []struct {
		ID, Number, ChannelID         int64
		Subject, Priority, Status     string
		AssigneeID                    *int64
		DueAt, SnoozedUntil           *time.Time
		ChecklistDone, ChecklistTotal int
		Reminder                      bool
		LastActivityAt                time.Time
		ContactName                   string
	}
	err := q.Order("t.priority_rank DESC, t.last_customer_activity_at DESC, t.id DESC").Limit(50).Scan(&rows).Error
	if err != nil {
		return nil, "", fmt.Errorf("queue: %w", err)
	}
	names, err := s.names(ctx, a)
	if err != nil {
		return nil, "", err
	}
	out := make([]queueItem, 0, len(rows))
	for _, r := range rows {
		out = append(out, queueItem{ID: r.ID, Number: r.Number, Subject: r.Subject, ContactName: r.ContactName,
			ChannelID: r.ChannelID, Priority: r.Priority, Status: r.Status, AssigneeName: names.agent(r.AssigneeID),
			DueAt: r.DueAt, ChecklistDone: r.ChecklistDone, ChecklistTotal: r.ChecklistTotal, Reminder: r.Reminder,
			SnoozedUntil: r.SnoozedUntil, LastActivityAt: r.LastActivityAt})
	}
	return out, "", nil
}

func (s *Server) channelCounts(ctx context.Context, a *tickets.Agent) (map[int64][2]int64, error) {
	var rows []struct{ ChannelID, N int64 }
	err := s.tickets.DB.WithContext(ctx).Table("tickets t").Select("t.channel_id, count(*) AS n").
		Scopes(tickets.ChannelScope(a, "t.channel_id")).
		Where("t.status IN ('new', 'open', 'pending') AND t.snoozed_until IS NULL").
		Group("t.channel_id").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("channel counts: %w", err)
	}
	out := map[int64][2]int64{}
	for _, r := range rows {
		out[r.ChannelID] = [2]int64{r.N, 0}
	}
	return out, nil
}

func (s *Server) viewCounts(ctx context.Context, a *tickets.Agent) (map[string]int64, error) {
	return map[string]int64{}, nil
}
