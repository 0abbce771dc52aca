package web

import (
	"time"

	"github.com/gin-gonic/gin"
)

type snoozeRequest struct {
	Until       *time.Time `json:"until"`
	WakeOnReply *bool      `json:"wake_on_reply"`
}

func (s *Server) snoozeTicket(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var req snoozeRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	wake := true
	if req.WakeOnReply != nil {
		wake = *req.WakeOnReply
	}
	t, err := s.tickets.Snooze(c.Request.Context(), agent(c), id, req.Until, wake)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, t)
}

func (s *Server) unsnoozeTicket(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	t, err := s.tickets.Unsnooze(c.Request.Context(), agent(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, t)
}
