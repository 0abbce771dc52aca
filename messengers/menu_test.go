package messengers_test

import (
	"context"
	"io"
	"sync"
	"testing"

	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/tickets"
)

func TestFirstMessageMenu(t *testing.T) {
	e := newEnv(t)
	f := telegramFake(t)
	orders := e.channel(tickets.ChannelChat)
	menu := map[string]any{
		"prompt": "Hi! Reply 1 for Orders, 2 for Complaints.",
		"options": []any{
			map[string]any{"key": "1", "label": "Orders", "channel_id": orders.ID, "tag": "orders"},
			map[string]any{"key": "2", "label": "Complaints", "assignee_id": e.admin.ID},
		},
		"fallback": map[string]any{"tag": "unsorted"},
	}
	c := e.conn("telegram", f.srv.URL, map[string]string{"bot_token": tgToken, "webhook_secret": "k"},
		tickets.JSONMap{"menu": menu})
	say := func(chat int64, text string) *tickets.Ticket {
		t.Helper()
		got, err := e.webhook(c, post(t, tgUpdate(chat, map[string]any{"text": text}), tgSecret("k")))
		if err != nil || len(got) != 1 {
			t.Fatalf("webhook: %v %+v", err, got)
		}
		return got[0].Ticket
	}
	tags := func(ticketID int64) []string {
		var out []string
		e.svc.DB.Raw("SELECT tg.name FROM ticket_tags tt JOIN tags tg ON tg.id = tt.tag_id WHERE tt.ticket_id = ? ORDER BY 1",
			ticketID).Scan(&out)
		return out
	}

	t.Run("answer_routes_to_channel_and_tag", func(t *testing.T) {
		chat := seq.Add(1) + 9500000
		tk := say(chat, "hello")
		var prompt tickets.Message
		if err := e.svc.DB.Where("ticket_id = ? AND direction = 'outbound'", tk.ID).Take(&prompt).Error; err != nil {
			t.Fatal(err)
		}
		if prompt.BodyText != menu["prompt"] || prompt.Status != tickets.MessageQueued || !prompt.IsAutoReply {
			t.Fatalf("prompt: %+v", prompt)
		}
		if err := e.deliver(e.sender, prompt.ID); err != nil {
			t.Fatal(err)
		}
		sends := f.callsTo("/sendMessage")
		if len(sends) == 0 || sends[len(sends)-1].JSON["text"] != menu["prompt"] {
			t.Fatalf("prompt not sent: %+v", sends)
		}
		say(chat, "1")
		got := e.ticket(tk.ID)
		if got.ChannelID != orders.ID {
			t.Fatalf("ticket in channel %d, want orders %d", got.ChannelID, orders.ID)
		}
		var stray int64
		e.svc.DB.Model(&tickets.Message{}).Where("ticket_id = ? AND channel_id <> ?", tk.ID, orders.ID).Count(&stray)
		if stray != 0 {
			t.Fatalf("%d messages left in the old channel", stray)
		}
		if tg := tags(tk.ID); len(tg) != 1 || tg[0] != "orders" {
			t.Fatalf("tags %v", tg)
		}
		// Later messages are conversation, not menu answers.
		if again := say(chat, "2"); again.ID != tk.ID || e.ticket(tk.ID).AssigneeID != nil {
			t.Fatalf("a later message was taken as a menu answer")
		}
	})

	t.Run("label_answer_assigns", func(t *testing.T) {
		chat := seq.Add(1) + 9600000
		tk := say(chat, "hello")
		say(chat, "complaints")
		if a := e.ticket(tk.ID).AssigneeID; a == nil || *a != e.admin.ID {
			t.Fatalf("assignee %v, want %d", a, e.admin.ID)
		}
	})

	t.Run("unclear_answer_goes_to_fallback", func(t *testing.T) {
		chat := seq.Add(1) + 9700000
		tk := say(chat, "hello")
		say(chat, "do you sell cactuses?")
		got := e.ticket(tk.ID)
		if got.ChannelID != c.ChannelID {
			t.Fatalf("fallback moved the ticket to %d", got.ChannelID)
		}
		if tg := tags(tk.ID); len(tg) != 1 || tg[0] != "unsorted" {
			t.Fatalf("tags %v", tg)
		}
	})
}

// New chats arriving at once in a round-robin channel are assigned in turn, none
// lost to a lock conflict.
func TestConcurrentChatsTakeTurns(t *testing.T) {
	e := newEnv(t)
	f := telegramFake(t)
	c := e.conn("telegram", f.srv.URL, map[string]string{"bot_token": tgToken, "webhook_secret": "k"}, nil)
	var agents []int64
	for i := 0; i < 2; i++ {
		a, err := e.svc.CreateAgent(t.Context(), tickets.NewAgent{Email: uniq("turn") + "@example.com", Name: "Agent",
			Password: "correct horse battery", Role: tickets.RoleAgent})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.DB.Exec(`UPDATE agents SET status = 'online' WHERE id = ?`, a.ID).Error; err != nil {
			t.Fatal(err)
		}
		if err := e.svc.DB.Create(&tickets.ChannelMember{ChannelID: c.ChannelID, AgentID: a.ID, Role: "member"}).Error; err != nil {
			t.Fatal(err)
		}
		agents = append(agents, a.ID)
	}
	if err := e.svc.DB.Exec(`UPDATE channels SET assignment_mode = 'round_robin' WHERE id = ?`, c.ChannelID).Error; err != nil {
		t.Fatal(err)
	}
	adapter, err := e.recv.Registry.Get(c.Provider)
	if err != nil {
		t.Fatal(err)
	}
	const n = 12
	var updates []*messengers.Update
	for i := 0; i < n; i++ {
		r := post(t, tgUpdate(seq.Add(1)+9700000, map[string]any{"text": "hello"}), tgSecret("k"))
		body, _ := io.ReadAll(r.Body)
		up, err := adapter.Webhook(r.Context(), c, r, body)
		if err != nil {
			t.Fatal(err)
		}
		updates = append(updates, up)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, up := range updates {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.recv.Apply(context.Background(), c, up); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var per []int
	e.svc.DB.Raw(`SELECT count(*) FROM tickets WHERE channel_id = ? GROUP BY assignee_id ORDER BY assignee_id NULLS LAST`,
		c.ChannelID).Scan(&per)
	if len(per) != 2 || per[0] != n/2 || per[1] != n/2 {
		t.Fatalf("chats per assignee %v, want %d for each of %v", per, n/2, agents)
	}
}
