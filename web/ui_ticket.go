package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/microcosm-cc/bluemonday"

	"github.com/postdesk/postdesk/tickets"
)

// The ticket pane: thread, side panel and composer. Served inside the inbox page
// (/tickets/:id) and alone as a fragment (/ui/tickets/:id) that the scripts swap in
// after every change, so what the agent sees is always the server's view.

func (s *Server) registerTicketPane(g *gin.RouterGroup) {
	g.GET("/ui/tickets/:id", s.ticketFragment)
	g.GET("/ui/attachments/:id", s.attachmentFile)
	g.GET("/ui/messages/:id/original", s.originalFile)
}

// ticketData is everything the pane shows.
type ticketData struct {
	tickets.Ticket
	ChannelName  string
	ChannelKind  string
	AssigneeName string
	ContactName  string
	Contact      *tickets.Contact
	Messages     []messageView
	Checklist    []tickets.ChecklistItem
	Tags         []string
	Agents       []tickets.Agent   // who may be assigned (the channel's members)
	TaskChannels []tickets.Channel // targets for "Create task"
	Mailboxes    []tickets.Mailbox
	Overdue      bool
	Now          time.Time
	// OtherTickets are the contact's tickets elsewhere (in channels the agent sees).
	OtherTickets []queueItem
	// Tasks were spawned from this ticket's messages; OriginTicket* is where this
	// task was spawned from.
	Tasks              []tickets.Ticket
	OriginTicketID     int64
	OriginTicketNumber int64
}

// messageView is a message as the thread shows it.
type messageView struct {
	tickets.Message
	Author  string
	Body    string // text before the quoted history
	Quoted  string // folded quoted history
	SrcDoc  string // sanitised HTML document for the sandboxed frame; "" for plain mail
	Pending bool   // scheduled or queued: can still be canceled
}

func (s *Server) ticketFragment(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		s.pageError(c, tickets.ErrNotFound)
		return
	}
	d, err := s.ticketData(c.Request.Context(), agent(c), id)
	if err != nil {
		s.pageError(c, err)
		return
	}
	s.render(c, http.StatusOK, "ticket", pageData{Data: d})
}

func (s *Server) ticketData(ctx context.Context, a *tickets.Agent, id int64) (*ticketData, error) {
	// Opening a ticket in the UI is reading it.
	det, err := s.tickets.TicketDetail(ctx, a, id, true)
	if err != nil {
		return nil, err
	}
	t := &det.Ticket
	names, err := s.names(ctx, a)
	if err != nil {
		return nil, err
	}
	d := &ticketData{Ticket: *t, AssigneeName: names.agent(t.AssigneeID), Now: time.Now(), Tags: det.Tags,
		Checklist: det.Checklist, Contact: det.Contact}
	if det.Contact != nil {
		d.ContactName = det.Contact.Name
	}
	if ch, ok := names.channels[t.ChannelID]; ok {
		d.ChannelName, d.ChannelKind = ch.Name, ch.Kind
	}
	for _, ch := range names.channels {
		if ch.Kind == "tasks" {
			d.TaskChannels = append(d.TaskChannels, ch)
		}
	}
	for _, m := range det.Messages {
		d.Messages = append(d.Messages, viewMessage(m, names))
	}
	members, err := s.tickets.Members(ctx, t.ChannelID)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		if name, ok := names.agents[m.AgentID]; ok {
			d.Agents = append(d.Agents, tickets.Agent{ID: m.AgentID, Name: name})
		}
	}
	if d.Mailboxes, err = s.tickets.Mailboxes(ctx, a, t.ChannelID); err != nil {
		return nil, err
	}
	if err := s.ticketLinks(ctx, a, d, names); err != nil {
		return nil, err
	}
	d.Overdue = det.OverdueBy != nil
	return d, nil
}

