package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/postdesk/postdesk/tickets"
)

// Live is the one publish point for live updates. It implements tickets.Publisher
// by PUBLISHing to one Redis channel, so an event raised in any process (a worker
// ingesting mail, another web process handling a PATCH) reaches the SSE streams of
// every web process. Each web process holds one Redis subscription, opened while at
// least one browser is listening, and fans events out to its local streams.
type Live struct {
	rdb redis.UniversalClient
	log *slog.Logger

	mu     sync.Mutex
	subs   map[*liveSub]struct{}
	cancel context.CancelFunc // stops the Redis subscription; nil when not running
	closed chan struct{}
	once   sync.Once
}

// liveTopic is the Redis pub/sub channel all processes share. Pub/sub ignores
// Redis database numbers, so tests give each test process a topic of its own.
var liveTopic = "postdesk:live"

// Live event kinds beyond those the domain raises.
const (
	LivePresence     = "presence"
	LiveNotification = "notification"
)

// NewLive returns a publisher and fan-out hub on rdb.
func NewLive(rdb redis.UniversalClient, log *slog.Logger) *Live {
	if log == nil {
		log = slog.Default()
	}
	return &Live{rdb: rdb, log: log, subs: map[*liveSub]struct{}{}, closed: make(chan struct{})}
}

// Publish implements tickets.Publisher. A lost event only delays a browser's view
// until its next refresh, so errors are logged, not returned.
func (l *Live) Publish(ctx context.Context, ev tickets.LiveEvent) {
	b, err := json.Marshal(ev)
	if err != nil {
		l.log.Error("live: encode event", "kind", ev.Kind, "err", err)
		return
	}
	if err := l.rdb.Publish(ctx, liveTopic, b).Err(); err != nil {
		l.log.Warn("live: publish", "kind", ev.Kind, "ticket_id", ev.TicketID, "err", err)
	}
}

// Close ends every open stream (on shutdown, so graceful HTTP shutdown is not held
// up by browsers that never hang up).
func (l *Live) Close() {
	l.once.Do(func() { close(l.closed) })
}

// liveSub is one browser's stream: an agent's, or a web chat visitor's.
type liveSub struct {
	agent *tickets.Agent
	// match, when set, replaces the agent's visibility rules (a web chat
	// visitor's stream wakes on events of their own conversations). It runs under
	// Live.mu, so it must be quick and must not call Live.
	match func(tickets.LiveEvent) bool
	ch    chan tickets.LiveEvent
	seen  idSet // channel ids the agent may see
}

func (s *liveSub) sees(ev tickets.LiveEvent) bool {
	if s.match != nil {
		return s.match(ev)
	}
	// Notifications are personal, whatever channel they concern.
	if ev.Kind == LiveNotification {
		return ev.AgentID == s.agent.ID
	}
	if ev.ChannelID != 0 {
		if s.agent.IsAdmin() {
			return true
		}
		return s.seen.has(ev.ChannelID)
	}
	if ev.AgentID != 0 {
		return ev.AgentID == s.agent.ID
	}
	return true
}

func (s *liveSub) setChannels(ids []int64) { s.seen.set(ids) }

// idSet is a set of ids read by the live dispatcher and replaced by a stream.
type idSet struct {
	mu  sync.RWMutex
	ids map[int64]bool
}

func (s *idSet) has(id int64) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return id != 0 && s.ids[id]
}

func (s *idSet) set(ids []int64) {
	m := make(map[int64]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	s.mu.Lock()
	s.ids = m
	s.mu.Unlock()
}

func (l *Live) subscribe(a *tickets.Agent) *liveSub {
	return l.add(&liveSub{agent: a, ch: make(chan tickets.LiveEvent, 64)})
}

// watch opens a stream of the events match accepts. Its events only wake the
// reader, which re-reads Postgres, so a small buffer is enough: when it is full a
// wake-up is already pending.
func (l *Live) watch(match func(tickets.LiveEvent) bool) *liveSub {
	return l.add(&liveSub{match: match, ch: make(chan tickets.LiveEvent, 4)})
}

func (l *Live) add(s *liveSub) *liveSub {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.subs[s] = struct{}{}
	if l.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		l.cancel = cancel
		ready := make(chan struct{})
		go l.run(ctx, ready)
		// Wait for Redis to confirm the subscription, so an event published right
		// after the stream opens is not missed.
		select {
		case <-ready:
		case <-time.After(2 * time.Second):
		}
	}
	return s
}

func (l *Live) unsubscribe(s *liveSub) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.subs, s)
	if len(l.subs) == 0 && l.cancel != nil {
		l.cancel()
		l.cancel = nil
	}
}

