package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tasks"
	"github.com/postdesk/postdesk/tickets"
)

// registerDKIM adds the admin endpoints for DKIM signing keys. Mail from a domain
// with a key is signed; the private key is write-only.
func (s *Server) registerDKIM(g *gin.RouterGroup) {
	g.GET("/dkim-keys", s.listDKIMKeys)
	g.PUT("/dkim-keys/:domain", s.putDKIMKey)
	g.DELETE("/dkim-keys/:domain", s.deleteDKIMKey)
}

func (s *Server) listDKIMKeys(c *gin.Context) {
	out, err := s.tickets.DKIMKeys(c.Request.Context(), agent(c))
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, listOf(out, ""))
}

func (s *Server) putDKIMKey(c *gin.Context) {
	var req struct {
		Selector   string `json:"selector"`
		PrivateKey string `json:"private_key"`
	}
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	k, err := s.tickets.SetDKIMKey(c.Request.Context(), agent(c), tickets.DKIMKey{Domain: c.Param("domain"),
		Selector: req.Selector, PrivateKey: req.PrivateKey}, tasks.CheckDKIMKey)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, k)
}

func (s *Server) deleteDKIMKey(c *gin.Context) {
	if err := s.tickets.DeleteDKIMKey(c.Request.Context(), agent(c), c.Param("domain")); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
