package web

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/tickets"
)

// The web chat widget's endpoints. The widget runs on the customer's site, another
// origin: requests are "simple" (text/plain bodies, the visitor token in the body or
// query, no custom headers), so browsers send them without a preflight, and answers
// allow any origin. The token, an HMAC of the visitor id, is the credential; it is
// also set as a cookie for sites that embed the widget on our own domain.

// webchatSafetyPoll is how often a visitor's stream re-reads Postgres with no
// live event: the fallback for an event lost while Redis was away. Replies and
// presence changes normally arrive through the live pub/sub within milliseconds.
var webchatSafetyPoll = 30 * time.Second

func (s *Server) registerWebChat(e *gin.Engine) {
	e.GET("/widget.js", s.widgetScript)
	g := e.Group("/hooks/webchat/:connection_id", s.webchatCORS)
	g.POST("/session", s.webchatSession)
	g.GET("/messages", s.webchatHistory)
	g.POST("/messages", s.webchatPost)
	g.POST("/email", s.webchatEmail)
	g.GET("/events", s.webchatEvents)
}

func (s *Server) widgetScript(c *gin.Context) {
	b, err := fs.ReadFile(staticFS, "static/js/widget.js")
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "text/javascript; charset=utf-8", b)
}

func (s *Server) webchatCORS(c *gin.Context) {
	c.Header("Access-Control-Allow-Origin", "*")
	c.Next()
}

// webchatConn loads an enabled web chat connection.
func (s *Server) webchatConn(c *gin.Context) (*messengers.Conn, error) {
	if s.messengers == nil {
		return nil, tickets.ErrNotFound
	}
	id, err := pathID(c, "connection_id")
	if err != nil {
		return nil, err
	}
	conn, err := messengers.LoadConn(c.Request.Context(), s.tickets.DB, id)
	if err != nil {
		return nil, err
	}
	if conn.Provider != "webchat" || !conn.Enabled {
		return nil, tickets.ErrNotFound
	}
	return conn, nil
}

// visitor returns the visitor a request proves, from the token field, the token
// query parameter or the cookie.
func (s *Server) visitor(c *gin.Context, conn *messengers.Conn, token string) (string, error) {
	if token == "" {
		token = c.Query("token")
	}
	if token == "" {
		token, _ = c.Cookie(messengers.WebChatCookie(conn.ID))
	}
	v, err := messengers.VisitorFromToken(conn, token)
	if err != nil {
		return "", &httpError{status: http.StatusUnauthorized, code: "unauthorized", msg: "unknown visitor"}
	}
	return v, nil
}

// webchatWrite decodes a widget POST into req and returns the connection and the
// visitor the body's token proves.
func (s *Server) webchatWrite(c *gin.Context, req interface{ token() string }) (*messengers.Conn, string, error) {
	conn, err := s.webchatConn(c)
	if err != nil {
		return nil, "", err
	}
	if err := decode(c, req); err != nil {
		return nil, "", err
	}
	visitor, err := s.visitor(c, conn, req.token())
	return conn, visitor, err
}

// webchatRead returns the connection and the visitor of a widget GET (token in
// the query or the cookie).
func (s *Server) webchatRead(c *gin.Context) (*messengers.Conn, string, error) {
	conn, err := s.webchatConn(c)
	if err != nil {
		return nil, "", err
	}
	visitor, err := s.visitor(c, conn, "")
	return conn, visitor, err
}

type webchatSessionRequest struct {
	Token string `json:"token"`
}

func (s *Server) webchatSession(c *gin.Context) {
	conn, err := s.webchatConn(c)
	if err != nil {
		fail(c, err)
		return
	}
	var req webchatSessionRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	visitor, err := messengers.VisitorFromToken(conn, req.Token)
	if err != nil { // new visitor, or a token from another connection
		visitor = messengers.NewVisitorID()
	}
	token := messengers.VisitorToken(conn, visitor)
	online, err := messengers.AgentsOnline(c.Request.Context(), s.tickets.DB, conn.ChannelID)
	if err != nil {
		fail(c, err)
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: messengers.WebChatCookie(conn.ID), Value: token, Path: "/hooks/webchat/",
		MaxAge: 365 * 24 * 3600, HttpOnly: true, Secure: s.secureCookies(c.Request), SameSite: http.SameSiteLaxMode})
	ok(c, gin.H{"token": token, "visitor_id": visitor, "agents_online": online,
		"greeting": conn.Setting("greeting"), "title": conn.Name})
}

