package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/postdesk/postdesk/tickets"
)

// TestBrowserMessengerSettings: an admin adds a Telegram connection on the settings
// page, sees it listed with the webhook URL to paste into the provider, registers
// the webhook with the (fake) Bot API, disables and deletes it; no secret ever
// reaches the page.
func TestBrowserMessengerSettings(t *testing.T) {
	e := newUIEnv(t)
	var mu sync.Mutex
	var setWebhook map[string]any
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/botsettings-bot-token/setWebhook" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		json.NewDecoder(r.Body).Decode(&setWebhook)
		mu.Unlock()
		w.Write([]byte(`{"ok":true,"result":true}`))
	}))
	defer fake.Close()
	ctx := startChromium(t)
	p := &page{t: t, ctx: ctx, base: e.h.srv.URL}
	p.login(e.adminAgent.Email, uiPassword)

	const botToken, hookSecret = "settings-bot-token", "settings-hook-secret-7f3a"
	box := "#channel-" + itoa(int(e.shop))
	form := "#messenger-new-" + itoa(int(e.shop))
	var conn tickets.MessengerConnection

	t.Run("add_telegram", func(t *testing.T) {
		p := p.in(t)
		p.do(chromedp.Navigate(p.base+"/settings"), chromedp.WaitVisible(chromedp.CSS("#channel-new")))
		p.do(chromedp.Click(chromedp.CSS(box+" summary")), chromedp.WaitVisible(chromedp.CSS(form)))
		// Only the chosen provider's credentials are offered.
		p.do(chromedp.SetValue(chromedp.CSS(form+" [name=provider]"), "viber"))
		evalJS[bool](p, `document.querySelector('`+form+` [name=provider]').dispatchEvent(new Event('change', {bubbles: true}))`)
		if evalJS[bool](p, `document.querySelector('`+form+` [name="credentials.bot_token"]').offsetParent !== null`) {
			t.Fatal("the Telegram bot token field shows for Viber")
		}
		p.do(chromedp.SetValue(chromedp.CSS(form+" [name=provider]"), "telegram"))
		evalJS[bool](p, `document.querySelector('`+form+` [name=provider]').dispatchEvent(new Event('change', {bubbles: true}))`)
		p.do(chromedp.WaitVisible(chromedp.CSS(form+` [name="credentials.bot_token"]`)),
			chromedp.SendKeys(chromedp.CSS(form+" [name=name]"), "Shop bot"),
			chromedp.SendKeys(chromedp.CSS(form+` [name="credentials.bot_token"]`), botToken),
			chromedp.SendKeys(chromedp.CSS(form+` [name="credentials.webhook_secret"]`), hookSecret),
			chromedp.SendKeys(chromedp.CSS(form+" [name=api_base_url]"), fake.URL),
			chromedp.Click(chromedp.CSS(form+" button[type=submit]")))
		p.waitJS(`document.querySelector('`+box+` .messenger-row') !== null`, "the connection listed after the reload")
		if err := e.h.svc.DB.Where("channel_id = ? AND provider = 'telegram'", e.shop).Take(&conn).Error; err != nil {
			t.Fatalf("no connection stored: %v", err)
		}
		if conn.Name != "Shop bot" || conn.Credentials["bot_token"] != botToken ||
			conn.Credentials["webhook_secret"] != hookSecret || conn.APIBaseURL != fake.URL || !conn.Enabled {
			t.Fatalf("stored connection: %+v", conn)
		}
	})

	row := "#messenger-" + itoa(int(conn.ID))
	t.Run("listed_with_webhook_url_and_no_secret", func(t *testing.T) {
		p := p.in(t)
		// The reload after adding kept the channel open.
		p.do(chromedp.WaitVisible(chromedp.CSS(row)))
		want := "http://localhost/hooks/telegram/" + itoa(int(conn.ID))
		if got := p.text(row + " .webhook-url"); got != want {
			t.Fatalf("webhook URL %q, want %q", got, want)
		}
		if got := p.text(row); !strings.Contains(got, "telegram") || !strings.Contains(got, "Shop bot") ||
			!strings.Contains(got, translate("settings.m.enabled")) {
			t.Fatalf("row shows %q", got)
		}
		html := evalJS[string](p, "document.documentElement.outerHTML")
		for _, secret := range []string{botToken, hookSecret} {
			if strings.Contains(html, secret) {
				t.Fatalf("the page holds the secret %q", secret)
			}
		}
		p.shot("settings-messengers")
	})

	t.Run("register_webhook", func(t *testing.T) {
		p := p.in(t)
		p.do(chromedp.Click(chromedp.CSS(row + " button[data-test]")))
		p.waitJS(`document.querySelector('`+row+` .test-result').innerText === `+jsString(uiStrings["js.test_ok"]), "the webhook registered")
		mu.Lock()
		defer mu.Unlock()
		if setWebhook["url"] != "http://localhost/hooks/telegram/"+itoa(int(conn.ID)) || setWebhook["secret_token"] != hookSecret {
			t.Fatalf("setWebhook got %v", setWebhook)
		}
	})

	t.Run("edit_disables_and_keeps_secrets", func(t *testing.T) {
		p := p.in(t)
		edit := "#messenger-edit-" + itoa(int(conn.ID))
		p.do(chromedp.Click(chromedp.CSS(row+" button[data-toggle]")), chromedp.WaitVisible(chromedp.CSS(edit+" form")))
		if ph := evalJS[string](p, `document.querySelector('`+edit+` [name="credentials.bot_token"]').placeholder`); ph != translate("settings.m.secret_set") {
			t.Fatalf("bot token field placeholder %q", ph)
		}
		p.do(chromedp.Click(chromedp.CSS(edit+" [name=enabled]")), chromedp.Click(chromedp.CSS(edit+" button[type=submit]")))
		p.waitJS(`document.querySelector('`+row+` .messenger-status') && document.querySelector('`+row+` .messenger-status').innerText.includes(`+
			jsString(translate("settings.m.disabled"))+`)`, "the connection shown disabled")
		var got tickets.MessengerConnection
		e.h.svc.DB.Take(&got, conn.ID)
		if got.Enabled || got.Credentials["bot_token"] != botToken || got.Credentials["webhook_secret"] != hookSecret ||
			got.Name != "Shop bot" {
			t.Fatalf("after edit: %+v", got)
		}
	})

	t.Run("delete_asks_then_deletes", func(t *testing.T) {
		p := p.in(t)
		// The reload after saving kept the channel open.
		p.do(chromedp.WaitVisible(chromedp.CSS(row + " button[data-delete]")))
		p.do(chromedp.Click(chromedp.CSS(row + " button[data-delete]")))
		if got := p.text(row + " button[data-delete]"); got != translate("settings.m.confirm_delete") {
			t.Fatalf("first click shows %q", got)
		}
		var n int64
		e.h.svc.DB.Model(&tickets.MessengerConnection{}).Where("id = ?", conn.ID).Count(&n)
		if n != 1 {
			t.Fatal("one click deleted the connection")
		}
		p.do(chromedp.Click(chromedp.CSS(row+" button[data-delete]")), chromedp.WaitNotPresent(chromedp.CSS(row)))
		e.h.svc.DB.Model(&tickets.MessengerConnection{}).Where("id = ?", conn.ID).Count(&n)
		if n != 0 {
			t.Fatal("the connection is still stored")
		}
	})
}

