package web

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

type spawnTaskRequest struct {
	ChannelID  int64      `json:"channel_id"`
	Subject    string     `json:"subject"`
	AssigneeID *int64     `json:"assignee_id"`
	DueAt      *time.Time `json:"due_at"`
}

func (s *Server) spawnTask(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var req spawnTaskRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	t, err := s.tickets.SpawnTask(c.Request.Context(), agent(c), id, tickets.SpawnTaskInput{ChannelID: req.ChannelID,
		Subject: req.Subject, AssigneeID: req.AssigneeID, DueAt: req.DueAt})
	if err != nil {
		fail(c, err)
		return
	}
	created(c, t)
}

func (s *Server) getTicketLinks(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	l, err := s.tickets.Links(c.Request.Context(), agent(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, l)
}

func (s *Server) channelBoard(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	q := tickets.BoardQuery{Status: c.Query("status"), Cursor: c.Query("cursor")}
	if l := c.Query("limit"); l != "" {
		if q.Limit, err = strconv.Atoi(l); err != nil || q.Limit < 1 {
			fail(c, badRequest("invalid query", map[string]string{"limit": "must be a positive number"}))
			return
		}
	}
	b, err := s.tickets.Board(c.Request.Context(), agent(c), id, q)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, b)
}
