package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/postdesk/postdesk/tickets"
)

// TestSpawnTaskFromTelegramMessage: a chat message, like a mail, can become a task
// in a tasks channel, linked back to the message it came from.
func TestSpawnTaskFromTelegramMessage(t *testing.T) {
	h := messengerHarness(t)
	_, admin := h.agent("admin")
	suffix := itoa(int(time.Now().UnixNano() % 1e6))
	chat := admin.channel("Telegram spawn "+suffix, "chat")
	tasksCh := admin.channel("Florist tasks "+suffix, "tasks")
	var mc struct{ ID int64 }
	admin.must(201, "POST", fmt.Sprintf("/api/v1/channels/%d/messengers", chat), map[string]any{"provider": "telegram",
		"credentials": map[string]any{"bot_token": "1:s", "webhook_secret": "w"}}, &mc)
	update := `{"update_id":9,"message":{"message_id":91,"from":{"id":8181,"first_name":"Ivo"},"chat":{"id":8181,"type":"private"},"date":1700000000,"text":"Please deliver 30 red roses to the Grand Hotel on Friday"}}`
	req, _ := http.NewRequest("POST", h.srv.URL+fmt.Sprintf("/hooks/telegram/%d", mc.ID), strings.NewReader(update))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "w")
	if res, err := h.srv.Client().Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("webhook: %v %v", res, err)
	}
	var m tickets.Message
	if err := h.svc.DB.Where("messenger_connection_id = ? AND direction = 'inbound'", mc.ID).Take(&m).Error; err != nil {
		t.Fatal(err)
	}
	var task tickets.Ticket
	admin.must(201, "POST", fmt.Sprintf("/api/v1/messages/%d/spawn-task", m.ID), map[string]any{"channel_id": tasksCh}, &task)
	if task.Kind != tickets.KindTask || task.ChannelID != tasksCh || task.OriginMessageID == nil || *task.OriginMessageID != m.ID {
		t.Fatalf("spawned task: %+v", task)
	}
	var note tickets.Message
	if err := h.svc.DB.Where("ticket_id = ?", task.ID).Order("id").Take(&note).Error; err != nil ||
		!strings.Contains(note.BodyText, "30 red roses") {
		t.Fatalf("task's first note %q: %v", note.BodyText, err)
	}
}