type webchatMessage struct {
	ID        int64     `json:"id"`
	From      string    `json:"from"` // visitor or agent
	Text      string    `json:"text"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

func webchatView(ms []tickets.Message) []webchatMessage {
	out := make([]webchatMessage, 0, len(ms))
	for _, m := range ms {
		from := "visitor"
		if m.Direction == tickets.DirectionOutbound {
			from = "agent"
		}
		out = append(out, webchatMessage{ID: m.ID, From: from, Text: m.BodyText, Status: m.Status, CreatedAt: m.CreatedAt})
	}
	return out
}

func (s *Server) webchatHistory(c *gin.Context) {
	conn, visitor, err := s.webchatRead(c)
	if err != nil {
		fail(c, err)
		return
	}
	after, _ := strconv.ParseInt(c.Query("after"), 10, 64)
	ms, err := messengers.VisitorMessages(c.Request.Context(), s.tickets.DB, conn, visitor, after)
	if err != nil {
		fail(c, err)
		return
	}
	ok(c, listOf(webchatView(ms), ""))
}

type webchatPostRequest struct {
	Token    string `json:"token"`
	Text     string `json:"text"`
	Name     string `json:"name"`
	ClientID string `json:"client_id"`
}

func (r *webchatPostRequest) token() string { return r.Token }

func (s *Server) webchatPost(c *gin.Context) {
	var req webchatPostRequest
	conn, visitor, err := s.webchatWrite(c, &req)
	if err != nil {
		fail(c, err)
		return
	}
	text := strings.TrimSpace(req.Text)
	var v tickets.Validator
	v.Check(text != "", "text", "is required")
	v.MaxLen(text, 4000, "text")
	v.MaxLen(req.Name, 100, "name")
	v.MaxLen(req.ClientID, 64, "client_id")
	if err := v.Err(); err != nil {
		fail(c, err)
		return
	}
	// client_id lets the widget retry a post without doubling it.
	pid := visitor + ":" + req.ClientID
	if req.ClientID == "" {
		pid = visitor + ":" + fmt.Sprint(time.Now().UnixNano())
	}
	in := messengers.Inbound{ProviderMessageID: pid, Text: text,
		From: messengers.Identity{Kind: "webchat", Value: visitor, DisplayName: strings.TrimSpace(req.Name)}}
	a, _ := s.messengers.Registry.Get("webchat")
	got, err := s.messengers.Receive(c.Request.Context(), conn, a, in)
	if err != nil {
		fail(c, err)
		return
	}
	if got.Duplicate {
		c.JSON(http.StatusOK, gin.H{"duplicate": true})
		return
	}
	created(c, webchatView([]tickets.Message{*got.Message})[0])
}

type webchatEmailRequest struct {
	Token string `json:"token"`
	Email string `json:"email"`
}

func (r *webchatEmailRequest) token() string { return r.Token }

func (s *Server) webchatEmail(c *gin.Context) {
	var req webchatEmailRequest
	conn, visitor, err := s.webchatWrite(c, &req)
	if err != nil {
		fail(c, err)
		return
	}
	if err := s.messengers.SetVisitorEmail(c.Request.Context(), conn, visitor, req.Email); err != nil {
		fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// webchatEvents streams new messages of the visitor's conversations as
// server-sent events, and the agents' availability when it changes. Postgres is
// the source: the stream reads what is new after the last id the widget saw (its
// Last-Event-ID on a reconnect) and then sleeps until a live event (web/live.go,
// published through Redis by whichever process sent the reply) concerns one of
// the visitor's conversations or an agent's status, or until the safety poll.
func (s *Server) webchatEvents(c *gin.Context) {
	conn, visitor, err := s.webchatRead(c)
	if err != nil {
		fail(c, err)
		return
	}
	after, _ := strconv.ParseInt(c.Query("after"), 10, 64)
	if id, err := strconv.ParseInt(c.GetHeader("Last-Event-ID"), 10, 64); err == nil && id > after {
		after = id
	}
	ctx := c.Request.Context()
	// Subscribe before the first read, so a reply sent in between wakes the stream.
	mine := &idSet{}
	sub := s.live.watch(func(ev tickets.LiveEvent) bool {
		return mine.has(ev.TicketID) || ev.Kind == "agent.status" ||
			(ev.Kind == "ticket.created" && ev.ChannelID == conn.ChannelID) // perhaps the visitor's new conversation
	})
	defer s.live.unsubscribe(sub)
	s.webchatTickets(ctx, conn, visitor, mine)

	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	c.Writer.WriteHeaderNow()
	c.Writer.Flush()
	online := -1
	safety := time.NewTicker(webchatSafetyPoll)
	defer safety.Stop()
	for {
		after = s.webchatSend(c, conn, visitor, after)
		if on, err := messengers.AgentsOnline(ctx, s.tickets.DB, conn.ChannelID); err == nil && boolNum(on) != online {
			online = boolNum(on)
			c.SSEvent("presence", gin.H{"agents_online": on})
		}
		c.Writer.Flush()
		select {
		case <-ctx.Done():
			return
		case <-s.live.closed:
			return
		case ev := <-sub.ch:
			if ev.Kind == "ticket.created" {
				s.webchatTickets(ctx, conn, visitor, mine)
			}
		case <-safety.C:
			s.webchatTickets(ctx, conn, visitor, mine)
			fmt.Fprint(c.Writer, ": keep-alive\n\n")
		}
	}
}

// webchatSend writes the visitor's messages after id after as events, marks the
// agents' replies among them delivered, and returns the last id written.
func (s *Server) webchatSend(c *gin.Context, conn *messengers.Conn, visitor string, after int64) int64 {
	ctx := c.Request.Context()
	ms, err := messengers.VisitorMessages(ctx, s.tickets.DB, conn, visitor, after)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("webchat stream", "connection_id", conn.ID, "err", err)
	}
	var delivered []int64
	for _, m := range webchatView(ms) {
		c.SSEvent("message", m)
		fmt.Fprintf(c.Writer, "id: %d\n\n", m.ID)
		after = m.ID
		if m.From == "agent" && m.Status == tickets.MessageSent {
			delivered = append(delivered, m.ID)
		}
	}
	if err := messengers.MarkDelivered(ctx, s.tickets.DB, delivered); err != nil && ctx.Err() == nil {
		s.log.Warn("webchat delivered", "err", err)
	}
	return after
}

// webchatTickets refreshes the set of the visitor's conversations.
func (s *Server) webchatTickets(ctx context.Context, conn *messengers.Conn, visitor string, mine *idSet) {
	ids, err := messengers.VisitorTickets(ctx, s.tickets.DB, conn, visitor)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("webchat tickets", "connection_id", conn.ID, "err", err)
		}
		return
	}
	mine.set(ids)
}

func boolNum(b bool) int {
	if b {
		return 1
	}
	return 0
}
