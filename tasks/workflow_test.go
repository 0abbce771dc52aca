package tasks

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tickets"
)

var seq atomic.Int64

// fixture is a tickets service wired to a real asynq worker on the package's Redis.
type fixture struct {
	t      *testing.T
	svc    *tickets.Service
	client *Client
	admin  *tickets.Agent
}

// newFixture starts a worker (not the periodic scheduler) that runs until the test ends.
func newFixture(t *testing.T, worker bool) *fixture {
	t.Helper()
	svc := tickets.NewService(testenv.DB(t))
	client := NewClient(testenv.Asynq(t))
	t.Cleanup(func() { client.Close() })
	client.Redis().FlushDB(t.Context())
	svc.Scheduler = &Scheduler{Client: client, DueLead: time.Hour}
	f := &fixture{t: t, svc: svc, client: client}
	f.admin = f.agent(tickets.RoleAdmin)
	if worker {
		w := NewWorker(testenv.Asynq(t), slog.New(slog.DiscardHandler))
		Register(w, Deps{Tickets: svc, Client: client, Log: slog.New(slog.DiscardHandler), DueLead: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { w.RunWorker(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return f
}

func (f *fixture) agent(role string) *tickets.Agent {
	f.t.Helper()
	n := seq.Add(1)
	a, err := f.svc.CreateAgent(f.t.Context(), tickets.NewAgent{Email: fmt.Sprintf("tasks%d@example.com", n),
		Name: fmt.Sprintf("Agent %d", n), Password: "correct horse battery", Role: role})
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

// channel creates a tasks channel with the given members.
func (f *fixture) channel(members ...int64) int64 {
	f.t.Helper()
	name, kind := fmt.Sprintf("Tasks %d", seq.Add(1)), tickets.ChannelTasks
	ms := []tickets.ChannelMember{}
	for _, id := range members {
		ms = append(ms, tickets.ChannelMember{AgentID: id, Role: tickets.MemberRole})
	}
	ch, err := f.svc.CreateChannel(f.t.Context(), f.admin, tickets.ChannelInput{Name: &name, Kind: &kind, Members: &ms})
	if err != nil {
		f.t.Fatal(err)
	}
	return ch.ID
}

func (f *fixture) ticket(a *tickets.Agent, channelID int64, in tickets.NewTask) *tickets.Ticket {
	f.t.Helper()
	in.ChannelID = channelID
	if in.Subject == "" {
		in.Subject = fmt.Sprintf("Task %d", seq.Add(1))
	}
	if in.AssigneeID == nil {
		in.AssigneeID = &a.ID
	}
	tk, err := f.svc.CreateTask(f.t.Context(), a, in)
	if err != nil {
		f.t.Fatal(err)
	}
	return tk
}

func (f *fixture) reload(id int64) *tickets.Ticket {
	f.t.Helper()
	var t tickets.Ticket
	if err := f.svc.DB.Take(&t, id).Error; err != nil {
		f.t.Fatal(err)
	}
	return &t
}

func (f *fixture) notifications(agentID, ticketID int64, kind string) int64 {
	var n int64
	f.svc.DB.Model(&tickets.Notification{}).Where("agent_id = ? AND ticket_id = ? AND kind = ?", agentID, ticketID, kind).Count(&n)
	return n
}

// eventually polls cond for up to 60 s (asynq moves scheduled tasks every few
// seconds); it does not measure time, only waits for an outcome.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
