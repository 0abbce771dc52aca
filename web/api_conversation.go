package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

// createConversation starts a conversation with a customer or supplier: POST
// /api/v1/tickets with kind "conversation". The ticket and its first message are
// written together; the message then leaves like any reply.
func (s *Server) createConversation(c *gin.Context, req *createTicketRequest) {
	var v tickets.Validator
	const notForMail = "is not used when starting a conversation"
	v.Check(req.Description == "", "description", notForMail+" (use body)")
	v.Check(len(req.Checklist) == 0, "checklist", notForMail)
	v.Check(req.DueAt == nil, "due_at", notForMail)
	v.Check(req.ChannelID > 0, "channel_id", "is required")
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	if req.TemplateID != nil {
		if err := s.applyTemplate(c, *req.TemplateID, 0, &req.Subject, &req.Body); err != nil {
			fail(c, err)
			return
		}
	}
	t, m, err := s.tickets.CreateConversation(c.Request.Context(), agent(c), tickets.NewConversation{
		ChannelID: req.ChannelID, Draft: tickets.OutboundDraft{MailboxID: req.MailboxID, To: req.To, Cc: req.Cc,
			Subject: req.Subject, BodyText: req.Body, SendAt: req.SendAt}})
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"ticket": t, "message": m})
}
