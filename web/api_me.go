package web

import (
	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

type meRequest struct {
	Status        *string `json:"status"`
	Name          *string `json:"name"`
	Signature     *string `json:"signature"`
	UndoSeconds   *int    `json:"undo_seconds"`
	NotifySound   *bool   `json:"notify_sound"`
	NotifyDesktop *bool   `json:"notify_desktop"`
	NotifyEmail   *bool   `json:"notify_email"`
}

// updateMe changes the caller's availability (online, away, offline: assignment
// skips all but online) and profile settings.
func (s *Server) updateMe(c *gin.Context) {
	var req meRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	a, err := s.tickets.UpdateProfile(c.Request.Context(), agent(c), tickets.ProfileChange{Status: req.Status,
		Name: req.Name, Signature: req.Signature, UndoSeconds: req.UndoSeconds, NotifySound: req.NotifySound,
		NotifyDesktop: req.NotifyDesktop, NotifyEmail: req.NotifyEmail})
	if err != nil {
		fail(c, err)
		return
	}
	s.writeMe(c, a, session(c))
}
