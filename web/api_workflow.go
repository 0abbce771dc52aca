package web

import "github.com/gin-gonic/gin"

// registerWorkflow adds the ticket-workflow routes: creating tickets and tasks,
// checklists, snooze, notifications, the timeline, the board, merges and contacts.
// Each area's handlers live in their own api_*.go file.
func (s *Server) registerWorkflow(g *gin.RouterGroup) {
	g.POST("/tickets", s.createTicket)
	g.POST("/tickets/:id/snooze", s.snoozeTicket)
	g.DELETE("/tickets/:id/snooze", s.unsnoozeTicket)
	g.GET("/tickets/:id/events", s.listEvents)

	g.GET("/tickets/:id/checklist", s.listChecklist)
	g.POST("/tickets/:id/checklist", s.addChecklistItem)
	g.POST("/tickets/:id/checklist/apply", s.applyChecklistTemplate)
	g.PATCH("/tickets/:id/checklist/:item", s.updateChecklistItem)
	g.DELETE("/tickets/:id/checklist/:item", s.deleteChecklistItem)
	g.GET("/channels/:id/checklist-templates", s.listChecklistTemplates)
	g.POST("/channels/:id/checklist-templates", s.createChecklistTemplate)
	g.PATCH("/channels/:id/checklist-templates/:template_id", s.updateChecklistTemplate)
	g.DELETE("/channels/:id/checklist-templates/:template_id", s.deleteChecklistTemplate)

	g.GET("/notifications", s.listNotifications)
	g.POST("/notifications/read-all", s.readAllNotifications)
	g.POST("/notifications/:id/read", s.readNotification)
}
