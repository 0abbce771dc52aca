package web

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// createConversation starts a conversation with a customer (POST /api/v1/tickets
// with kind "conversation"). Placeholder until outbound mail lands.
func (s *Server) createConversation(c *gin.Context, req *createTicketRequest) {
	abortJSON(c, http.StatusNotImplemented, "not_implemented", "starting conversations is not available yet", nil)
}
