package web

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/tickets"
)

// Settings: every agent's profile; for admins also channels with members and
// assignment, mailboxes, messenger connections, templates and agents. The forms save through the JSON API
// (settings.js), so the rules live once in the domain.

func (s *Server) registerSettings(g *gin.RouterGroup) {
	g.GET("/settings", s.settingsPage)
}

type settingsChannel struct {
	tickets.Channel
	Members   map[int64]string // agent id → role
	Mailboxes []tickets.Mailbox
	// Messengers show credentials by name only (messengerView): the page never
	// holds a secret.
	Messengers []messengerView
}

type settingsData struct {
	Me       *tickets.Agent
	Channels []settingsChannel
	Agents   []tickets.Agent
	Kinds    []string
	Modes    []string
	// Providers and their credential names drive the messenger form.
	Providers   []string
	Credentials map[string][]string
}

func (s *Server) settingsPage(c *gin.Context) {
	ctx := c.Request.Context()
	a := agent(c)
	d := &settingsData{Me: a, Kinds: []string{"email", "chat", "tasks"},
		Modes:     []string{"none", "default", "round_robin", "least_open"},
		Providers: tickets.MessengerProviders, Credentials: messengers.ProviderCredentials}
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
			if sc.Messengers, err = s.messengerViews(ctx, a, ch.ID); err != nil {
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

// Setting is a string setting of the connection, for the edit form.
func (v messengerView) Setting(key string) string {
	s, _ := v.Settings[key].(string)
	return s
}

// MenuJSON is the first-message menu as the edit form shows it ("" when none).
func (v messengerView) MenuJSON() string {
	m, ok := v.Settings["menu"]
	if !ok || m == nil {
		return ""
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return ""
	}
	return string(b)
}

// BaseJSON is what the edit form starts its PATCH from: the stored settings, so
// settings the form does not show (reopen_days, api_version) survive a save.
func (v messengerView) BaseJSON() string {
	b, _ := json.Marshal(map[string]any{"settings": v.Settings})
	return string(b)
}
