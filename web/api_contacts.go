package web

import (
	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

func (s *Server) listContacts(c *gin.Context) {
	f := tickets.ContactFilter{Q: c.Query("q")}
	var err error
	if f.Before, f.Limit, err = idPage(c); err != nil {
		fail(c, err)
		return
	}
	page, err := s.tickets.Contacts(c.Request.Context(), agent(c), f)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, page)
}

func (s *Server) getContact(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	d, err := s.tickets.ContactDetail(c.Request.Context(), agent(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, d)
}

type mergeRequest struct {
	IntoID int64 `json:"into_id"`
	Force  bool  `json:"force"`
}

func (s *Server) mergeContact(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var req mergeRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	if req.Force {
		fail(c, tickets.Invalid("force", "is only for merging tickets"))
		return
	}
	d, err := s.tickets.MergeContacts(c.Request.Context(), agent(c), id, req.IntoID)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, d)
}

func (s *Server) mergeTicket(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var req mergeRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	t, err := s.tickets.MergeTicket(c.Request.Context(), agent(c), id, req.IntoID, req.Force)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, t)
}
