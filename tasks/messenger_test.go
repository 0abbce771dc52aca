package tasks

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/tickets"
)

// TestMessengerPollScheduling: the periodic sweep queues one poll per polling
// Telegram connection however often it runs, and the poll stores the updates.
func TestMessengerPollScheduling(t *testing.T) {
	svc := tickets.NewService(testenv.DB(t))
	client := NewClient(testenv.Asynq(t))
	t.Cleanup(func() { client.Close() })
	client.Redis().FlushDB(t.Context())
	var polls atomic.Int32
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/botP:1/getUpdates" {
			http.NotFound(w, r)
			return
		}
		polls.Add(1)
		io.WriteString(w, `{"ok":true,"result":[{"update_id":71,"message":{"message_id":1,"from":{"id":61,"first_name":"P"},
			"chat":{"id":61,"type":"private"},"date":1700000000,"text":"polled"}}]}`)
	}))
	defer fake.Close()
	admin, err := svc.CreateAgent(t.Context(), tickets.NewAgent{Email: "poll-admin@example.com", Name: "A",
		Password: "correct horse battery", Role: tickets.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	name, kind, provider, token := "Polling chat", tickets.ChannelChat, "telegram", "P:1"
	ch, err := svc.CreateChannel(t.Context(), admin, tickets.ChannelInput{Name: &name, Kind: &kind})
	if err != nil {
		t.Fatal(err)
	}
	mc, err := svc.CreateMessengerConnection(t.Context(), admin, ch.ID, tickets.MessengerConnectionInput{
		Provider: &provider, APIBaseURL: &fake.URL, Credentials: map[string]*string{"bot_token": &token},
		Settings: &tickets.JSONMap{"mode": "polling"}})
	if err != nil {
		t.Fatal(err)
	}
	d := Deps{Tickets: svc, Client: client, Messengers: &messengers.Receiver{Tickets: svc,
		Blobs: &tickets.Blobs{Dir: t.TempDir()}, Registry: messengers.NewRegistry(nil)}}
	for i := 0; i < 3; i++ {
		if err := enqueuePolls(t.Context(), d); err != nil {
			t.Fatal(err)
		}
	}
	insp := asynq.NewInspectorFromRedisClient(client.Redis())
	pending, err := insp.ListPendingTasks(QueueDefault)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ti := range pending {
		if ti.Type == TypeMessengerPoll && string(ti.Payload) == fmt.Sprintf(`{"connection_id":%d}`, mc.ID) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d poll tasks queued for the connection, want 1", n)
	}
	if err := PollMessenger(t.Context(), d, mc.ID); err != nil {
		t.Fatal(err)
	}
	var msgs []tickets.Message
	svc.DB.Where("messenger_connection_id = ?", mc.ID).Find(&msgs)
	if len(msgs) != 1 || msgs[0].BodyText != "polled" || polls.Load() != 1 {
		t.Fatalf("after a poll: %d messages, %d calls", len(msgs), polls.Load())
	}
	var offset int64
	svc.DB.Table("messenger_connections").Where("id = ?", mc.ID).Pluck("poll_offset", &offset)
	if offset != 72 {
		t.Fatalf("offset %d, want 72", offset)
	}
}
