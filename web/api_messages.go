package web

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/mail"
	"github.com/postdesk/postdesk/tickets"
)

// SMTPChecker tests a mailbox's outbound relay settings (implemented by tasks.Sender).
type SMTPChecker interface {
	CheckSMTP(ctx context.Context, mb *tickets.Mailbox) error
}

func (s *Server) registerMessages(g *gin.RouterGroup) {
	g.POST("/tickets/:id/messages", s.postTicketMessage)
	g.GET("/messages", s.listMessages)
	g.GET("/messages/:id", s.getMessage)
	g.GET("/messages/:id/original", s.messageOriginal)
	g.PATCH("/messages/:id", s.patchMessage)
	g.POST("/messages/:id/cancel", s.cancelMessage)
	g.POST("/messages/:id/send-now", s.sendMessageNow)
	g.POST("/channels/:id/mailboxes/:mailbox_id/test-smtp", s.testMailboxSMTP)
}

// postMessageRequest is the body of POST /tickets/{id}/messages.
type postMessageRequest struct {
	Type             string     `json:"type"` // reply (default), note or forward
	Body             string     `json:"body"`
	BodyHTML         string     `json:"body_html"`
	Subject          string     `json:"subject"`
	To               []string   `json:"to"`
	Cc               []string   `json:"cc"`
	Bcc              []string   `json:"bcc"`
	MailboxID        *int64     `json:"mailbox_id"`
	SendAt           *time.Time `json:"send_at"`
	TemplateID       *int64     `json:"template_id"`
	AttachmentIDs    []int64    `json:"attachment_ids"`
	CancelOnReply    bool       `json:"cancel_on_reply"`
	ForwardMessageID *int64     `json:"forward_message_id"`
	// MessengerTemplate is an approved provider template (WhatsApp outside the 24-hour window).
	MessengerTemplate *tickets.MessengerTemplate `json:"messenger_template"`
}

func (s *Server) postTicketMessage(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var req postMessageRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	ctx := c.Request.Context()
	if req.Type == "note" {
		var v tickets.Validator
		const notForNotes = "is not used for notes (they are never sent)"
		v.Check(req.To == nil && req.Cc == nil && req.Bcc == nil, "to", notForNotes)
		v.Check(req.SendAt == nil, "send_at", notForNotes)
		v.Check(req.MailboxID == nil, "mailbox_id", notForNotes)
		if err := v.Err(); err != nil {
			fail(c, err)
			return
		}
		m, err := s.tickets.AddNote(ctx, agent(c), id, req.Body, req.AttachmentIDs)
		if err != nil {
			fail(c, err)
			return
		}
		created(c, m)
		return
	}
	if req.TemplateID != nil {
		if err := s.applyTemplate(c, *req.TemplateID, id, &req.Subject, &req.Body); err != nil {
			fail(c, err)
			return
		}
	}
	m, err := s.tickets.CreateOutbound(ctx, agent(c), id, tickets.OutboundDraft{Kind: req.Type,
		MailboxID: req.MailboxID, To: req.To, Cc: req.Cc, Bcc: req.Bcc, Subject: req.Subject, BodyText: req.Body,
		BodyHTML: req.BodyHTML, SendAt: req.SendAt, CancelOnReply: req.CancelOnReply,
		AttachmentIDs: req.AttachmentIDs, ForwardMessageID: req.ForwardMessageID,
		MessengerTemplate: req.MessengerTemplate})
	if err != nil {
		fail(c, err)
		return
	}
	created(c, m)
}

