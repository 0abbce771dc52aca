package web

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

const (
	sessionCookie = "postdesk_session"
	ctxAgent      = "postdesk.agent"
	ctxSession    = "postdesk.session"
)

// authenticate resolves the caller from a bearer token or the session cookie. It
// never rejects; requireAgent does.
func (s *Server) authenticate(c *gin.Context) {
	ctx := c.Request.Context()
	if h := c.GetHeader("Authorization"); h != "" {
		token, found := strings.CutPrefix(h, "Bearer ")
		if !found {
			abortJSON(c, http.StatusUnauthorized, "unauthorized", "Authorization must be a Bearer token", nil)
			return
		}
		a, err := s.tickets.TokenAgent(ctx, strings.TrimSpace(token))
		if err != nil {
			if errors.Is(err, tickets.ErrUnauthorized) {
				abortJSON(c, http.StatusUnauthorized, "unauthorized", "invalid API token", nil)
				return
			}
			fail(c, err)
			return
		}
		c.Set(ctxAgent, a)
		return
	}
	if v, err := c.Cookie(sessionCookie); err == nil && v != "" {
		sess, a, err := s.tickets.SessionAgent(ctx, v)
		if err == nil {
			c.Set(ctxAgent, a)
			c.Set(ctxSession, sess)
		} else if !errors.Is(err, tickets.ErrUnauthorized) {
			fail(c, err)
			return
		}
	}
}

// requireAgent rejects anonymous API calls and checks CSRF on cookie-authenticated
// writes: such requests must echo the session's token in X-CSRF-Token.
func (s *Server) requireAgent(c *gin.Context) {
	if _, ok := c.Get(ctxAgent); !ok {
		abortJSON(c, http.StatusUnauthorized, "unauthorized", "log in or send an API token", nil)
		return
	}
	if v, ok := c.Get(ctxSession); ok && !safeMethod(c.Request.Method) {
		sess := v.(*tickets.Session)
		got := c.GetHeader("X-CSRF-Token")
		if got == "" {
			got = c.PostForm("csrf_token")
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRFToken)) != 1 {
			abortJSON(c, http.StatusForbidden, "csrf", "missing or wrong X-CSRF-Token", nil)
			return
		}
	}
}

func (s *Server) requireAdmin(c *gin.Context) {
	if !agent(c).IsAdmin() {
		abortJSON(c, http.StatusForbidden, "forbidden", "admins only", nil)
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// agent returns the authenticated agent (nil when anonymous).
func agent(c *gin.Context) *tickets.Agent {
	v, ok := c.Get(ctxAgent)
	if !ok {
		return nil
	}
	return v.(*tickets.Agent)
}

func session(c *gin.Context) *tickets.Session {
	v, ok := c.Get(ctxSession)
	if !ok {
		return nil
	}
	return v.(*tickets.Session)
}

func (s *Server) setSessionCookie(c *gin.Context, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     sessionCookie,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.secureCookies(c.Request),
		SameSite: http.SameSiteLaxMode,
	})
}
