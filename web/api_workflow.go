package web

import "github.com/gin-gonic/gin"

// registerWorkflow adds the ticket-workflow routes: creating tickets and tasks,
// notes' notifications, checklists, snooze, the board, the timeline, merges and
// contacts. Each area's handlers live in their own api_*.go file.
func (s *Server) registerWorkflow(g *gin.RouterGroup) {
	g.POST("/tickets", s.createTicket)
	g.POST("/tickets/:id/snooze", s.snoozeTicket)
	g.DELETE("/tickets/:id/snooze", s.unsnoozeTicket)
}
