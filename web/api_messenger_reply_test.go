package web

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/postdesk/postdesk/tasks"
	"github.com/postdesk/postdesk/tickets"
)

// TestTelegramConversationThroughAPI follows one Telegram chat through the public
// API: the customer writes (webhook), an agent replies with the composer's endpoint,
// undoes a second reply, writes a note; only the first reply reaches the bot API.
func TestTelegramConversationThroughAPI(t *testing.T) {
	h := messengerHarness(t)
	var mu sync.Mutex
	var sent []map[string]any
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/bot9:api/sendMessage" {
			http.NotFound(w, r)
			return
		}
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		sent = append(sent, m)
		mu.Unlock()
		io.WriteString(w, `{"ok":true,"result":{"message_id":900,"chat":{"id":1,"type":"private"},"date":1}}`)
	}))
	defer fake.Close()
	agentRow, agentC := h.agent("agent")
	_, admin := h.agent("admin")
	ch := admin.channel("Telegram API "+itoa(int(time.Now().UnixNano()%1e6)), "chat", agentRow.ID)
	var mc struct{ ID int64 }
	admin.must(201, "POST", fmt.Sprintf("/api/v1/channels/%d/messengers", ch), map[string]any{"provider": "telegram",
		"api_base_url": fake.URL, "credentials": map[string]any{"bot_token": "9:api", "webhook_secret": "hs"}}, &mc)

	update := `{"update_id":3,"message":{"message_id":31,"from":{"id":5151,"first_name":"Zoe"},"chat":{"id":5151,"type":"private"},"date":1700000000,"text":"Where is my order?"}}`
	req, _ := http.NewRequest("POST", h.srv.URL+fmt.Sprintf("/hooks/telegram/%d", mc.ID), strings.NewReader(update))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", "hs")
	if res, err := h.srv.Client().Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("webhook: %v %v", res, err)
	}
	var tk tickets.Ticket
	if err := h.svc.DB.Where("messenger_connection_id = ?", mc.ID).Take(&tk).Error; err != nil {
		t.Fatal(err)
	}

	// The agent's undo window holds replies back: 0 s for the first, so it is due at once.
	h.svc.DB.Model(&tickets.Agent{}).Where("id = ?", agentRow.ID).Update("undo_seconds", 0)
	path := fmt.Sprintf("/api/v1/tickets/%d/messages", tk.ID)
	var reply, undone tickets.Message
	agentC.must(201, "POST", path, map[string]any{"body": "It left this morning."}, &reply)
	h.svc.DB.Model(&tickets.Agent{}).Where("id = ?", agentRow.ID).Update("undo_seconds", 30)
	agentC.must(201, "POST", path, map[string]any{"body": "Oops, wrong chat"}, &undone)
	agentC.must(200, "POST", fmt.Sprintf("/api/v1/messages/%d/cancel", undone.ID), nil, nil)
	agentC.must(201, "POST", path, map[string]any{"type": "note", "body": "customer asked twice"}, nil)
	if reply.MessengerConnectionID == nil || *reply.MessengerConnectionID != mc.ID {
		t.Fatalf("reply not bound to the connection: %+v", reply)
	}

	sender := &tasks.Sender{Tickets: h.svc, Blobs: h.web.blobs, Messengers: h.web.messengers, Log: slog.Default()}
	for _, id := range []int64{reply.ID, undone.ID} {
		payload, _ := json.Marshal(map[string]int64{"message_id": id})
		if err := sender.Handler()(t.Context(), asynq.NewTask(tasks.TypeSend, payload)); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != 1 || sent[0]["chat_id"] != "5151" || sent[0]["text"] != "It left this morning." {
		t.Fatalf("bot API received %v", sent)
	}
	var got tickets.Message
	agentC.must(200, "GET", fmt.Sprintf("/api/v1/messages/%d", reply.ID), nil, &got)
	if got.Status != tickets.MessageSent || got.ProviderMessageID != "5151:900" {
		t.Fatalf("reply after send: %s %q", got.Status, got.ProviderMessageID)
	}
	agentC.must(200, "GET", fmt.Sprintf("/api/v1/messages/%d", undone.ID), nil, &got)
	if got.Status != tickets.MessageCanceled {
		t.Fatalf("undone reply: %s", got.Status)
	}
}
