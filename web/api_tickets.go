package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

func (s *Server) registerTickets(g *gin.RouterGroup) {
	g.GET("/tickets", s.listTickets)
	g.GET("/tickets/:id", s.getTicket)
	g.PATCH("/tickets/:id", s.updateTicket)
	g.POST("/tickets/bulk", s.bulkUpdateTickets)
	g.POST("/tickets/:id/read", s.markTicketRead)
	g.POST("/tickets/:id/unread", s.markTicketUnread)
	g.GET("/views/counts", s.viewCounts)
}

// listValues reads a query parameter given several times or comma-separated.
func listValues(c *gin.Context, name string) []string {
	var out []string
	for _, v := range c.QueryArray(name) {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func queryBool(c *gin.Context, name string, fields map[string]string) *bool {
	v, ok := c.GetQuery(name)
	if !ok || v == "" {
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		fields[name] = "must be true or false"
		return nil
	}
	return &b
}

func queryID(c *gin.Context, name string, fields map[string]string) *int64 {
	v, ok := c.GetQuery(name)
	if !ok || v == "" {
		return nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		fields[name] = "must be a positive integer"
		return nil
	}
	return &id
}

func (s *Server) listTickets(c *gin.Context) {
	bad := map[string]string{}
	f := tickets.TicketFilter{
		ChannelID:  queryID(c, "channel_id", bad),
		Statuses:   listValues(c, "status"),
		Priorities: listValues(c, "priority"),
		Assignee:   c.Query("assignee"),
		Tag:        c.Query("tag"),
		Kind:       c.Query("kind"),
		Due:        c.Query("due"),
		Snoozed:    queryBool(c, "snoozed", bad),
		Unread:     queryBool(c, "unread", bad),
		Query:      c.Query("q"),
		ContactID:  queryID(c, "contact_id", bad),
		Sort:       c.Query("sort"),
		Order:      c.Query("order"),
		Cursor:     c.Query("cursor"),
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			bad["limit"] = "must be a positive integer"
		}
		f.Limit = n
	}
	if len(bad) > 0 {
		fail(c, badRequest("invalid query", bad))
		return
	}
	page, err := s.tickets.ListTickets(c.Request.Context(), agent(c), f)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, listOf(page.Items, page.NextCursor))
}

// getTicket returns a ticket with its messages, checklist, tags and contact. Opening
// a ticket marks it read for the caller (as Help Scout does) unless mark_read=false;
// "unread" in the answer is the state before this request.
func (s *Server) getTicket(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	markRead := c.Query("mark_read") != "false"
	d, err := s.tickets.TicketDetail(c.Request.Context(), agent(c), id, markRead)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, d)
}

// ticketChangeRequest is the body of PATCH /tickets/{id} and of bulk changes.
type ticketChangeRequest struct {
	Status     Opt[string]    `json:"status"`
	Priority   Opt[string]    `json:"priority"`
	AssigneeID Opt[int64]     `json:"assignee_id"`
	DueAt      Opt[time.Time] `json:"due_at"`
	Tags       Opt[[]string]  `json:"tags"`
	Subject    Opt[string]    `json:"subject"`
	Position   Opt[float64]   `json:"position"`
}

func (r *ticketChangeRequest) change() (tickets.TicketChange, error) {
	var v tickets.Validator
	for name, set := range map[string]bool{
		"status":   r.Status.Set && r.Status.Value == nil,
		"priority": r.Priority.Set && r.Priority.Value == nil,
		"subject":  r.Subject.Set && r.Subject.Value == nil,
		"position": r.Position.Set && r.Position.Value == nil,
	} {
		v.Check(!set, name, "must not be null")
	}
	ch := tickets.TicketChange{Status: r.Status.Ptr(), Priority: r.Priority.Ptr(), AssigneeID: r.AssigneeID.Nullable(),
		DueAt: r.DueAt.Nullable(), Subject: r.Subject.Ptr(), Position: r.Position.Ptr()}
	if r.Tags.Set {
		tags := []string{}
		if r.Tags.Value != nil {
			tags = *r.Tags.Value
		}
		ch.Tags = &tags
	}
	return ch, v.Err()
}

type ticketWithWarnings struct {
	*tickets.TicketListItem
	Warnings []string `json:"warnings,omitempty"`
}

func (s *Server) updateTicket(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var req ticketChangeRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	ch, err := req.change()
	if err != nil {
		fail(c, err)
		return
	}
	ctx := c.Request.Context()
	up, err := s.tickets.UpdateTicket(ctx, agent(c), id, ch)
	if err != nil {
		fail(c, err)
		return
	}
	item, err := s.tickets.TicketItem(ctx, agent(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, ticketWithWarnings{TicketListItem: item, Warnings: up.Warnings})
}

type bulkRequest struct {
	IDs []int64 `json:"ids"`
	ticketChangeRequest
}

type bulkItem struct {
	*tickets.Ticket
	Warnings []string `json:"warnings,omitempty"`
}

// bulkUpdateTickets applies one change to many tickets, all or nothing.
func (s *Server) bulkUpdateTickets(c *gin.Context) {
	var req bulkRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	ch, err := req.change()
	if err != nil {
		fail(c, err)
		return
	}
	ups, err := s.tickets.BulkUpdate(c.Request.Context(), agent(c), req.IDs, ch)
	if err != nil {
		fail(c, err)
		return
	}
	out := make([]bulkItem, len(ups))
	for i, up := range ups {
		out[i] = bulkItem{Ticket: up.Ticket, Warnings: up.Warnings}
	}
	ok(c, listOf(out, ""))
}

func (s *Server) markTicketRead(c *gin.Context)   { s.setRead(c, true) }
func (s *Server) markTicketUnread(c *gin.Context) { s.setRead(c, false) }

func (s *Server) setRead(c *gin.Context, read bool) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	if read {
		err = s.tickets.MarkRead(c.Request.Context(), agent(c), id)
	} else {
		err = s.tickets.MarkUnread(c.Request.Context(), agent(c), id)
	}
	if err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type viewCountsResponse struct {
	*tickets.ViewCounts
	Channels []tickets.ChannelCount `json:"channels"`
}

// viewCounts is the sidebar in one request: saved views and per-channel counts.
func (s *Server) viewCounts(c *gin.Context) {
	ctx := c.Request.Context()
	v, counts, err := s.tickets.Sidebar(ctx, agent(c))
	if err != nil {
		fail(c, err)
		return
	}
	ids, err := s.tickets.VisibleChannelIDs(ctx, agent(c))
	if err != nil {
		fail(c, err)
		return
	}
	out := viewCountsResponse{ViewCounts: v, Channels: make([]tickets.ChannelCount, 0, len(ids))}
	for _, id := range ids {
		cc := counts[id]
		cc.ChannelID = id
		out.Channels = append(out.Channels, cc)
	}
	ok(c, out)
}