func (s *Server) listMessages(c *gin.Context) {
	var f tickets.MessageFilter
	for _, st := range c.QueryArray("status") {
		for _, one := range strings.Split(st, ",") {
			if one = strings.TrimSpace(one); one != "" {
				f.Statuses = append(f.Statuses, one)
			}
		}
	}
	switch author := c.Query("author"); author {
	case "":
	case "me":
		f.AuthorID = &agent(c).ID
	default:
		n, err := strconv.ParseInt(author, 10, 64)
		if err != nil {
			fail(c, badRequest("invalid input", map[string]string{"author": "must be me or an agent id"}))
			return
		}
		f.AuthorID = &n
	}
	if tid := c.Query("ticket_id"); tid != "" {
		n, err := strconv.ParseInt(tid, 10, 64)
		if err != nil {
			fail(c, badRequest("invalid input", map[string]string{"ticket_id": "must be a number"}))
			return
		}
		f.TicketID = &n
	}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			fail(c, badRequest("invalid input", map[string]string{"limit": "must be 1 to 200"}))
			return
		}
		f.Limit = n
	}
	out, err := s.tickets.ListMessages(c.Request.Context(), agent(c), f)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, listOf(out, ""))
}

func (s *Server) getMessage(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	m, err := s.tickets.MessageWithAttachments(c.Request.Context(), agent(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, m)
}

type patchMessageRequest struct {
	SendAt        *time.Time `json:"send_at"`
	Subject       *string    `json:"subject"`
	Body          *string    `json:"body"`
	BodyHTML      *string    `json:"body_html"`
	CancelOnReply *bool      `json:"cancel_on_reply"`
}

func (s *Server) patchMessage(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var req patchMessageRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	m, err := s.tickets.UpdateOutbound(c.Request.Context(), agent(c), id, tickets.OutboundPatch{SendAt: req.SendAt,
		Subject: req.Subject, BodyText: req.Body, BodyHTML: req.BodyHTML, CancelOnReply: req.CancelOnReply})
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, m)
}

func (s *Server) cancelMessage(c *gin.Context) {
	s.messageAction(c, s.tickets.CancelOutbound)
}

func (s *Server) sendMessageNow(c *gin.Context) {
	s.messageAction(c, s.tickets.SendNowOutbound)
}

func (s *Server) messageAction(c *gin.Context, f func(ctx context.Context, a *tickets.Agent, id int64) (*tickets.Message, error)) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	m, err := f(c.Request.Context(), agent(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, m)
}

// testMailboxSMTP connects to a mailbox's relay (or the default one), negotiates
// TLS and logs in, so wrong settings show before anyone sends.
func (s *Server) testMailboxSMTP(c *gin.Context) {
	id, mid, err := mailboxPath(c)
	if err != nil {
		fail(c, err)
		return
	}
	ctx := c.Request.Context()
	if err := s.tickets.CanManageChannel(ctx, agent(c), id); err != nil {
		fail(c, err)
		return
	}
	mb, err := s.tickets.Mailbox(ctx, agent(c), id, mid)
	if err != nil {
		fail(c, err)
		return
	}
	if s.smtpCheck == nil {
		abortJSON(c, http.StatusServiceUnavailable, "unavailable", "outbound mail is not configured", nil)
		return
	}
	if err := s.smtpCheck.CheckSMTP(ctx, mb); err != nil {
		ok(c, gin.H{"ok": false, "error": err.Error()})
		return
	}
	ok(c, gin.H{"ok": true})
}

// messageOriginal serves the raw mail an inbound message was parsed from, as a
// .eml download.
func (s *Server) messageOriginal(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	if err := s.sendOriginal(c, id); err != nil {
		fail(c, err)
	}
}

// sendOriginal streams the raw mail of message id for the agent of the request.
// Errors before the first byte are returned for the caller to render.
func (s *Server) sendOriginal(c *gin.Context, id int64) error {
	ctx := c.Request.Context()
	inboundID, err := s.tickets.MessageOriginal(ctx, agent(c), id)
	if err != nil {
		return err
	}
	r, err := (&mail.Intake{DB: s.tickets.DB, Blobs: s.blobs}).OpenRaw(ctx, inboundID)
	if err != nil {
		return err
	}
	defer r.Close()
	h := c.Writer.Header()
	h.Set("Content-Type", "message/rfc822")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment",
		map[string]string{"filename": fmt.Sprintf("message-%d.eml", id)}))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, max-age=3600")
	c.Status(http.StatusOK)
	if _, err := io.Copy(c.Writer, r); err != nil {
		s.log.Warn("send original mail", "message_id", id, "err", err) // the status is out already
	}
	return nil
}
