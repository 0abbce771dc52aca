package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/tickets"
)

// messengerHarness is the API with messenger webhooks enabled.
func messengerHarness(t *testing.T) *harness {
	h := newHarness(t)
	recv := &messengers.Receiver{Tickets: h.svc, Blobs: h.web.blobs, Registry: messengers.NewRegistry(nil)}
	h.web = New(h.web.cfg, Deps{Tickets: h.svc, Tasks: h.web.tasks, Blobs: h.web.blobs, Messengers: recv})
	h.srv.Config.Handler = h.web.Handler()
	return h
}

func TestMessengerConnectionsAPI(t *testing.T) {
	h := messengerHarness(t)
	_, admin := h.agent("admin")
	member, agentClient := h.agent("agent")
	ch := admin.channel("Messengers API "+itoa(int(time.Now().UnixNano()%1e6)), "chat", member.ID)
	base := fmt.Sprintf("/api/v1/channels/%d/messengers", ch)

	var mc map[string]any
	admin.must(201, "POST", base, map[string]any{"provider": "telegram", "name": "Shop bot",
		"credentials":  map[string]any{"bot_token": "1:secret", "webhook_secret": "hook"},
		"api_base_url": "http://127.0.0.1:1", "settings": map[string]any{"reopen_days": 3}}, &mc)
	if _, leaked := mc["credentials"]; leaked || strings.Contains(fmt.Sprint(mc), "1:secret") {
		t.Fatalf("credentials leaked: %v", mc)
	}
	if fmt.Sprint(mc["credentials_set"]) != "[bot_token webhook_secret]" ||
		!strings.HasSuffix(mc["webhook_url"].(string), fmt.Sprintf("/hooks/telegram/%v", mc["id"])) {
		t.Fatalf("view: %v", mc)
	}
	one := fmt.Sprintf("%s/%v", base, mc["id"])

	// Agents see connections but may not change them.
	var list struct{ Items []map[string]any }
	agentClient.must(200, "GET", base, nil, &list)
	if len(list.Items) != 1 {
		t.Fatalf("list: %v", list)
	}
	agentClient.must(403, "PATCH", one, map[string]any{"name": "x"}, nil)
	agentClient.must(403, "POST", base, map[string]any{"provider": "telegram"}, nil)

	admin.must(200, "PATCH", one, map[string]any{"name": "Renamed", "credentials": map[string]any{"webhook_secret": nil}}, &mc)
	if mc["name"] != "Renamed" || fmt.Sprint(mc["credentials_set"]) != "[bot_token]" {
		t.Fatalf("after patch: %v", mc)
	}
	r := admin.must(422, "POST", base, map[string]any{"provider": "icq", "api_base_url": "ftp://x"}, nil)
	if f := r.errFields(t); f["provider"] == "" || f["api_base_url"] == "" {
		t.Fatalf("fields: %v", f)
	}
	admin.must(422, "PATCH", one, map[string]any{"provider": "viber"}, nil)
	admin.must(204, "DELETE", one, nil, nil)
	admin.must(404, "GET", one, nil, nil)
}

func TestTelegramWebhookHTTP(t *testing.T) {
	h := messengerHarness(t)
	_, admin := h.agent("admin")
	ch := admin.channel("Telegram hooks "+itoa(int(time.Now().UnixNano()%1e6)), "chat")
	var mc struct{ ID int64 }
	admin.must(201, "POST", fmt.Sprintf("/api/v1/channels/%d/messengers", ch), map[string]any{"provider": "telegram",
		"credentials": map[string]any{"bot_token": "1:x", "webhook_secret": "right"}}, &mc)
	hook := fmt.Sprintf("/hooks/telegram/%d", mc.ID)
	update := `{"update_id":1,"message":{"message_id":77,"from":{"id":4242,"first_name":"Ivan"},
		"chat":{"id":4242,"type":"private"},"date":1700000000,"text":"Need a bouquet"}}`
	send := func(secret string) *response {
		req, _ := http.NewRequest("POST", h.srv.URL+hook, strings.NewReader(update))
		req.Header.Set("Content-Type", "application/json")
		if secret != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
		}
		res, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return &response{Status: res.StatusCode}
	}
	count := func() int64 {
		var n int64
		h.svc.DB.Model(&tickets.Message{}).Where("messenger_connection_id = ?", mc.ID).Count(&n)
		return n
	}
	if r := send("wrong"); r.Status != 401 || count() != 0 {
		t.Fatalf("wrong secret: %d, %d messages", r.Status, count())
	}
	if r := send(""); r.Status != 401 || count() != 0 {
		t.Fatalf("no secret: %d, %d messages", r.Status, count())
	}
	if r := send("right"); r.Status != 200 || count() != 1 {
		t.Fatalf("good webhook: %d, %d messages", r.Status, count())
	}
	if r := send("right"); r.Status != 200 || count() != 1 {
		t.Fatalf("repeated webhook: %d, %d messages", r.Status, count())
	}
	var tk tickets.Ticket
	h.svc.DB.Where("messenger_connection_id = ?", mc.ID).Take(&tk)
	if tk.ChannelID != ch || tk.Subject != "Need a bouquet" {
		t.Fatalf("ticket %+v", tk)
	}
	// Another provider's path or an unknown id answers 404.
	if r := h.anon().do("POST", fmt.Sprintf("/hooks/whatsapp/%d", mc.ID), "{}"); r.Status != 404 {
		t.Fatalf("provider mismatch: %d", r.Status)
	}
	if r := h.anon().do("POST", "/hooks/telegram/999999999", "{}"); r.Status != 404 {
		t.Fatalf("unknown connection: %d", r.Status)
	}
}

