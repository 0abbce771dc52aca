package web

import (
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/tickets"
)

// maxWebhookBody bounds a provider's webhook request; media arrive by reference.
const maxWebhookBody = 4 << 20

// registerMessengerHooks adds the public provider webhooks. They carry no session:
// each request proves itself with the provider's signature or secret.
func (s *Server) registerMessengerHooks(e *gin.Engine) {
	s.registerWebChat(e)
	e.GET("/hooks/:provider/:connection_id", s.hookVerify)
	e.POST("/hooks/:provider/:connection_id", s.hookReceive)
	e.GET("/hooks/:provider/:connection_id/media/:attachment_id/:filename", s.hookMedia)
}

// hookConn loads the connection a webhook names; an unknown, disabled or
// mismatched connection is 404, so ids reveal nothing.
func (s *Server) hookConn(c *gin.Context) (*messengers.Conn, messengers.Adapter, error) {
	if s.messengers == nil {
		return nil, nil, tickets.ErrNotFound // this process runs without messengers
	}
	id, err := pathID(c, "connection_id")
	if err != nil {
		return nil, nil, err
	}
	conn, err := messengers.LoadConn(c.Request.Context(), s.tickets.DB, id)
	if err != nil {
		return nil, nil, err
	}
	if conn.Provider != c.Param("provider") || !conn.Enabled {
		return nil, nil, tickets.ErrNotFound
	}
	a, err := s.messengers.Registry.Get(conn.Provider)
	if err != nil {
		return nil, nil, tickets.ErrNotFound
	}
	return conn, a, nil
}

func (s *Server) hookVerify(c *gin.Context) {
	conn, a, err := s.hookConn(c)
	if err != nil {
		fail(c, err)
		return
	}
	v, ok := a.(messengers.Verifier)
	if !ok {
		fail(c, tickets.ErrNotFound)
		return
	}
	body, err := v.VerifyGET(conn, c.Request)
	if err != nil {
		abortJSON(c, http.StatusUnauthorized, "unauthorized", "verification failed", nil)
		return
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(body))
}

func (s *Server) hookReceive(c *gin.Context) {
	conn, a, err := s.hookConn(c)
	if err != nil {
		fail(c, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxWebhookBody))
	if err != nil {
		abortJSON(c, http.StatusRequestEntityTooLarge, "too_large", "webhook body too large", nil)
		return
	}
	up, err := a.Webhook(c.Request.Context(), conn, c.Request, body)
	if errors.Is(err, messengers.ErrBadSignature) {
		s.log.Warn("webhook rejected", "provider", conn.Provider, "connection_id", conn.ID, "ip", c.ClientIP())
		abortJSON(c, http.StatusUnauthorized, "unauthorized", "signature or secret does not match", nil)
		return
	}
	if err != nil {
		abortJSON(c, http.StatusBadRequest, "bad_request", err.Error(), nil)
		return
	}
	if _, err := s.messengers.Apply(c.Request.Context(), conn, up); err != nil {
		// 5xx makes the provider deliver the webhook again; what was stored is
		// then skipped by its provider message id.
		s.log.Error("webhook", "provider", conn.Provider, "connection_id", conn.ID, "err", err)
		abortJSON(c, http.StatusServiceUnavailable, "unavailable", "could not store the update; retry later", nil)
		return
	}
	resp := up.Response
	if resp == "" {
		resp = "ok"
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(resp))
}
