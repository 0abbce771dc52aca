package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/postdesk/postdesk/internal/testenv"
	pdmail "github.com/postdesk/postdesk/mail"
	"github.com/postdesk/postdesk/tickets"
)

// mailFixture is the workflow fixture with notification mail queued through asynq
// and a worker delivering it to a real SMTP sink as the default relay.
type mailFixture struct {
	*fixture
	sink   *testenv.SMTPSink
	mailer *NotifyMailer
}

func newMailFixture(t *testing.T) *mailFixture {
	f := &mailFixture{fixture: newFixture(t, false), sink: testenv.NewSMTPSink(t, testenv.SinkOptions{})}
	f.svc.Mailer = &NotifyMailQueue{Client: f.client}
	log := slog.New(slog.DiscardHandler)
	deps := Deps{Tickets: f.svc, Client: f.client, Log: log, DueLead: time.Hour, Send: SendConfig{
		DefaultRelay: pdmail.Relay{Host: f.sink.Host, Port: f.sink.Port, Security: "plain"},
		BaseURL:      "http://desk.test", Hostname: "desk.test", NotifyFrom: "Flower Desk <desk@flowers.test>"}}
	f.mailer = &NotifyMailer{Tickets: f.svc, Log: log, Sender: &Sender{Tickets: f.svc, Config: deps.Send, Log: log}}
	w := NewWorker(testenv.Asynq(t), log)
	w.RetryDelay = func(int, error, *asynq.Task) time.Duration { return 300 * time.Millisecond }
	Register(w, deps)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.RunWorker(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// assign gives ticket id to agent to, as the PATCH does.
func (f *mailFixture) assign(id int64, to *tickets.Agent) {
	f.t.Helper()
	ref := &to.ID
	if _, err := f.svc.UpdateTicket(f.t.Context(), f.admin, id, tickets.TicketChange{AssigneeID: &ref}); err != nil {
		f.t.Fatal(err)
	}
}

// notification returns the agent's only notification of kind on the ticket.
func (f *mailFixture) notification(agentID, ticketID int64, kind string) tickets.Notification {
	f.t.Helper()
	var n tickets.Notification
	err := f.svc.DB.Where("agent_id = ? AND ticket_id = ? AND kind = ?", agentID, ticketID, kind).Take(&n).Error
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// quietAgent is an agent who turned notification mail off.
func (f *mailFixture) quietAgent() *tickets.Agent {
	f.t.Helper()
	a, off := f.agent(tickets.RoleAgent), false
	if _, err := f.svc.UpdateProfile(f.t.Context(), a, tickets.ProfileChange{NotifyEmail: &off}); err != nil {
		f.t.Fatal(err)
	}
	return a
}

func (f *mailFixture) emailStatus(id int64) string {
	var s *string
	f.svc.DB.Raw(`SELECT email_status FROM notifications WHERE id = ?`, id).Scan(&s)
	if s == nil {
		return ""
	}
	return *s
}

func TestNotificationMailOnlyForAgentsWhoAsked(t *testing.T) {
	f := newMailFixture(t)
	keen := f.agent(tickets.RoleAgent) // notification mail is on for new agents
	quiet := f.quietAgent()
	ch := f.channel(keen.ID, quiet.ID)
	tk := f.ticket(f.admin, ch, tickets.NewTask{Subject: "Order tulips for Friday", AssigneeID: &quiet.ID})
	f.assign(tk.ID, keen)
	msgs := f.sink.WaitFor(1, 30*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("sink got %d mails, want 1", len(msgs))
	}
	m := msgs[0]
	if len(m.To) != 1 || m.To[0] != keen.Email || m.From != "desk@flowers.test" {
		t.Fatalf("envelope from %q to %v, want desk@flowers.test to %s", m.From, m.To, keen.Email)
	}
	body := string(m.Data)
	tk = f.reload(tk.ID)
	for _, want := range []string{"Subject: Assigned to you: [#", "] Order tulips for Friday",
		"Auto-Submitted: auto-generated", "http://desk.test/tickets/", f.admin.Name + " assigned ticket #"} {
		if !strings.Contains(body, want) {
			t.Errorf("mail lacks %q:\n%s", want, body)
		}
	}
	n := f.notification(keen.ID, tk.ID, tickets.NotifyAssignment)
	eventually(t, "the copy recorded as sent", func() bool { return f.emailStatus(n.ID) == tickets.EmailSent })
	if q := f.notification(quiet.ID, tk.ID, tickets.NotifyAssignment); q.EmailStatus != nil {
		t.Fatalf("the agent who turned mail off has a copy %s", *q.EmailStatus)
	}

	// A rerun of the task (a lost acknowledgement, a retry) and a sweep send nothing more.
	payload, _ := json.Marshal(notifyMailPayload{NotificationID: n.ID})
	if err := f.mailer.Handle(t.Context(), asynq.NewTask(TypeNotifyMail, payload)); err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if queued, err := SweepNotifyMail(t.Context(), f.svc, f.svc.Mailer); err != nil || queued != 0 {
		t.Fatalf("sweep queued %d (%v)", queued, err)
	}
	if got := len(f.sink.Messages()); got != 1 {
		t.Fatalf("sink got %d mails after the rerun, want 1", got)
	}
}

func TestNotificationMailRetriesWithoutDuplicates(t *testing.T) {
	f := newMailFixture(t)
	keen, quiet := f.agent(tickets.RoleAgent), f.quietAgent()
	ch := f.channel(keen.ID, quiet.ID)
	// The relay greylists the first attempt: the task retries and one mail arrives.
	f.sink.DataReply = func(n int) error {
		if n == 1 {
			return testenv.SMTPReply(451, "greylisted, come back later")
		}
		return nil
	}
	tk := f.ticket(f.admin, ch, tickets.NewTask{Subject: "Check the cold room", AssigneeID: &quiet.ID})
	f.assign(tk.ID, keen)
	n := f.notification(keen.ID, tk.ID, tickets.NotifyAssignment)
	eventually(t, "the copy sent after a retry", func() bool { return f.emailStatus(n.ID) == tickets.EmailSent })
	if got, attempts := len(f.sink.Messages()), f.sink.Attempts(); got != 1 || attempts != 2 {
		t.Fatalf("sink got %d mails in %d attempts, want 1 in 2", got, attempts)
	}

	// Three runs of the same task at once (a retry racing a sweep): one mail more at most.
	tk2 := f.ticket(f.admin, ch, tickets.NewTask{Subject: "Water the ferns", AssigneeID: &quiet.ID})
	f.svc.Mailer = nil // queue nothing: only the runs below deliver
	f.assign(tk2.ID, keen)
	n2 := f.notification(keen.ID, tk2.ID, tickets.NotifyAssignment)
	f.sink.DataReply = func(int) error { time.Sleep(300 * time.Millisecond); return nil }
	payload, _ := json.Marshal(notifyMailPayload{NotificationID: n2.ID})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.mailer.Handle(context.Background(), asynq.NewTask(TypeNotifyMail, payload)); err != nil {
				t.Errorf("run: %v", err)
			}
		}()
	}
	wg.Wait()
	if got := len(f.sink.Messages()); got != 2 || f.emailStatus(n2.ID) != tickets.EmailSent {
		t.Fatalf("sink has %d mails (want 2), copy %q", got, f.emailStatus(n2.ID))
	}
}

// A bulk assignment is one mail listing every ticket, not a mail per ticket.
func TestNotificationMailBatchesWhatWaits(t *testing.T) {
	f := newMailFixture(t)
	keen, quiet := f.agent(tickets.RoleAgent), f.quietAgent()
	ch := f.channel(keen.ID, quiet.ID)
	var ids []int64
	for i := range 4 {
		tk := f.ticket(f.admin, ch, tickets.NewTask{Subject: fmt.Sprintf("Bouquet %d", i+1), AssigneeID: &quiet.ID})
		ids = append(ids, tk.ID)
	}
	ref := &keen.ID
	if _, err := f.svc.BulkUpdate(t.Context(), f.admin, ids, tickets.TicketChange{AssigneeID: &ref}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "all four copies sent", func() bool {
		var n int64
		f.svc.DB.Model(&tickets.Notification{}).Where("agent_id = ? AND email_status = 'sent'", keen.ID).Count(&n)
		return n == 4
	})
	msgs := f.sink.Messages()
	if len(msgs) != 1 {
		t.Fatalf("sink got %d mails for one bulk assignment, want 1", len(msgs))
	}
	body := string(msgs[0].Data)
	if !strings.Contains(body, "Subject: 4 notifications: Assigned to you: [#") {
		t.Errorf("digest subject:\n%s", body)
	}
	for i, id := range ids {
		for _, want := range []string{fmt.Sprintf("Bouquet %d", i+1), fmt.Sprintf("http://desk.test/tickets/%d", id)} {
			if !strings.Contains(body, want) {
				t.Errorf("digest lacks %q:\n%s", want, body)
			}
		}
	}
}

// A notification written in a transaction of the caller's own (mail ingest opens
// tickets so) is mailed once that transaction commits, not lost to a task that ran
// before the row was visible.
func TestNotificationMailFromOwnTransaction(t *testing.T) {
	f := newMailFixture(t)
	keen := f.agent(tickets.RoleAgent)
	ch := f.channel(keen.ID)
	if err := f.svc.SetMember(t.Context(), f.admin, ch, keen.ID, tickets.ResponsibleRole); err != nil {
		t.Fatal(err)
	}
	var tk *tickets.Ticket
	err := f.svc.DB.Transaction(func(tx *gorm.DB) error {
		var err error
		tk, err = f.svc.OpenTicket(t.Context(), tx, tickets.NewTicket{ChannelID: ch, Kind: tickets.KindTask,
			Subject: "Delivery van broke down"})
		if err != nil {
			return err
		}
		time.Sleep(time.Second) // commit late, as a busy ingest does
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := f.notification(keen.ID, tk.ID, tickets.NotifyNewTicket)
	eventually(t, "the new-ticket copy sent", func() bool { return f.emailStatus(n.ID) == tickets.EmailSent })
	msgs := f.sink.Messages()
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Data), "Subject: New ticket: [#") {
		t.Fatalf("sink got %d mails: %v", len(msgs), msgs)
	}
}

// Each kind of notification says in its subject and first line what happened.
func TestNotificationMailText(t *testing.T) {
	id := int64(7)
	for _, c := range []struct {
		kind        string
		data        tickets.JSONMap
		subject     string
		line, quote string
	}{
		{tickets.NotifyAssignment, tickets.JSONMap{"by_name": "Ben"}, "Assigned to you: [#42] Peonies", `Ben assigned ticket #42 "Peonies" to you.`, ""},
		{tickets.NotifyAssignment, tickets.JSONMap{"auto": true}, "Assigned to you: [#42] Peonies", `Ticket #42 "Peonies" was assigned to you.`, ""},
		{tickets.NotifyMention, tickets.JSONMap{"by_name": "Carla", "excerpt": "@anna can you call?\nThanks"},
			"You were mentioned: [#42] Peonies", `Carla mentioned you in a note on ticket #42 "Peonies":`, "> @anna can you call?\n> Thanks\n"},
		{tickets.NotifySnoozeWakeup, nil, "Back from snooze: [#42] Peonies", `Ticket #42 "Peonies" is back from snooze.`, ""},
		{tickets.NotifyDueReminder, tickets.JSONMap{"due_at": "2031-05-01T09:00:00Z"}, "Due soon: [#42] Peonies",
			`Ticket #42 "Peonies" is due on Thu 1 May 2031 at 09:00 UTC.`, ""},
		{tickets.NotifyDuePassed, tickets.JSONMap{"due_at": "2031-05-01T09:00:00Z"}, "Overdue: [#42] Peonies",
			`Ticket #42 "Peonies" was due on Thu 1 May 2031 at 09:00 UTC and is not done.`, ""},
		{tickets.NotifyNewTicket, nil, "New ticket: [#42] Peonies",
			`A new ticket arrived in a channel you are responsible for: #42 "Peonies".`, ""},
	} {
		t.Run(c.kind, func(t *testing.T) {
			n := &tickets.NotificationMail{Notification: tickets.Notification{ID: 1, Kind: c.kind, TicketID: &id, Data: c.data},
				AgentName: "Anna", TicketNumber: 42, TicketSubject: "Peonies"}
			if got := notificationSubject(n); got != c.subject {
				t.Errorf("subject %q, want %q", got, c.subject)
			}
			text := notificationText(n, "https://desk.example")
			for _, want := range []string{"Hello Anna,\n\n" + c.line, c.quote, "Open it: https://desk.example/tickets/7\n",
				"(https://desk.example/settings)"} {
				if !strings.Contains(text, want) {
					t.Errorf("text lacks %q:\n%s", want, text)
				}
			}
		})
	}
}

// Tasks of a burst fall due together and claim at once: one claim takes every
// waiting copy, the others find theirs taken, so the burst is one mail.
func TestNotificationMailClaimsTakeTurns(t *testing.T) {
	f := newMailFixture(t)
	f.svc.Mailer = nil // no tasks: the test claims as they would, all at once
	keen := f.agent(tickets.RoleAgent)
	ch := f.channel(keen.ID)
	tk := f.ticket(f.admin, ch, tickets.NewTask{Subject: "Burst", AssigneeID: &keen.ID})
	f.svc.DB.Exec(`UPDATE notifications SET email_status = 'sent' WHERE agent_id = ?`, keen.ID) // the assignment's
	for round := range 5 {
		var ids []int64
		for range 6 {
			n := tickets.Notification{AgentID: keen.ID, Kind: tickets.NotifyMention, TicketID: &tk.ID}
			if err := f.svc.Notify(t.Context(), nil, n); err != nil {
				t.Fatal(err)
			}
		}
		f.svc.DB.Raw(`SELECT id FROM notifications WHERE agent_id = ? AND email_status = 'pending' ORDER BY id`,
			keen.ID).Scan(&ids)
		if len(ids) != 6 {
			t.Fatalf("round %d: %d copies pending, want 6", round, len(ids))
		}
		var wg sync.WaitGroup
		sizes := make([]int, len(ids))
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b, err := f.svc.ClaimNotificationMail(context.Background(), id, time.Minute)
				if err != nil && !errors.Is(err, tickets.ErrNoMailToSend) {
					t.Error(err)
				}
				sizes[i] = len(b)
			}()
		}
		wg.Wait()
		slices.Sort(sizes)
		if fmt.Sprint(sizes) != "[0 0 0 0 0 6]" {
			t.Fatalf("round %d: claimed batches %v, want one of all six", round, sizes)
		}
		f.svc.DB.Exec(`UPDATE notifications SET email_status = 'sent' WHERE agent_id = ?`, keen.ID)
	}
}
