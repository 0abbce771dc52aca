package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type meResponse struct {
	*tickets.Agent
	CSRFToken  string  `json:"csrf_token,omitempty"`
	ChannelIDs []int64 `json:"channel_ids"`
}

// login checks credentials, rate-limited per account and per IP, and starts a session.
func (s *Server) login(c *gin.Context) {
	var req loginRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	var v tickets.Validator
	v.Check(strings.TrimSpace(req.Email) != "", "email", "is required")
	v.Check(req.Password != "", "password", "is required")
	v.MaxLen(req.Email, 254, "email")
	v.MaxLen(req.Password, 1024, "password")
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	ctx := c.Request.Context()
	acctKey := "login:acct:" + strings.ToLower(strings.TrimSpace(req.Email))
	ipKey := "login:ip:" + c.ClientIP()
	if s.limiter.exceeded(ctx, acctKey, s.cfg.LoginLimit) || s.limiter.exceeded(ctx, ipKey, 5*s.cfg.LoginLimit) {
		c.Header("Retry-After", itoa(int(s.cfg.LoginWindow.Seconds())))
		fail(c, tickets.ErrRateLimited)
		return
	}
	a, err := s.tickets.Authenticate(ctx, req.Email, req.Password)
	if err != nil {
		if errors.Is(err, tickets.ErrUnauthorized) {
			s.limiter.hit(ctx, acctKey, s.cfg.LoginWindow)
			s.limiter.hit(ctx, ipKey, s.cfg.LoginWindow)
			abortJSON(c, http.StatusUnauthorized, "unauthorized", "wrong e-mail or password", nil)
			return
		}
		fail(c, err)
		return
	}
	s.limiter.reset(ctx, acctKey)
	token, sess, err := s.tickets.CreateSession(ctx, a.ID, c.ClientIP(), c.Request.UserAgent())
	if err != nil {
		fail(c, err)
		return
	}
	s.setSessionCookie(c, token, int(tickets.SessionTTL.Seconds()))
	s.writeMe(c, a, sess)
}

func (s *Server) logout(c *gin.Context) {
	if v, err := c.Cookie(sessionCookie); err == nil && v != "" {
		if err := s.tickets.DeleteSession(c.Request.Context(), v); err != nil {
			fail(c, err)
			return
		}
	}
	s.setSessionCookie(c, "", -1)
	c.Status(http.StatusNoContent)
}

func (s *Server) me(c *gin.Context) {
	s.writeMe(c, agent(c), session(c))
}

func (s *Server) writeMe(c *gin.Context, a *tickets.Agent, sess *tickets.Session) {
	ids, err := s.tickets.VisibleChannelIDs(c.Request.Context(), a)
	if err != nil {
		fail(c, err)
		return
	}
	resp := meResponse{Agent: a, ChannelIDs: ids}
	if ids == nil {
		resp.ChannelIDs = []int64{}
	}
	if sess != nil {
		resp.CSRFToken = sess.CSRFToken
	}
	ok(c, resp)
}

type tokenRequest struct {
	Name string `json:"name"`
}

// createToken issues an API token for the caller.
func (s *Server) createToken(c *gin.Context) {
	var req tokenRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	plain, t, err := s.tickets.CreateAPIToken(c.Request.Context(), agent(c).ID, req.Name)
	if err != nil {
		fail(c, err)
		return
	}
	created(c, gin.H{"id": t.ID, "name": t.Name, "token": plain, "created_at": t.CreatedAt})
}
