package web

import (
	"time"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

// createTicketRequest is the body of POST /api/v1/tickets. kind "task" creates a
// task in a tasks channel; kind "conversation" (the default) starts a conversation
// with a customer by sending the first message.
type createTicketRequest struct {
	Kind        string     `json:"kind"`
	ChannelID   int64      `json:"channel_id"`
	Subject     string     `json:"subject"`
	Description string     `json:"description"`
	Body        string     `json:"body"`
	To          []string   `json:"to"`
	Cc          []string   `json:"cc"`
	MailboxID   *int64     `json:"mailbox_id"`
	SendAt      *time.Time `json:"send_at"`
	TemplateID  *int64     `json:"template_id"`
	AssigneeID  *int64     `json:"assignee_id"`
	DueAt       *time.Time `json:"due_at"`
	Priority    string     `json:"priority"`
	Checklist   []string   `json:"checklist"`
	Tags        []string   `json:"tags"`
}

func (s *Server) createTicket(c *gin.Context) {
	var req createTicketRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	switch req.Kind {
	case tickets.KindTask:
		s.createTask(c, &req)
	case "", tickets.KindConversation:
		s.createConversation(c, &req)
	default:
		fail(c, tickets.Invalid("kind", "must be conversation or task"))
	}
}

func (s *Server) createTask(c *gin.Context, req *createTicketRequest) {
	var v tickets.Validator
	const notForTasks = "is not used for tasks"
	v.Check(req.Body == "", "body", notForTasks+" (use description)")
	v.Check(len(req.To) == 0, "to", notForTasks)
	v.Check(len(req.Cc) == 0, "cc", notForTasks)
	v.Check(req.MailboxID == nil, "mailbox_id", notForTasks)
	v.Check(req.SendAt == nil, "send_at", notForTasks)
	v.Check(req.TemplateID == nil, "template_id", notForTasks)
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	t, err := s.tickets.CreateTask(c.Request.Context(), agent(c), tickets.NewTask{ChannelID: req.ChannelID,
		Subject: req.Subject, Description: req.Description, AssigneeID: req.AssigneeID, DueAt: req.DueAt,
		Priority: req.Priority, Checklist: req.Checklist, Tags: req.Tags})
	if err != nil {
		fail(c, err)
		return
	}
	created(c, t)
}