func viewMessage(m tickets.Message, names *nameCache) messageView {
	v := messageView{Message: m, Body: m.BodyText}
	if m.QuoteOffset >= 0 && m.QuoteOffset <= len(m.BodyText) {
		v.Body, v.Quoted = m.BodyText[:m.QuoteOffset], m.BodyText[m.QuoteOffset:]
	}
	v.Body = strings.TrimRight(v.Body, "\n ")
	switch {
	case m.AuthorAgentID != nil:
		v.Author = names.agent(m.AuthorAgentID)
	case m.FromName != "":
		v.Author = m.FromName
	default:
		v.Author = m.FromAddress
	}
	if m.Direction == tickets.DirectionInbound && strings.TrimSpace(m.BodyHTML) != "" {
		v.SrcDoc = srcDoc(m.BodyHTML)
	}
	v.Pending = m.Status == tickets.MessageScheduled || m.Status == tickets.MessageQueued
	return v
}

// mailPolicy sanitises inbound HTML before it reaches the frame: the usual
// formatting, tables and images survive; scripts, forms, event handlers and
// styles that could escape the frame do not.
var mailPolicy = func() *bluemonday.Policy {
	p := bluemonday.UGCPolicy()
	p.AllowAttrs("style").Globally()
	p.AllowStyles("color", "background-color", "font-weight", "font-style", "text-decoration", "text-align",
		"font-size", "font-family", "margin", "padding", "border", "width").Globally()
	p.AllowAttrs("width", "height", "align", "bgcolor", "cellpadding", "cellspacing", "border").Globally()
	p.AllowURLSchemes("http", "https", "mailto", "cid", "data")
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	return p
}()

// frameCSP is the policy inside the frame: no scripts at all, no remote content
// (remote images are how senders track opens), inline styles only.
const frameCSP = "default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'; font-src data:"

// srcDoc wraps sanitised mail HTML in a document for <iframe sandbox srcdoc>. The
// sandbox has no allow-scripts, and the CSP forbids them too, so even a sanitiser
// gap cannot run code with the agent's session.
func srcDoc(html string) string {
	return `<!doctype html><html><head><meta charset="utf-8">` +
		`<meta http-equiv="Content-Security-Policy" content="` + frameCSP + `">` +
		`<base target="_blank"><style>body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;` +
		`overflow-wrap:anywhere}img{max-width:100%;height:auto}</style></head><body>` +
		mailPolicy.Sanitize(html) + `</body></html>`
}

// ticketLinks fills the contact's other tickets and the task links, each through the
// agent's channel scope.
func (s *Server) ticketLinks(ctx context.Context, a *tickets.Agent, d *ticketData, names *nameCache) error {
	db := s.tickets.DB.WithContext(ctx)
	if d.ContactID != nil {
		var others []tickets.Ticket
		err := db.Scopes(tickets.ChannelScope(a, "tickets.channel_id")).
			Where("contact_id = ? AND id <> ?", *d.ContactID, d.ID).Order("last_activity_at DESC").Limit(10).
			Find(&others).Error
		if err != nil {
			return fmt.Errorf("contact %d tickets: %w", *d.ContactID, err)
		}
		for _, o := range others {
			d.OtherTickets = append(d.OtherTickets, queueItem{ID: o.ID, Number: o.Number, Subject: o.Subject,
				Status: o.Status, ChannelName: names.channels[o.ChannelID].Name})
		}
	}
	err := db.Scopes(tickets.ChannelScope(a, "tickets.channel_id")).
		Where("origin_message_id IN (SELECT id FROM messages WHERE ticket_id = ?) AND id <> ?", d.ID, d.ID).Order("id").
		Find(&d.Tasks).Error
	if err != nil {
		return fmt.Errorf("ticket %d tasks: %w", d.ID, err)
	}
	if d.OriginMessageID != nil {
		if m, err := s.tickets.VisibleMessage(ctx, a, *d.OriginMessageID); err == nil {
			// A conversation's origin is its own first mail; only another ticket's
			// message makes this a spawned task.
			if o, err := s.tickets.VisibleTicket(ctx, a, m.TicketID); err == nil && o.ID != d.ID {
				d.OriginTicketID, d.OriginTicketNumber = o.ID, o.Number
			}
		}
	}
	return nil
}

// originalFile is the ticket pane's "Original" link: the raw mail of an inbound
// message, as a download.
func (s *Server) originalFile(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		s.pageError(c, tickets.ErrNotFound)
		return
	}
	if err := s.sendOriginal(c, id); err != nil {
		s.pageError(c, err)
	}
}
