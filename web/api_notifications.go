package web

import (
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
	var err error
	if f.Before, f.Limit, err = idPage(c); err != nil {
		fail(c, err)
		return
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
