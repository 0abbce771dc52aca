package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/tickets"
)

type messengerRequest struct {
	Provider    Opt[string]             `json:"provider"`
	Name        Opt[string]             `json:"name"`
	Credentials Opt[map[string]*string] `json:"credentials"`
	APIBaseURL  Opt[string]             `json:"api_base_url"`
	Settings    Opt[tickets.JSONMap]    `json:"settings"`
	Enabled     Opt[bool]               `json:"enabled"`
}

func (r *messengerRequest) input() tickets.MessengerConnectionInput {
	in := tickets.MessengerConnectionInput{Provider: r.Provider.Ptr(), Name: r.Name.Ptr(),
		APIBaseURL: r.APIBaseURL.Ptr(), Settings: r.Settings.Ptr(), Enabled: r.Enabled.Ptr()}
	if p := r.Credentials.Ptr(); p != nil {
		in.Credentials = *p
	}
	return in
}

// messengerView is a connection as the API shows it: credentials by name only.
type messengerView struct {
	*tickets.MessengerConnection
	CredentialsSet []string `json:"credentials_set"`
	WebhookURL     string   `json:"webhook_url"`
	// EmbedCode is the web chat's <script> tag for the site owner's pages.
	EmbedCode string `json:"embed_code,omitempty"`
}

func (s *Server) messengerView(mc *tickets.MessengerConnection) messengerView {
	base := strings.TrimRight(s.cfg.BaseURL, "/")
	v := messengerView{MessengerConnection: mc, CredentialsSet: mc.CredentialKeys(),
		WebhookURL: base + "/hooks/" + mc.Provider + "/" + itoa(int(mc.ID))}
	if mc.Provider == "webchat" {
		v.EmbedCode = `<script src="` + base + `/widget.js" data-connection="` + itoa(int(mc.ID)) + `" async></script>`
	}
	return v
}

func (s *Server) registerMessengers(g *gin.RouterGroup) {
	g.GET("/channels/:id/messengers", s.listMessengers)
	g.POST("/channels/:id/messengers", s.createMessenger)
	g.GET("/channels/:id/messengers/:connection_id", s.getMessenger)
	g.PATCH("/channels/:id/messengers/:connection_id", s.updateMessenger)
	g.DELETE("/channels/:id/messengers/:connection_id", s.deleteMessenger)
	g.POST("/channels/:id/messengers/:connection_id/webhook", s.registerMessengerWebhook)
	g.GET("/tickets/:id/messenger", s.ticketMessenger)
}

