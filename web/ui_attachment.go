package web

import (
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

// attachmentFile serves an attachment of a message the agent may see. Only images
// of common types are shown inline; everything else downloads, and nothing is
// sniffed, so an uploaded HTML file cannot run as our origin.
func (s *Server) attachmentFile(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		s.pageError(c, tickets.ErrNotFound)
		return
	}
	ctx := c.Request.Context()
	var att tickets.Attachment
	if err := s.tickets.DB.WithContext(ctx).Take(&att, id).Error; err != nil || att.MessageID == nil {
		s.pageError(c, tickets.ErrNotFound)
		return
	}
	if _, err := s.tickets.VisibleMessage(ctx, agent(c), *att.MessageID); err != nil {
		s.pageError(c, err)
		return
	}
	ct := att.ContentType
	disp := "attachment"
	switch strings.ToLower(ct) {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		disp = "inline"
	default:
		ct = "application/octet-stream"
	}
	if err := s.sendBlob(c, &att, ct, disp); err != nil {
		s.pageError(c, err)
	}
}
