package web

import (
	"strconv"

	"github.com/gin-gonic/gin"
)

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

	g.POST("/messages/:id/spawn-task", s.spawnTask)
	g.GET("/tickets/:id/links", s.getTicketLinks)
	g.GET("/channels/:id/board", s.channelBoard)

	g.POST("/tickets/:id/merge", s.mergeTicket)
	g.GET("/contacts", s.listContacts)
	g.GET("/contacts/:id", s.getContact)
	g.POST("/contacts/:id/merge", s.mergeContact)

	g.GET("/notifications", s.listNotifications)
	g.POST("/notifications/read-all", s.readAllNotifications)
	g.POST("/notifications/:id/read", s.readNotification)
}

// idPage reads the cursor and limit of a list paged by descending id: cursor is the
// last id of the previous page (its next_cursor), limit 1 to 200.
func idPage(c *gin.Context) (before int64, limit int, err error) {
	if v := c.Query("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, badRequest("invalid query", map[string]string{"cursor": "is not a cursor from this list"})
		}
		before = n
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			return 0, 0, badRequest("invalid query", map[string]string{"limit": "must be 1 to 200"})
		}
		limit = n
	}
	return before, limit, nil
}
