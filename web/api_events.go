package web

import "github.com/gin-gonic/gin"

func (s *Server) listEvents(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	evs, err := s.tickets.Events(c.Request.Context(), agent(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, listOf(evs, ""))
}