func TestWhatsAppWindowInReplyAPI(t *testing.T) {
	h := messengerHarness(t)
	_, admin := h.agent("admin")
	ch := admin.channel("WhatsApp window "+itoa(int(time.Now().UnixNano()%1e6)), "chat")
	var mc struct{ ID int64 }
	admin.must(201, "POST", fmt.Sprintf("/api/v1/channels/%d/messengers", ch), map[string]any{"provider": "whatsapp",
		"credentials": map[string]any{"app_secret": "sec", "verify_token": "vt", "access_token": "t", "phone_number_id": "1"}}, &mc)
	hook := fmt.Sprintf("/hooks/whatsapp/%d", mc.ID)

	if r := h.anon().do("GET", hook+"?hub.mode=subscribe&hub.verify_token=vt&hub.challenge=42", nil); r.Status != 200 ||
		string(r.Body) != "42" {
		t.Fatalf("verification: %d %s", r.Status, r.Body)
	}
	if r := h.anon().do("GET", hook+"?hub.mode=subscribe&hub.verify_token=no&hub.challenge=42", nil); r.Status != 401 {
		t.Fatalf("bad verify token: %d", r.Status)
	}

	body := `{"object":"whatsapp_business_account","entry":[{"id":"W","changes":[{"field":"messages","value":{
		"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"1"},
		"contacts":[{"profile":{"name":"Lena"},"wa_id":"4917000000001"}],
		"messages":[{"from":"4917000000001","id":"wamid.W1","timestamp":"1700000000","type":"text","text":{"body":"hi"}}]}}]}]}`
	mac := hmac.New(sha256.New, []byte("sec"))
	mac.Write([]byte(body))
	req, _ := http.NewRequest("POST", h.srv.URL+hook, strings.NewReader(body))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	res, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("webhook: %d", res.StatusCode)
	}
	var tk tickets.Ticket
	if err := h.svc.DB.Where("messenger_connection_id = ?", mc.ID).Take(&tk).Error; err != nil {
		t.Fatal(err)
	}
	// The message's timestamp (Nov 2023) is far outside the 24-hour window.
	var info struct {
		Provider         string     `json:"provider"`
		TemplateRequired bool       `json:"template_required"`
		WindowClosesAt   *time.Time `json:"window_closes_at"`
	}
	admin.must(200, "GET", fmt.Sprintf("/api/v1/tickets/%d/messenger", tk.ID), nil, &info)
	if info.Provider != "whatsapp" || !info.TemplateRequired || info.WindowClosesAt == nil ||
		!info.WindowClosesAt.Equal(time.Unix(1700000000, 0).Add(24*time.Hour)) {
		t.Fatalf("messenger info: %+v", info)
	}
	path := fmt.Sprintf("/api/v1/tickets/%d/messages", tk.ID)
	r := admin.must(422, "POST", path, map[string]any{"body": "free text"}, nil)
	if f := r.errFields(t); f["template"] == "" {
		t.Fatalf("422 without a template field: %s", r.Body)
	}
	var m tickets.Message
	admin.must(201, "POST", path, map[string]any{"messenger_template": map[string]any{"name": "order_update",
		"language": "en_US", "params": []string{"#7"}}}, &m)
	if m.MessengerConnectionID == nil || *m.MessengerConnectionID != mc.ID {
		t.Fatalf("template reply: %+v", m)
	}
}

func TestTelegramWebhookRegistration(t *testing.T) {
	h := messengerHarness(t)
	_, admin := h.agent("admin")
	_, agentC := h.agent("agent")
	var got map[string]any
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/bot1:tok/setWebhook" {
			http.NotFound(w, r)
			return
		}
		json.NewDecoder(r.Body).Decode(&got)
		io.WriteString(w, `{"ok":true,"result":true,"description":"Webhook was set"}`)
	}))
	defer fake.Close()
	ch := admin.channel("Telegram register "+itoa(int(time.Now().UnixNano()%1e6)), "chat")
	var mc struct {
		ID             int64
		CredentialsSet []string `json:"credentials_set"`
	}
	base := fmt.Sprintf("/api/v1/channels/%d/messengers", ch)
	admin.must(201, "POST", base, map[string]any{"provider": "telegram", "api_base_url": fake.URL,
		"credentials": map[string]any{"bot_token": "1:tok"}}, &mc)
	agentC.must(404, "POST", fmt.Sprintf("%s/%d/webhook", base, mc.ID), nil, nil)
	admin.must(200, "POST", fmt.Sprintf("%s/%d/webhook", base, mc.ID), nil, &mc)
	if fmt.Sprint(mc.CredentialsSet) != "[bot_token webhook_secret]" {
		t.Fatalf("credentials_set %v", mc.CredentialsSet)
	}
	secret, _ := got["secret_token"].(string)
	if got["url"] != fmt.Sprintf("http://localhost/hooks/telegram/%d", mc.ID) || len(secret) < 32 {
		t.Fatalf("setWebhook payload %v", got)
	}
	update := `{"update_id":1,"message":{"message_id":5,"from":{"id":77,"first_name":"R"},"chat":{"id":77,"type":"private"},"date":1700000000,"text":"hi"}}`
	for _, tc := range []struct {
		secret string
		want   int
	}{{"nope", 401}, {secret, 200}} {
		req, _ := http.NewRequest("POST", h.srv.URL+fmt.Sprintf("/hooks/telegram/%d", mc.ID), strings.NewReader(update))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", tc.secret)
		res, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Fatalf("secret %q: %d, want %d", tc.secret, res.StatusCode, tc.want)
		}
	}

	var wa struct{ ID int64 }
	admin.must(201, "POST", base, map[string]any{"provider": "whatsapp"}, &wa)
	admin.must(422, "POST", fmt.Sprintf("%s/%d/webhook", base, wa.ID), nil, nil)
}
