package web

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

// The inbox: sidebar (views and channels with counts), the queue, and the open
// ticket. The queue is also served alone as a fragment (/ui/queue) so live updates
// and filter changes replace just the list.

func (s *Server) registerInbox(g *gin.RouterGroup) {
	g.GET("/", s.inboxPage)
	g.GET("/tickets/:id", s.inboxPage)
	g.GET("/ui/queue", s.queueFragment)
	g.GET("/ui/sidebar", s.sidebarFragment)
}

// inboxFilter is the queue's state, carried in the URL so a reload or a shared link
// shows the same list.
type inboxFilter struct {
	View      string // mine, unassigned, all, snoozed, overdue, scheduled, channel
	ChannelID int64
	Status    string
	Priority  string
	Sort      string
	Order     string
	Q         string
	Cursor    string
}

var inboxViews = []string{"mine", "unassigned", "all", "snoozed", "overdue", "scheduled"}

func parseInboxFilter(c *gin.Context) inboxFilter {
	f := inboxFilter{View: c.Query("view"), Status: c.Query("status"), Priority: c.Query("priority"),
		Sort: c.Query("sort"), Order: c.Query("order"), Q: c.Query("q"), Cursor: c.Query("cursor")}
	if id, err := strconv.ParseInt(c.Query("channel"), 10, 64); err == nil && id > 0 {
		f.ChannelID, f.View = id, "channel"
	}
	if f.Q != "" {
		f.View = "search"
	}
	valid := f.View == "channel" || f.View == "search"
	for _, v := range inboxViews {
		valid = valid || v == f.View
	}
	if !valid {
		f.View = "all"
	}
	return f
}

// Query returns the filter as URL parameters (without the cursor), typed so the
// templates keep its = and & when placing it after a "?".
func (f inboxFilter) Query() template.URL {
	v := url.Values{}
	switch f.View {
	case "channel":
		v.Set("channel", strconv.FormatInt(f.ChannelID, 10))
	case "search", "all":
	default:
		v.Set("view", f.View)
	}
	for k, val := range map[string]string{"status": f.Status, "priority": f.Priority, "sort": f.Sort,
		"order": f.Order, "q": f.Q} {
		if val != "" {
			v.Set(k, val)
		}
	}
	return template.URL(v.Encode()) //nolint:gosec // url.Values.Encode escapes every value
}

// sideChannel is a channel's line in the sidebar.
type sideChannel struct {
	ID     int64
	Name   string
	Kind   string
	Open   int64
	Unread int64
}

// queueItem is one row of the queue.
type queueItem struct {
	ID             int64
	Number         int64
	Subject        string
	ContactName    string
	ChannelID      int64
	ChannelName    string
	ChannelKind    string
	Priority       string
	Status         string
	AssigneeName   string
	DueAt          *time.Time
	Overdue        bool
	ChecklistDone  int
	ChecklistTotal int
	Unread         bool
	Reminder       bool
	SnoozedUntil   *time.Time
	LastActivityAt time.Time
	// SendAt is set in the Scheduled view: when the agent's message leaves.
	SendAt  *time.Time
	Snippet template.HTML
}

type inboxData struct {
	Filter   inboxFilter
	Channels []sideChannel
	Views    map[string]int64
	Items    []queueItem
	Next     string
	Ticket   *ticketData
	AgentID  int64
	Statuses []string
	Prios    []string
	Sorts    []string
	names    *nameCache
}

func (s *Server) inboxPage(c *gin.Context) {
	ctx := c.Request.Context()
	a := agent(c)
	f := parseInboxFilter(c)
	d, err := s.inboxData(ctx, a, f)
	if err != nil {
		s.pageError(c, err)
		return
	}
	if c.Param("id") != "" {
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil {
			s.pageError(c, tickets.ErrNotFound)
			return
		}
		if d.Ticket, err = s.ticketData(ctx, a, id); err != nil {
			s.pageError(c, err)
			return
		}
	}
	title := translate("inbox.title")
	if d.Ticket != nil {
		title = d.Ticket.Subject
	}
	s.render(c, http.StatusOK, "inbox.html", pageData{Title: title, Nav: "inbox", Data: d,
		Scripts: []string{"vendor/Sortable.min.js", "js/inbox.js", "js/ticket.js", "js/composer.js"}})
}

func (s *Server) queueFragment(c *gin.Context) {
	ctx := c.Request.Context()
	a := agent(c)
	d := &inboxData{Filter: parseInboxFilter(c), AgentID: a.ID}
	if err := s.fillQueue(ctx, a, d); err != nil {
		s.pageError(c, err)
		return
	}
	s.render(c, http.StatusOK, "queue", pageData{Data: d})
}

func (s *Server) sidebarFragment(c *gin.Context) {
	ctx := c.Request.Context()
	a := agent(c)
	d := &inboxData{Filter: parseInboxFilter(c), AgentID: a.ID}
	if err := s.fillSidebar(ctx, a, d); err != nil {
		s.pageError(c, err)
		return
	}
	s.render(c, http.StatusOK, "sidebar", pageData{Data: d})
}

func (s *Server) inboxData(ctx context.Context, a *tickets.Agent, f inboxFilter) (*inboxData, error) {
	d := &inboxData{Filter: f, AgentID: a.ID,
		Statuses: []string{"new", "open", "pending", "resolved", "closed"},
		Prios:    []string{"urgent", "high", "normal", "low"},
		Sorts:    []string{"priority", "last_activity", "due_at", "created_at"}}
	// The page carries the channel list; counting every open ticket of the agent's
	// channels is the costly part of the inbox, so the counts arrive in a second
	// request (/ui/sidebar) and the queue is on screen first.
	if err := s.fillChannels(ctx, a, d); err != nil {
		return nil, err
	}
	if err := s.fillQueue(ctx, a, d); err != nil {
		return nil, err
	}
	return d, nil
}
