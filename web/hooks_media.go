package web

import (
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/tickets"
)

// hookMedia serves one file of a reply to the provider fetching it (Viber and
// Instagram take files only as URLs). The link's signature and expiry are the
// credential (messengers.MediaURL); it opens only an attachment of a message sent
// through that connection, and anything wrong is a plain 404.
func (s *Server) hookMedia(c *gin.Context) {
	conn, _, err := s.hookConn(c)
	if err != nil {
		fail(c, err)
		return
	}
	id, err := pathID(c, "attachment_id")
	if err != nil {
		fail(c, err)
		return
	}
	if !messengers.CheckMediaURL(conn, id, c.Query("exp"), c.Query("sig"), time.Now()) {
		fail(c, tickets.ErrNotFound)
		return
	}
	var at tickets.Attachment
	err = s.tickets.DB.WithContext(c.Request.Context()).Raw(`SELECT a.* FROM attachments a
		JOIN messages m ON m.id = a.message_id
		WHERE a.id = ? AND m.messenger_connection_id = ?`, id, conn.ID).Scan(&at).Error
	if err != nil {
		fail(c, fmt.Errorf("media %d: %w", id, err))
		return
	}
	if at.ID == 0 {
		fail(c, tickets.ErrNotFound)
		return
	}
	// Providers need the real type of pictures, video, sound and PDFs; anything
	// else goes out as bytes, never as something a browser would render.
	ct, disp := "application/octet-stream", "attachment"
	switch t := strings.ToLower(at.ContentType); {
	case strings.HasPrefix(t, "image/") && t != "image/svg+xml", strings.HasPrefix(t, "video/"),
		strings.HasPrefix(t, "audio/"):
		ct, disp = t, "inline"
	case t == "application/pdf":
		ct = t
	}
	if err := s.sendBlob(c, &at, ct, disp); err != nil {
		fail(c, err)
	}
}

// sendBlob writes an attachment's bytes as ct with the given disposition, under a
// sandboxing CSP (and nosniff, set for every response) so that no file we serve
// can run as our origin. It fails before writing anything when the blob is gone.
func (s *Server) sendBlob(c *gin.Context, at *tickets.Attachment, ct, disp string) error {
	f, err := s.blobs.Open(at.SHA256)
	if err != nil {
		return fmt.Errorf("attachment %d: %w", at.ID, err)
	}
	defer f.Close()
	h := c.Writer.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": at.Filename}))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, max-age=3600")
	http.ServeContent(c.Writer, c.Request, "", at.CreatedAt, f)
	return nil
}
