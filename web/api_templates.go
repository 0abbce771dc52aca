package web

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/templates"
	"github.com/postdesk/postdesk/tickets"
)

func (s *Server) registerTemplates(g *gin.RouterGroup) {
	g.GET("/templates", s.listTemplates)
	g.POST("/templates", s.createTemplate)
	g.GET("/templates/:id", s.getTemplate)
	g.PATCH("/templates/:id", s.updateTemplate)
	g.DELETE("/templates/:id", s.deleteTemplate)
	g.POST("/templates/:id/preview", s.previewTemplate)
	g.GET("/channels/:id/signature", s.getSignature)
	g.PUT("/me/signatures/:channel_id", s.putSignature)
}

// getSignature returns the caller's signature for a channel, rendered, for the
// composer to append.
func (s *Server) getSignature(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	sig, err := s.templates.SignatureFor(c.Request.Context(), agent(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, sig)
}

func (s *Server) putSignature(c *gin.Context) {
	id, err := pathID(c, "channel_id")
	if err != nil {
		fail(c, err)
		return
	}
	var req struct {
		Body string `json:"body"`
	}
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	sig, err := s.templates.SetSignature(c.Request.Context(), agent(c), id, req.Body)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, sig)
}

type templateRequest struct {
	ChannelID *int64  `json:"channel_id"`
	Name      *string `json:"name"`
	Subject   *string `json:"subject"`
	Body      *string `json:"body"`
}

func (r *templateRequest) input() templates.Input {
	return templates.Input{ChannelID: r.ChannelID, Name: r.Name, Subject: r.Subject, Body: r.Body}
}

func (s *Server) listTemplates(c *gin.Context) {
	var channelID *int64
	if v := c.Query("channel_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			fail(c, badRequest("invalid input", map[string]string{"channel_id": "must be a number"}))
			return
		}
		channelID = &n
	}
	out, err := s.templates.List(c.Request.Context(), agent(c), channelID)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, listOf(out, ""))
}

func (s *Server) createTemplate(c *gin.Context) {
	var req templateRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	t, err := s.templates.Create(c.Request.Context(), agent(c), req.input())
	if err != nil {
		fail(c, err)
		return
	}
	created(c, t)
}

func (s *Server) getTemplate(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	t, err := s.templates.Get(c.Request.Context(), agent(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, t)
}

func (s *Server) updateTemplate(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var req templateRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	if req.ChannelID != nil {
		fail(c, tickets.Invalid("channel_id", "cannot change; create the template in the other channel"))
		return
	}
	t, err := s.templates.Update(c.Request.Context(), agent(c), id, req.input())
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, t)
}

func (s *Server) deleteTemplate(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	if err := s.templates.Delete(c.Request.Context(), agent(c), id); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// previewTemplate renders a template for a ticket, exactly as a reply would use it.
func (s *Server) previewTemplate(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var req struct {
		TicketID int64 `json:"ticket_id"`
	}
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	if req.TicketID <= 0 {
		fail(c, tickets.Invalid("ticket_id", "is required"))
		return
	}
	subject, body, err := s.templates.RenderForTicket(c.Request.Context(), agent(c), id, req.TicketID)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, gin.H{"subject": subject, "body": body})
}

// applyTemplate fills an empty subject and body from a template rendered for the
// ticket (ticketID 0: a new conversation, without ticket variables).
func (s *Server) applyTemplate(c *gin.Context, templateID, ticketID int64, subject, body *string) error {
	subj, b, err := s.templates.RenderForTicket(c.Request.Context(), agent(c), templateID, ticketID)
	if err != nil {
		return err
	}
	if *subject == "" && ticketID == 0 {
		*subject = subj
	}
	if *body == "" {
		*body = b
	}
	return nil
}
