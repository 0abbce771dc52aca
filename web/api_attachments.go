package web

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

func (s *Server) registerAttachments(g *gin.RouterGroup) {
	g.POST("/attachments", s.uploadAttachment)
	g.GET("/attachments/:id/content", s.attachmentContent)
}

// uploadAttachment stores one file (multipart field "file") for a later reply or
// note, which references it by id. The channel's size limit applies when it is used.
func (s *Server) uploadAttachment(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, tickets.MaxUploadBytes+1<<20)
	fh, err := c.FormFile("file")
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			fail(c, &httpError{status: http.StatusRequestEntityTooLarge, code: "too_large",
				msg: fmt.Sprintf("files may be at most %d bytes", tickets.MaxUploadBytes)})
			return
		}
		fail(c, badRequest("send the file as multipart/form-data in the field \"file\"", nil))
		return
	}
	f, err := fh.Open()
	if err != nil {
		fail(c, err)
		return
	}
	defer f.Close()
	sum, size, err := s.blobs.Put(f, tickets.MaxUploadBytes)
	if errors.Is(err, tickets.ErrTooLarge) {
		fail(c, &httpError{status: http.StatusRequestEntityTooLarge, code: "too_large",
			msg: fmt.Sprintf("files may be at most %d bytes", tickets.MaxUploadBytes)})
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	ct := fh.Header.Get("Content-Type")
	if byExt := mime.TypeByExtension(strings.ToLower(filepath.Ext(fh.Filename))); byExt != "" {
		ct = byExt
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		ct = mt
	} else {
		ct = "application/octet-stream"
	}
	at, err := s.tickets.CreateUpload(c.Request.Context(), agent(c), sum, size, fh.Filename, ct)
	if err != nil {
		fail(c, err)
		return
	}
	created(c, at)
}

// attachmentContent serves a file as a download: never rendered by the browser
// except plain images, and sandboxed even then.
func (s *Server) attachmentContent(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	at, err := s.tickets.VisibleAttachment(c.Request.Context(), agent(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	ct, disp := "application/octet-stream", "attachment"
	switch strings.ToLower(at.ContentType) {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		ct, disp = strings.ToLower(at.ContentType), "inline"
	}
	if err := s.sendBlob(c, at, ct, disp); err != nil {
		fail(c, err)
	}
}
