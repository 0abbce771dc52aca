package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/tickets"
)

// Settings: every agent's profile; for admins also channels with members and
// assignment, mailboxes, templates and agents. The forms save through the JSON API
// (settings.js), so the rules live once in the domain.

func (s *Server) registerSettings(g *gin.RouterGroup) {
	g.GET("/settings", s.settingsPage)
}

type settingsChannel struct {
	tickets.Channel
	Members   map[int64]string // agent id → role
	Mailboxes []tickets.Mailbox
}

type settingsData struct {
	Me       *tickets.Agent
	Channels []settingsChannel
	Agents   []tickets.Agent
	Kinds    []string
	Modes    []string
}

func (s *Server) settingsPage(c *gin.Context) {
	ctx := c.Request.Context()
	a := agent(c)
	d := &settingsData{Me: a, Kinds: []string{"email", "chat", "tasks"},
		Modes: []string{"none", "default", "round_robin", "least_open"}}
	if a.IsAdmin() {
		chs, err := s.tickets.Channels(ctx, a)
		if err != nil {
			s.pageError(c, err)
			return
		}
		ids := make([]int64, len(chs))
		for i, ch := range chs {
			ids[i] = ch.ID
		}
		members, err := s.tickets.MembersOf(ctx, ids)
		if err != nil {
			s.pageError(c, err)
			return
		}
		for _, ch := range chs {
			sc := settingsChannel{Channel: ch, Members: map[int64]string{}}
			for _, m := range members[ch.ID] {
				sc.Members[m.AgentID] = m.Role
			}
			if sc.Mailboxes, err = s.tickets.Mailboxes(ctx, a, ch.ID); err != nil {
				s.pageError(c, err)
				return
			}
			d.Channels = append(d.Channels, sc)
		}
		if d.Agents, err = s.tickets.Agents(ctx); err != nil {
			s.pageError(c, err)
			return
		}
	}
	s.render(c, http.StatusOK, "settings.html", pageData{Title: translate("settings.title"), Nav: "settings", Data: d,
		Scripts: []string{"js/settings.js"}})
}
