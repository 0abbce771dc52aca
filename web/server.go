package web

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/tasks"
	"github.com/postdesk/postdesk/templates"
	"github.com/postdesk/postdesk/tickets"
)

// Config is what the web role needs to know about its install.
type Config struct {
	// BaseURL is the public URL (links, tracking pixel, cookie Secure flag).
	BaseURL string
	Version string
	// LoginLimit and LoginWindow bound failed logins per account; the per-IP
	// limit is five times LoginLimit.
	LoginLimit  int
	LoginWindow time.Duration
}

// Server holds the HTTP handlers and their dependencies.
type Server struct {
	cfg     Config
	tickets *tickets.Service
	tasks   *tasks.Client
	blobs   *tickets.Blobs
	log     *slog.Logger
	engine  *gin.Engine
	limiter *limiter
	// Outbound mail: reply templates and the mailbox "test connection" check.
	templates *templates.Store
	smtpCheck SMTPChecker
	live      *Live
	// messengers stores webhook updates; nil disables /hooks/.
	messengers *messengers.Receiver
}

// Deps are the services the handlers call.
type Deps struct {
	Tickets *tickets.Service
	Tasks   *tasks.Client
	Blobs   *tickets.Blobs
	Log     *slog.Logger
	// SMTPCheck tests a mailbox's relay settings (tasks.Sender); nil disables the check.
	SMTPCheck SMTPChecker
	// Live is the live-update hub; New makes one on the tasks Redis when nil. The
	// same value should be the tickets.Service's Publisher.
	Live *Live
	// Messengers receives messenger webhooks.
	Messengers *messengers.Receiver
}

func init() { gin.SetMode(gin.ReleaseMode) }

// New builds the router.
func New(cfg Config, d Deps) *Server {
	if cfg.LoginLimit <= 0 {
		cfg.LoginLimit = 10
	}
	if cfg.LoginWindow <= 0 {
		cfg.LoginWindow = 15 * time.Minute
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	s := &Server{cfg: cfg, tickets: d.Tickets, tasks: d.Tasks, blobs: d.Blobs, log: d.Log,
		limiter: &limiter{rdb: d.Tasks.Redis()}, live: d.Live, messengers: d.Messengers,
		templates: &templates.Store{Tickets: d.Tickets}, smtpCheck: d.SMTPCheck}
	if s.live == nil {
		s.live = NewLive(d.Tasks.Redis(), d.Log)
	}
	e := gin.New()
	e.RedirectTrailingSlash = false
	e.HandleMethodNotAllowed = true
	e.Use(gin.Recovery(), s.securityHeaders)
	e.NoRoute(func(c *gin.Context) { abortJSON(c, http.StatusNotFound, "not_found", "no such endpoint", nil) })
	e.NoMethod(func(c *gin.Context) {
		abortJSON(c, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed", nil)
	})
	s.engine = e
	s.routes()
	return s
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.engine }

// Live returns the live-update hub (the tickets.Publisher to inject).
func (s *Server) Live() *Live { return s.live }

// Routes lists "METHOD path" of every registered route (for the OpenAPI check).
func (s *Server) Routes() []gin.RouteInfo { return s.engine.Routes() }

func (s *Server) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	if !strings.HasPrefix(c.Request.URL.Path, "/widget") {
		h.Set("X-Frame-Options", "SAMEORIGIN")
	}
	c.Next()
}

func (s *Server) secureCookies(r *http.Request) bool {
	return strings.HasPrefix(s.cfg.BaseURL, "https://") || r.TLS != nil ||
		r.Header.Get("X-Forwarded-Proto") == "https"
}
