package web

import (
	"fmt"
	"mime"
	"net/http"
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
	f, err := s.blobs.Open(att.SHA256)
	if err != nil {
		s.pageError(c, fmt.Errorf("attachment %d: %w", att.ID, err))
		return
	}
	defer f.Close()
	ct := att.ContentType
	disp := "attachment"
	switch strings.ToLower(ct) {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		disp = "inline"
	default:
		ct = "application/octet-stream"
	}
	h := c.Writer.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": att.Filename}))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, max-age=3600")
	http.ServeContent(c.Writer, c.Request, "", att.CreatedAt, f)
}
