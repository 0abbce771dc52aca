package messengers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/tickets"
)

// BenchmarkTelegramWebhook measures one text update from a webhook body to a stored
// message: verify, decode, lock the sender, resolve the contact, find the open
// conversation, insert. Senders rotate over 50 chats, so most updates join an
// existing ticket, as in a busy shop.
func BenchmarkTelegramWebhook(b *testing.B) {
	svc := tickets.NewService(testenv.DB(b))
	admin, err := svc.CreateAgent(b.Context(), tickets.NewAgent{Email: uniq("bench") + "@example.com", Name: "B",
		Password: "correct horse battery", Role: tickets.RoleAdmin})
	if err != nil {
		b.Fatal(err)
	}
	name, kind, provider, base := uniq("Bench"), tickets.ChannelChat, "telegram", "http://127.0.0.1:1"
	ch, err := svc.CreateChannel(b.Context(), admin, tickets.ChannelInput{Name: &name, Kind: &kind})
	if err != nil {
		b.Fatal(err)
	}
	secret := "s"
	mc, err := svc.CreateMessengerConnection(b.Context(), admin, ch.ID, tickets.MessengerConnectionInput{
		Provider: &provider, APIBaseURL: &base, Credentials: map[string]*string{"webhook_secret": &secret}})
	if err != nil {
		b.Fatal(err)
	}
	c, _ := messengers.LoadConn(b.Context(), svc.DB, mc.ID)
	recv := &messengers.Receiver{Tickets: svc, Blobs: &tickets.Blobs{Dir: b.TempDir()}, Registry: messengers.NewRegistry(nil)}
	a, _ := recv.Registry.Get("telegram")
	start := time.Now().UnixNano()
	i := 0
	for b.Loop() {
		i++
		body, _ := json.Marshal(map[string]any{"update_id": i, "message": map[string]any{
			"message_id": start + int64(i), "date": time.Now().Unix(), "text": "benchmark message",
			"from": map[string]any{"id": 1000 + i%50, "first_name": "B"}, "chat": map[string]any{"id": 1000 + i%50, "type": "private"}}})
		r := httptest.NewRequest(http.MethodPost, "/hooks/telegram/1", bytes.NewReader(body))
		r.Header.Set("X-Telegram-Bot-Api-Secret-Token", "s")
		up, err := a.Webhook(b.Context(), c, r, body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := recv.Apply(b.Context(), c, up); err != nil {
			b.Fatal(fmt.Errorf("update %d: %w", i, err))
		}
	}
}
