package web

import "github.com/gin-gonic/gin"

// routes registers every endpoint. Each API area adds its routes in its own
// register function, called from here.
func (s *Server) routes() {
	e := s.engine
	e.GET("/healthz", s.healthz)
	s.registerUI(e)
	s.registerMessengerHooks(e)

	api := e.Group("/api/v1", s.authenticate)
	api.GET("/openapi.yaml", s.openapi)
	api.POST("/auth/login", s.login)

	authed := api.Group("", s.requireAgent)
	authed.POST("/auth/logout", s.logout)
	authed.GET("/me", s.me)
	authed.PATCH("/me", s.updateMe)
	authed.POST("/me/tokens", s.createToken)

	admin := authed.Group("", s.requireAdmin)
	admin.GET("/agents", s.listAgents)
	admin.POST("/agents", s.createAgent)
	admin.GET("/agents/:id", s.getAgent)
	admin.PATCH("/agents/:id", s.updateAgent)

	s.registerChannels(authed)
	s.registerIMAP(authed)
	s.registerTickets(authed)
	s.registerMessengers(authed)
	s.registerWorkflow(authed)
	s.registerMessages(authed)
	s.registerTemplates(authed)
	s.registerAttachments(authed)
	s.registerDKIM(authed)
	s.registerTracking(e)
	s.registerLive(authed)
}

func (s *Server) registerChannels(g *gin.RouterGroup) {
	g.GET("/channels", s.listChannels)
	g.POST("/channels", s.createChannel)
	g.GET("/channels/:id", s.getChannel)
	g.PATCH("/channels/:id", s.updateChannel)
	g.DELETE("/channels/:id", s.deleteChannel)
	g.PUT("/channels/:id/members/:agent_id", s.putMember)
	g.DELETE("/channels/:id/members/:agent_id", s.deleteMember)
	g.GET("/channels/:id/mailboxes", s.listMailboxes)
	g.POST("/channels/:id/mailboxes", s.createMailbox)
	g.GET("/channels/:id/mailboxes/:mailbox_id", s.getMailbox)
	g.PATCH("/channels/:id/mailboxes/:mailbox_id", s.updateMailbox)
	g.DELETE("/channels/:id/mailboxes/:mailbox_id", s.deleteMailbox)
}
