package web

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

// Contacts: search and a contact's page (identities, tickets on every channel the
// agent sees, merge). contacts.js reads GET /api/v1/contacts[/{id}] and merges with
// POST /api/v1/contacts/{id}/merge, so visibility and merge rules stay in the domain.

func (s *Server) registerContacts(g *gin.RouterGroup) {
	g.GET("/contacts", s.contactsPage)
	g.GET("/contacts/:id", s.contactsPage)
}

func (s *Server) contactsPage(c *gin.Context) {
	var id int64
	if p := c.Param("id"); p != "" {
		var err error
		if id, err = strconv.ParseInt(p, 10, 64); err != nil || id <= 0 {
			s.pageError(c, tickets.ErrNotFound)
			return
		}
	}
	s.render(c, http.StatusOK, "contacts.html", pageData{Title: translate("contacts.title"), Nav: "contacts",
		Data: map[string]any{"ID": id, "Q": c.Query("q")}, Scripts: []string{"js/contacts.js"}})
}
