package web

import (
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

//go:embed templates/*.html
var templatesFS embed.FS

// static holds CSS, our JS, and the npm libraries `make web-deps` copies into
// static/vendor (a committed README keeps the folder present for go:embed).
//
//go:embed static
var staticFS embed.FS

var pages = template.Must(template.New("").Funcs(uiFuncs).ParseFS(templatesFS, "templates/*.html"))

// pageData is what every page template receives.
type pageData struct {
	Title     string
	Nav       string // the header entry to highlight: inbox, board, contacts, settings
	Agent     *tickets.Agent
	IsAdmin   bool
	CSRFToken string
	Scripts   []string // page scripts under /static/
	Data      any
}

// jsStrings are the strings the scripts show, handed to them as JSON in the layout.
var jsStrings = func() template.JS {
	m := map[string]string{}
	for k, v := range uiStrings {
		if strings.HasPrefix(k, "js.") {
			m[strings.TrimPrefix(k, "js.")] = v
		}
	}
	b, _ := json.Marshal(m)
	return template.JS(b)
}()

func (s *Server) registerUI(e *gin.Engine) {
	static, _ := fs.Sub(staticFS, "static")
	assets := e.Group("/static", func(c *gin.Context) {
		// Assets change only with the binary; a day's caching is safe and keeps
		// page loads to one request.
		c.Header("Cache-Control", "public, max-age=86400")
	})
	assets.StaticFS("/", http.FS(static))
	ui := e.Group("", s.authenticate)
	ui.GET("/login", s.loginPage)
	pages := ui.Group("", s.requirePage)
	s.registerInbox(pages)
	s.registerTicketPane(pages)
	s.registerSettings(pages)
	s.registerBoard(pages)
	s.registerContacts(pages)
}

// requirePage sends anonymous visitors to the login page.
func (s *Server) requirePage(c *gin.Context) {
	if agent(c) == nil {
		if c.GetHeader("HX-Request") != "" {
			// A fragment request cannot redirect the page; tell htmx to.
			c.Header("HX-Redirect", "/login")
			c.AbortWithStatus(http.StatusUnauthorized)
			return
		}
		c.Redirect(http.StatusSeeOther, "/login")
		c.Abort()
	}
}

func (s *Server) render(c *gin.Context, status int, name string, d pageData) {
	if a := agent(c); a != nil {
		d.Agent = a
		d.IsAdmin = a.IsAdmin()
	}
	if sess := session(c); sess != nil {
		d.CSRFToken = sess.CSRFToken
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	c.Status(status)
	if err := pages.ExecuteTemplate(c.Writer, name, d); err != nil {
		s.log.Error("render page", "page", name, "err", err)
	}
}

// pageError shows a failed page or fragment load as HTML: not found for anything
// outside the agent's channels (as the API answers), a plain error otherwise.
func (s *Server) pageError(c *gin.Context, err error) {
	status, msg := http.StatusInternalServerError, translate("error.internal")
	switch {
	case errors.Is(err, tickets.ErrNotFound):
		status, msg = http.StatusNotFound, translate("error.not_found")
	case errors.Is(err, tickets.ErrForbidden):
		status, msg = http.StatusForbidden, translate("error.forbidden")
	default:
		var ve *tickets.ValidationError
		if errors.As(err, &ve) {
			status, msg = http.StatusUnprocessableEntity, ve.Error()
		} else {
			s.log.Error("page failed", "path", c.Request.URL.Path, "err", err)
		}
	}
	c.Abort()
	s.render(c, status, "error.html", pageData{Title: msg, Data: msg})
}

func (s *Server) loginPage(c *gin.Context) {
	if agent(c) != nil {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	s.render(c, http.StatusOK, "login.html", pageData{Title: translate("login.title"), Scripts: []string{"js/login.js"}})
}
