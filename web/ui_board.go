package web

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

// The task board: the server renders the page and its columns; board.js fills the
// cards from GET /api/v1/channels/{id}/board and moves them with PATCH
// /api/v1/tickets/{id} (status and position), so ordering rules stay in the domain.

func (s *Server) registerBoard(g *gin.RouterGroup) {
	g.GET("/board", s.boardPage)
	g.GET("/board/:id", s.boardPage)
}

type boardData struct {
	Channels []tickets.Channel // the task channels the agent sees
	Channel  *tickets.Channel
	Columns  []string
}

func (s *Server) boardPage(c *gin.Context) {
	ctx := c.Request.Context()
	a := agent(c)
	chs, err := s.tickets.Channels(ctx, a)
	if err != nil {
		s.pageError(c, err)
		return
	}
	d := &boardData{Columns: []string{tickets.StatusNew, tickets.StatusOpen, tickets.StatusPending,
		tickets.StatusResolved, tickets.StatusClosed}}
	for _, ch := range chs {
		if ch.Kind == "tasks" {
			d.Channels = append(d.Channels, ch)
		}
	}
	if c.Param("id") == "" {
		if len(d.Channels) > 0 {
			c.Redirect(http.StatusSeeOther, "/board/"+strconv.FormatInt(d.Channels[0].ID, 10))
			return
		}
	} else {
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil {
			s.pageError(c, tickets.ErrNotFound)
			return
		}
		if d.Channel, err = s.tickets.Channel(ctx, a, id); err != nil {
			s.pageError(c, err)
			return
		}
	}
	title := translate("board.title")
	if d.Channel != nil {
		title = d.Channel.Name
	}
	s.render(c, http.StatusOK, "board.html", pageData{Title: title, Nav: "board", Data: d,
		Scripts: []string{"vendor/Sortable.min.js", "js/board.js"}})
}
