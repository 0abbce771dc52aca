package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

// pixelGIF is a transparent 1×1 GIF.
var pixelGIF = []byte{
	0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
}

// registerTracking adds the public read-tracking pixel: no login, the unguessable
// token is the only key.
func (s *Server) registerTracking(e *gin.Engine) {
	e.GET("/o/:file", s.trackingPixel)
	g := e.Group("/api/v1", s.authenticate, s.requireAgent)
	g.GET("/messages/:id/opens", s.listMessageOpens)
}

func (s *Server) trackingPixel(c *gin.Context) {
	token, found := strings.CutSuffix(c.Param("file"), ".gif")
	if !found {
		abortJSON(c, http.StatusNotFound, "not_found", "not found", nil)
		return
	}
	_, err := s.tickets.RecordOpen(c.Request.Context(), token, c.Request.UserAgent(), c.ClientIP())
	if err != nil && !errors.Is(err, tickets.ErrNotFound) {
		s.log.Warn("record open", "err", err)
	}
	// Same answer for known and unknown tokens: the pixel tells a prober nothing.
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "0")
	c.Data(http.StatusOK, "image/gif", pixelGIF)
}

func (s *Server) listMessageOpens(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	out, err := s.tickets.MessageOpens(c.Request.Context(), agent(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, listOf(out, ""))
}
