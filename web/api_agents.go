package web

import (
	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

type agentRequest struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

func (s *Server) listAgents(c *gin.Context) {
	out, err := s.tickets.Agents(c.Request.Context())
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, listOf(out, ""))
}

func (s *Server) createAgent(c *gin.Context) {
	var req agentRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	a, err := s.tickets.CreateAgent(c.Request.Context(), tickets.NewAgent{Email: req.Email, Name: req.Name,
		Password: req.Password, Role: req.Role})
	if err != nil {
		fail(c, err)
		return
	}
	created(c, a)
}

func (s *Server) getAgent(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	a, err := s.tickets.Agent(c.Request.Context(), id)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, a)
}

type agentUpdateRequest struct {
	Name     Opt[string] `json:"name"`
	Role     Opt[string] `json:"role"`
	Disabled Opt[bool]   `json:"disabled"`
}

func (s *Server) updateAgent(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var req agentUpdateRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	a, err := s.tickets.UpdateAgent(c.Request.Context(), agent(c), id, tickets.AgentUpdate{
		Name: req.Name.Ptr(), Role: req.Role.Ptr(), Disabled: req.Disabled.Ptr()})
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, a)
}
