package web

import (
	"context"
	"html/template"

	"github.com/postdesk/postdesk/tickets"
)

// The queue and the sidebar read through the same domain calls as the JSON API
// (tickets.ListTickets, Sidebar, ListMessages), so the page and
// GET /api/v1/tickets always agree on what a queue holds.

// fillSidebar loads the channels the agent sees with their counts, and the view
// counts. Channel and view counts come from one Sidebar call: it is one pass over
// the unfinished tickets, and asking twice would double the sidebar's cost.
func (s *Server) fillSidebar(ctx context.Context, a *tickets.Agent, d *inboxData) error {
	if err := s.fillChannels(ctx, a, d); err != nil {
		return err
	}
	v, counts, err := s.tickets.Sidebar(ctx, a)
	if err != nil {
		return err
	}
	for i := range d.Channels {
		n := counts[d.Channels[i].ID]
		d.Channels[i].Open, d.Channels[i].Unread = n.OpenCount, n.UnreadCount
	}
	d.Views = map[string]int64{"mine": v.Mine, "unassigned": v.Unassigned, "all": v.AllOpen, "snoozed": v.Snoozed,
		"overdue": v.Overdue}
	return nil
}

// fillChannels lists the channels the agent sees, without counts.
func (s *Server) fillChannels(ctx context.Context, a *tickets.Agent, d *inboxData) error {
	names, err := s.pageNames(ctx, a, d)
	if err != nil {
		return err
	}
	d.Channels = make([]sideChannel, 0, len(names.list))
	for _, ch := range names.list {
		d.Channels = append(d.Channels, sideChannel{ID: ch.ID, Name: ch.Name, Kind: ch.Kind})
	}
	return nil
}

// ticketFilter turns the page's view and filters into the API's queue filter.
func (f inboxFilter) ticketFilter() tickets.TicketFilter {
	tf := tickets.TicketFilter{Sort: f.Sort, Order: f.Order, Cursor: f.Cursor, Query: f.Q}
	if f.Status != "" {
		tf.Statuses = []string{f.Status}
	}
	if f.Priority != "" {
		tf.Priorities = []string{f.Priority}
	}
	switch f.View {
	case "mine":
		tf.Assignee = "me"
	case "unassigned":
		tf.Assignee = "none"
	case "snoozed":
		yes := true
		tf.Snoozed = &yes
	case "overdue":
		tf.Due = "overdue"
	case "channel":
		id := f.ChannelID
		tf.ChannelID = &id
	}
	return tf
}

// fillQueue loads one page of the queue for d.Filter.
func (s *Server) fillQueue(ctx context.Context, a *tickets.Agent, d *inboxData) error {
	names, err := s.pageNames(ctx, a, d)
	if err != nil {
		return err
	}
	if d.Filter.View == "scheduled" {
		return s.fillScheduled(ctx, a, d, names)
	}
	page, err := s.tickets.ListTickets(ctx, a, d.Filter.ticketFilter())
	if err != nil {
		return err
	}
	d.Items = make([]queueItem, 0, len(page.Items))
	for i := range page.Items {
		d.Items = append(d.Items, queueRow(&page.Items[i], names))
	}
	d.Next = page.NextCursor
	return nil
}

func queueRow(t *tickets.TicketListItem, names *nameCache) queueItem {
	ch := names.channels[t.ChannelID]
	return queueItem{ID: t.ID, Number: t.Number, Subject: t.Subject, ContactName: t.ContactName,
		ChannelID: t.ChannelID, ChannelName: ch.Name, ChannelKind: ch.Kind, Priority: t.Priority, Status: t.Status,
		AssigneeName: names.agent(t.AssigneeID), DueAt: t.DueAt, Overdue: t.OverdueBy != nil,
		ChecklistDone: t.ChecklistDone, ChecklistTotal: t.ChecklistTotal, Unread: t.Unread, Reminder: t.Reminder,
		SnoozedUntil: t.SnoozedUntil, LastActivityAt: t.LastActivityAt,
		// The domain escapes the snippet and marks the match with <mark>.
		Snippet: template.HTML(t.Snippet)} //nolint:gosec
}

// fillScheduled lists the tickets on which the agent has a reply waiting to go
// out, soonest first.
func (s *Server) fillScheduled(ctx context.Context, a *tickets.Agent, d *inboxData, names *nameCache) error {
	me := a.ID
	msgs, err := s.tickets.ListMessages(ctx, a, tickets.MessageFilter{Statuses: []string{tickets.MessageScheduled},
		AuthorID: &me, Limit: 100})
	if err != nil {
		return err
	}
	d.Items = []queueItem{}
	seen := map[int64]bool{}
	for _, m := range msgs {
		if seen[m.TicketID] {
			continue
		}
		seen[m.TicketID] = true
		t, err := s.tickets.TicketItem(ctx, a, m.TicketID)
		if err != nil {
			return err
		}
		it := queueRow(t, names)
		it.SendAt = m.SendAt
		d.Items = append(d.Items, it)
	}
	return nil
}

// nameCache resolves ids in lists to names: the channels the agent sees and all
// agents (a helpdesk has tens of agents, not thousands).
type nameCache struct {
	list     []tickets.Channel // in the order the sidebar shows them
	channels map[int64]tickets.Channel
	agents   map[int64]string
}

// pageNames loads the names once per request.
func (s *Server) pageNames(ctx context.Context, a *tickets.Agent, d *inboxData) (*nameCache, error) {
	if d.names != nil {
		return d.names, nil
	}
	n, err := s.names(ctx, a)
	d.names = n
	return n, err
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
	n := &nameCache{list: chs, channels: map[int64]tickets.Channel{}, agents: map[int64]string{}}
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
