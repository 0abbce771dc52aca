package web

import (
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

func (s *Server) listNotifications(c *gin.Context) {
	f := tickets.NotificationFilter{}
	switch c.Query("unread") {
	case "", "false", "0":
	case "true", "1":
		f.UnreadOnly = true
	default:
		fail(c, badRequest("invalid query", map[string]string{"unread": "must be true or false"}))
		return
	}
	if v := c.Query("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			fail(c, badRequest("invalid query", map[string]string{"cursor": "is not a cursor from this list"}))
			return
		}
		f.Before = n
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			fail(c, badRequest("invalid query", map[string]string{"limit": "must be 1 to 200"}))
			return
		}
		f.Limit = n
	}
	page, err := s.tickets.Notifications(c.Request.Context(), agent(c), f)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, page)
}

func (s *Server) readNotification(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	if err := s.tickets.MarkNotificationRead(c.Request.Context(), agent(c), id); err != nil {
		fail(c, err)
		return
	}
	c.Status(204)
}

func (s *Server) readAllNotifications(c *gin.Context) {
	n, err := s.tickets.MarkAllNotificationsRead(c.Request.Context(), agent(c))
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, gin.H{"updated": n})
}
