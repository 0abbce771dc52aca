package web

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tasks"
)

// imapCheckTimeout bounds a settings test, so a host that swallows packets answers
// the admin with an error instead of a hung request.
const imapCheckTimeout = 20 * time.Second

func (s *Server) registerIMAP(g *gin.RouterGroup) {
	g.POST("/channels/:id/mailboxes/:mailbox_id/test-imap", s.testIMAP)
}

// testIMAP tries a mailbox's IMAP settings. A body, when given, holds settings to
// try instead of the stored ones (nothing is saved), so the settings form can test
// before saving; a password left out keeps the stored one. A failed connection is
// a 200 with ok=false: the request worked, the settings did not.
func (s *Server) testIMAP(c *gin.Context) {
	id, mid, err := mailboxPath(c)
	if err != nil {
		fail(c, err)
		return
	}
	var req mailboxRequest
	if c.Request.ContentLength != 0 {
		if err := decode(c, &req); err != nil {
			fail(c, err)
			return
		}
	}
	m, err := s.tickets.MailboxDraft(c.Request.Context(), agent(c), id, mid, req.input())
	if err != nil {
		fail(c, err)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), imapCheckTimeout)
	defer cancel()
	if err := tasks.CheckIMAP(ctx, m); err != nil {
		c.JSON(http.StatusOK, gin.H{"ok": false, "error": err.Error()})
		return
	}
	c.JSON(http.StatusOK, gin.H{"ok": true, "error": ""})
}