// ticketMessenger tells the composer how a ticket's replies leave: through which
// connection, and whether WhatsApp's 24-hour window still allows free text (when
// not, the composer offers the provider's approved templates in a picker).
func (s *Server) ticketMessenger(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	ctx := c.Request.Context()
	t, err := s.tickets.VisibleTicket(ctx, agent(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	if t.MessengerConnectionID == nil {
		fail(c, tickets.ErrNotFound)
		return
	}
	conn, err := messengers.LoadConn(ctx, s.tickets.DB, *t.MessengerConnectionID)
	if err != nil {
		fail(c, err)
		return
	}
	out := gin.H{"connection_id": conn.ID, "provider": conn.Provider, "name": conn.Name,
		"template_required": false, "window_closes_at": nil}
	if conn.Provider == "whatsapp" {
		var last *time.Time
		s.tickets.DB.WithContext(ctx).Model(&tickets.Message{}).Select("max(created_at)").
			Where("ticket_id = ? AND messenger_connection_id = ? AND direction = ?", t.ID, conn.ID,
				tickets.DirectionInbound).Scan(&last)
		closes := time.Time{}
		if last != nil {
			closes = last.Add(tickets.CustomerServiceWindow).UTC()
			out["window_closes_at"] = closes
		}
		out["template_required"] = !closes.After(time.Now())
		if out["template_required"] == true {
			out["templates"], out["templates_error"] = s.approvedTemplates(ctx, conn)
		}
	}
	ok(c, out)
}

// approvedTemplates asks the provider for the templates the picker offers. A
// provider that cannot list them (no business account id, an outage) leaves the
// picker empty with the reason, rather than failing the composer.
func (s *Server) approvedTemplates(ctx context.Context, conn *messengers.Conn) ([]messengers.ApprovedTemplate, string) {
	if s.messengers == nil {
		return []messengers.ApprovedTemplate{}, "this server runs without messenger adapters"
	}
	a, err := s.messengers.Registry.Get(conn.Provider)
	if err != nil {
		return []messengers.ApprovedTemplate{}, err.Error()
	}
	l, isLister := a.(messengers.TemplateLister)
	if !isLister {
		return []messengers.ApprovedTemplate{}, "this provider does not list templates"
	}
	out, err := l.Templates(ctx, conn)
	if err != nil {
		s.log.Warn("messenger templates", "connection_id", conn.ID, "err", err)
		return []messengers.ApprovedTemplate{}, err.Error()
	}
	return out, ""
}

// registerMessengerWebhook tells the provider where to post (Telegram setWebhook,
// Viber set_webhook) and stores what it generated (Telegram's secret token).
func (s *Server) registerMessengerWebhook(c *gin.Context) {
	id, cid, err := messengerPath(c)
	if err != nil {
		fail(c, err)
		return
	}
	ctx := c.Request.Context()
	if err := s.tickets.CanManageChannel(ctx, agent(c), id); err != nil {
		fail(c, err)
		return
	}
	mc, err := s.tickets.MessengerConnection(ctx, agent(c), id, cid)
	if err != nil {
		fail(c, err)
		return
	}
	if s.messengers == nil {
		fail(c, tickets.ErrNotFound)
		return
	}
	a, err := s.messengers.Registry.Get(mc.Provider)
	if err != nil {
		fail(c, err)
		return
	}
	reg, isReg := a.(messengers.Registrar)
	if !isReg {
		fail(c, tickets.Invalid("provider", "this provider's webhook is set in its own console: use webhook_url"))
		return
	}
	conn, err := messengers.LoadConn(ctx, s.tickets.DB, cid)
	if err != nil {
		fail(c, err)
		return
	}
	creds, err := reg.RegisterWebhook(ctx, conn, s.messengerView(mc).WebhookURL)
	if err != nil {
		abortJSON(c, http.StatusBadGateway, "provider_error", err.Error(), nil)
		return
	}
	in := tickets.MessengerConnectionInput{Credentials: map[string]*string{}}
	for k, v := range creds {
		in.Credentials[k] = &v
	}
	mc, err = s.tickets.UpdateMessengerConnection(ctx, agent(c), id, cid, in)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, s.messengerView(mc))
}

func (s *Server) listMessengers(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	views, err := s.messengerViews(c.Request.Context(), agent(c), id)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, listOf(views, ""))
}

// messengerViews lists a channel's connections as the API and the settings page
// show them.
func (s *Server) messengerViews(ctx context.Context, a *tickets.Agent, channelID int64) ([]messengerView, error) {
	out, err := s.tickets.MessengerConnections(ctx, a, channelID)
	if err != nil {
		return nil, err
	}
	views := make([]messengerView, len(out))
	for i := range out {
		views[i] = s.messengerView(&out[i])
	}
	return views, nil
}

func (s *Server) createMessenger(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var req messengerRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	mc, err := s.tickets.CreateMessengerConnection(c.Request.Context(), agent(c), id, req.input())
	if err != nil {
		fail(c, err)
		return
	}
	created(c, s.messengerView(mc))
}

func (s *Server) getMessenger(c *gin.Context) {
	id, cid, err := messengerPath(c)
	if err != nil {
		fail(c, err)
		return
	}
	mc, err := s.tickets.MessengerConnection(c.Request.Context(), agent(c), id, cid)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, s.messengerView(mc))
}

func (s *Server) updateMessenger(c *gin.Context) {
	id, cid, err := messengerPath(c)
	if err != nil {
		fail(c, err)
		return
	}
	var req messengerRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	mc, err := s.tickets.UpdateMessengerConnection(c.Request.Context(), agent(c), id, cid, req.input())
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, s.messengerView(mc))
}

func (s *Server) deleteMessenger(c *gin.Context) {
	id, cid, err := messengerPath(c)
	if err != nil {
		fail(c, err)
		return
	}
	if err := s.tickets.DeleteMessengerConnection(c.Request.Context(), agent(c), id, cid); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func messengerPath(c *gin.Context) (int64, int64, error) {
	id, err := pathID(c, "id")
	if err != nil {
		return 0, 0, err
	}
	cid, err := pathID(c, "connection_id")
	return id, cid, err
}
