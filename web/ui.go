package web

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"

	"github.com/gin-gonic/gin"
)

//go:embed templates/*.html
var templatesFS embed.FS

//go:embed static
var staticFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{"t": translate}).ParseFS(templatesFS, "templates/*.html"))

// pageData is what every page template receives.
type pageData struct {
	Title     string
	Agent     any
	CSRFToken string
	Data      any
}

func (s *Server) registerUI(e *gin.Engine) {
	static, _ := fs.Sub(staticFS, "static")
	e.StaticFS("/static", http.FS(static))
	ui := e.Group("", s.authenticate)
	ui.GET("/login", s.loginPage)
	ui.GET("/", s.requirePage, s.inboxPage)
}

// requirePage sends anonymous visitors to the login page.
func (s *Server) requirePage(c *gin.Context) {
	if agent(c) == nil {
		c.Redirect(http.StatusSeeOther, "/login")
		c.Abort()
	}
}

func (s *Server) render(c *gin.Context, status int, name string, d pageData) {
	if a := agent(c); a != nil {
		d.Agent = a
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

func (s *Server) loginPage(c *gin.Context) {
	if agent(c) != nil {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	s.render(c, http.StatusOK, "login.html", pageData{Title: translate("login.title")})
}

func (s *Server) inboxPage(c *gin.Context) {
	s.render(c, http.StatusOK, "inbox.html", pageData{Title: translate("inbox.title")})
}