// run holds the Redis subscription until ctx ends, resubscribing after errors.
func (l *Live) run(ctx context.Context, ready chan struct{}) {
	signalled := false
	for ctx.Err() == nil {
		ps := l.rdb.Subscribe(ctx, liveTopic)
		if _, err := ps.Receive(ctx); err != nil {
			ps.Close()
			if ctx.Err() == nil {
				l.log.Warn("live: subscribe", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			continue
		}
		if !signalled {
			close(ready)
			signalled = true
		}
		for ctx.Err() == nil {
			msg, err := ps.ReceiveMessage(ctx)
			if err != nil {
				if ctx.Err() == nil {
					l.log.Warn("live: receive", "err", err)
				}
				break
			}
			var ev tickets.LiveEvent
			if err := json.Unmarshal([]byte(msg.Payload), &ev); err != nil {
				l.log.Warn("live: decode", "err", err)
				continue
			}
			l.dispatch(ev)
		}
		ps.Close()
	}
}

func (l *Live) dispatch(ev tickets.LiveEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := range l.subs {
		if !s.sees(ev) {
			continue
		}
		select {
		case s.ch <- ev:
		default: // a stalled browser drops events rather than blocking everyone
		}
	}
}

// How often a stream re-reads the agent's channels (membership changes) and sends
// a keep-alive comment through proxies.
const (
	liveRefresh   = 30 * time.Second
	liveKeepAlive = 25 * time.Second
)

// eventStream is GET /api/v1/events/stream: Server-Sent Events of the live events
// the caller may see.
func (s *Server) eventStream(c *gin.Context) {
	a := agent(c)
	ctx := c.Request.Context()
	ids, err := s.tickets.VisibleChannelIDs(ctx, a)
	if err != nil {
		fail(c, err)
		return
	}
	sub := s.live.subscribe(a)
	defer s.live.unsubscribe(sub)
	sub.setChannels(ids)

	w := c.Writer
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 3000\n: connected\n\n")
	w.Flush()

	refresh := time.NewTicker(liveRefresh)
	defer refresh.Stop()
	keep := time.NewTicker(liveKeepAlive)
	defer keep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.live.closed:
			return
		case <-refresh.C:
			if ids, err := s.tickets.VisibleChannelIDs(ctx, a); err == nil {
				sub.setChannels(ids)
			}
		case <-keep.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			w.Flush()
		case ev := <-sub.ch:
			b, err := json.Marshal(ev)
			if err != nil {
				continue
			}
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Kind, b)
			w.Flush()
		}
	}
}

// Presence: who is looking at or answering a ticket. Each browser re-announces
// itself while the ticket is open; an entry expires presenceTTL after the last
// announcement, so a closed tab disappears on its own.
const presenceTTL = 30 * time.Second

type presenceRequest struct {
	State string `json:"state"`
}

type presenceEntry struct {
	AgentID   int64     `json:"agent_id"`
	Name      string    `json:"name"`
	State     string    `json:"state"`
	ExpiresAt time.Time `json:"expires_at"`
}

func presenceKey(ticketID int64) string { return "presence:" + strconv.FormatInt(ticketID, 10) }

// presence is POST /api/v1/tickets/{id}/presence {state: viewing|replying|left}. It
// returns the other agents present on the ticket.
func (s *Server) presence(c *gin.Context) {
	id, err := pathID(c, "id")
	if err != nil {
		fail(c, err)
		return
	}
	var req presenceRequest
	if err := decode(c, &req); err != nil {
		fail(c, err)
		return
	}
	if !slices.Contains([]string{"viewing", "replying", "left"}, req.State) {
		fail(c, tickets.Invalid("state", "must be viewing, replying or left"))
		return
	}
	ctx := c.Request.Context()
	a := agent(c)
	t, err := s.tickets.VisibleTicket(ctx, a, id)
	if err != nil {
		fail(c, err)
		return
	}
	key := presenceKey(t.ID)
	field := strconv.FormatInt(a.ID, 10)
	now := time.Now().UTC()
	rdb := s.tasks.Redis()
	if req.State == "left" {
		err = rdb.HDel(ctx, key, field).Err()
	} else {
		b, _ := json.Marshal(presenceEntry{AgentID: a.ID, Name: a.Name, State: req.State, ExpiresAt: now.Add(presenceTTL)})
		pipe := rdb.TxPipeline()
		pipe.HSet(ctx, key, field, b)
		pipe.Expire(ctx, key, 2*presenceTTL)
		_, err = pipe.Exec(ctx)
	}
	if err != nil {
		fail(c, fmt.Errorf("presence on ticket %d: %w", t.ID, err))
		return
	}
	others, err := s.presentOn(ctx, t.ID, a.ID, now)
	if err != nil {
		fail(c, err)
		return
	}
	s.live.Publish(ctx, tickets.LiveEvent{Kind: LivePresence, ChannelID: t.ChannelID, TicketID: t.ID, AgentID: a.ID,
		Data: map[string]any{"state": req.State, "name": a.Name}})
	ok(c, listOf(others, ""))
}

// presentOn lists the unexpired presence entries of a ticket, except agent self.
func (s *Server) presentOn(ctx context.Context, ticketID, self int64, now time.Time) ([]presenceEntry, error) {
	all, err := s.tasks.Redis().HGetAll(ctx, presenceKey(ticketID)).Result()
	if err != nil {
		return nil, fmt.Errorf("presence on ticket %d: %w", ticketID, err)
	}
	out := []presenceEntry{}
	for _, v := range all {
		var e presenceEntry
		if json.NewDecoder(strings.NewReader(v)).Decode(&e) != nil || e.AgentID == self || e.ExpiresAt.Before(now) {
			continue
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b presenceEntry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (s *Server) registerLive(g *gin.RouterGroup) {
	g.GET("/events/stream", s.eventStream)
	g.POST("/tickets/:id/presence", s.presence)
}
