package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

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