// TestBrowserWhatsAppTemplatePicker: on a WhatsApp ticket whose customer last
// wrote more than 24 hours ago the composer offers the approved templates instead
// of free text, says why, and the reply reaches the (fake) Cloud API as a template.
func TestBrowserWhatsAppTemplatePicker(t *testing.T) {
	e := newUIEnv(t)
	const waba, pnid, appSecret = "waba-77", "pn-55", "wa-app-secret"
	var mu sync.Mutex
	var sends []map[string]any
	var listAuth string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v21.0/" + waba + "/message_templates":
			mu.Lock()
			listAuth = r.Header.Get("Authorization") + " status=" + r.URL.Query().Get("status")
			mu.Unlock()
			w.Write([]byte(`{"data":[
				{"name":"order_update","language":"en_US","status":"APPROVED","category":"UTILITY",
				 "components":[{"type":"BODY","text":"Hello {{1}}, your order {{2}} is ready."}]},
				{"name":"draft_promo","language":"en_US","status":"REJECTED","category":"MARKETING",
				 "components":[{"type":"BODY","text":"Buy now"}]}],"paging":{}}`))
		case "/v21.0/" + pnid + "/messages":
			var m map[string]any
			json.NewDecoder(r.Body).Decode(&m)
			mu.Lock()
			sends = append(sends, m)
			mu.Unlock()
			w.Write([]byte(`{"messaging_product":"whatsapp","contacts":[{"input":"15550001111","wa_id":"15550001111"}],"messages":[{"id":"wamid.tpl1"}]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer fake.Close()

	ch := e.admin.channel("WhatsApp shop "+itoa(int(e.anna.ID)), "chat", e.anna.ID)
	// The channel also has a mailbox: replies still go through the chat unless the
	// agent picks the mailbox.
	var mb struct{ ID int64 }
	e.admin.must(201, "POST", "/api/v1/channels/"+itoa(int(ch))+"/mailboxes",
		map[string]any{"address": "wa" + itoa(int(e.anna.ID)) + "@example.com"}, &mb)
	var mc struct{ ID int64 }
	e.admin.must(201, "POST", "/api/v1/channels/"+itoa(int(ch))+"/messengers", map[string]any{"provider": "whatsapp",
		"api_base_url": fake.URL, "credentials": map[string]any{"access_token": "wa-token", "app_secret": appSecret,
			"verify_token": "vt", "phone_number_id": pnid, "business_account_id": waba}}, &mc)
	body := `{"object":"whatsapp_business_account","entry":[{"id":"` + waba + `","changes":[{"field":"messages","value":{
		"messaging_product":"whatsapp","metadata":{"phone_number_id":"` + pnid + `"},
		"contacts":[{"wa_id":"15550001111","profile":{"name":"Lena"}}],
		"messages":[{"from":"15550001111","id":"wamid.in1","timestamp":"1700000000","type":"text","text":{"body":"Is my bouquet ready?"}}]}}]}]}`
	req, _ := http.NewRequest("POST", e.h.srv.URL+"/hooks/whatsapp/"+itoa(int(mc.ID)), strings.NewReader(body))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hmacSHA256Hex(appSecret, body))
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("webhook: %v %v", res, err)
	}
	var tk tickets.Ticket
	if err := e.h.svc.DB.Where("messenger_connection_id = ?", mc.ID).Take(&tk).Error; err != nil {
		t.Fatal(err)
	}
	// The customer wrote 25 hours ago: the window has closed.
	e.h.svc.DB.Exec("UPDATE messages SET created_at = now() - interval '25 hours' WHERE ticket_id = ?", tk.ID)

	ctx := startChromium(t)
	p := &page{t: t, ctx: ctx, base: e.h.srv.URL}
	p.login(e.anna.Email, uiPassword)
	p.do(chromedp.Navigate(p.base+"/tickets/"+itoa(int(tk.ID))), chromedp.WaitVisible(chromedp.CSS("#wa-template")))
	if note := p.text("#wa-template .note"); note != translate("composer.wa_closed") {
		t.Fatalf("note %q", note)
	}
	// The customer's message shows as it is, not folded away as quoted history.
	if got := p.text(".msg-inbound"); !strings.Contains(got, "Is my bouquet ready?") {
		t.Fatalf("inbound message shows %q", got)
	}
	if evalJS[bool](p, `document.getElementById('composer-body').offsetParent !== null`) {
		t.Fatal("free text is offered outside the window")
	}
	if v := evalJS[string](p, `document.querySelector('#composer [name=mailbox_id]').value`); v != "" {
		t.Fatalf("a chat ticket's reply leaves through mailbox %q by default", v)
	}
	// Choosing the mailbox makes it a mail reply: free text again.
	pickFrom := func(v string) {
		evalJS[bool](p, `(() => { const s = document.querySelector('#composer [name=mailbox_id]'); s.value = '`+v+`';
			s.dispatchEvent(new Event('change', {bubbles: true})); return true })()`)
	}
	pickFrom(itoa(int(mb.ID)))
	p.waitJS(`document.getElementById('wa-template').hidden && document.getElementById('composer-body').offsetParent !== null`, "free text for a mail reply")
	pickFrom("")
	p.waitJS(`!document.getElementById('wa-template').hidden && document.getElementById('composer-body').offsetParent === null`, "the picker back for the chat")
	// Only approved templates are offered.
	opts := evalJS[string](p, `Array.from(document.querySelectorAll('#wa-template-pick option')).map(o => o.textContent).join('|')`)
	if opts != translate("composer.wa_pick")+"|order_update (en_US)" {
		t.Fatalf("picker offers %q", opts)
	}
	mu.Lock()
	if listAuth != "Bearer wa-token status=APPROVED" {
		t.Fatalf("template list request: %q", listAuth)
	}
	mu.Unlock()
	evalJS[bool](p, `(() => { const s = document.getElementById('wa-template-pick'); s.value = '0';
		s.dispatchEvent(new Event('change', {bubbles: true})); return true })()`)
	p.do(chromedp.WaitVisible(chromedp.CSS(".wa-param")))
	p.do(chromedp.SendKeys(chromedp.CSS("#wa-template-params label:nth-child(1) .wa-param"), "Lena"),
		chromedp.SendKeys(chromedp.CSS("#wa-template-params label:nth-child(2) .wa-param"), "#1042"))
	if got := p.text("#wa-template-preview"); got != "Hello Lena, your order #1042 is ready." {
		t.Fatalf("preview %q", got)
	}
	p.shot("whatsapp-template-picker")
	p.do(chromedp.Click(chromedp.CSS("#composer-send")))

	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(sends)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			p.failShot()
			t.Fatal("no send reached the fake WhatsApp API")
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	got := sends[0]
	mu.Unlock()
	tpl, _ := got["template"].(map[string]any)
	b, _ := json.Marshal(tpl)
	if got["type"] != "template" || got["to"] != "15550001111" ||
		string(b) != `{"components":[{"parameters":[{"text":"Lena","type":"text"},{"text":"#1042","type":"text"}],"type":"body"}],"language":{"code":"en_US"},"name":"order_update"}` {
		t.Fatalf("send payload: %v", got)
	}
	// The send task records the provider's id once the API has answered.
	var m tickets.Message
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		e.h.svc.DB.Where("ticket_id = ? AND direction = 'outbound'", tk.ID).Take(&m)
		if m.Status == tickets.MessageSent {
			break
		}
	}
	if m.BodyText != "Hello Lena, your order #1042 is ready." || m.ProviderMessageID != "wamid.tpl1" {
		t.Fatalf("stored reply: %q %q", m.BodyText, m.ProviderMessageID)
	}
}

func hmacSHA256Hex(secret, body string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return hex.EncodeToString(mac.Sum(nil))
}
