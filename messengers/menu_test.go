package messengers_test

import (
	"testing"

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
