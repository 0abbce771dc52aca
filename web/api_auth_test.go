package web

import (
	"net/http"
	"testing"
)

func TestLogin(t *testing.T) {
	h := newHarness(t)
	a, _ := h.agent("agent")
	c := h.anon()

	t.Run("wrong_password_is_401", func(t *testing.T) {
		r := c.do("POST", "/api/v1/auth/login", map[string]any{"email": a.Email, "password": "wrong password!"})
		if r.Status != 401 || r.errCode(t) != "unauthorized" {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
	t.Run("unknown_email_is_401", func(t *testing.T) {
		r := c.do("POST", "/api/v1/auth/login", map[string]any{"email": "nobody@example.com", "password": "whatever12"})
		if r.Status != 401 {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
	t.Run("cookie_session_and_csrf", func(t *testing.T) {
		var me struct {
			ID        int64  `json:"id"`
			CSRFToken string `json:"csrf_token"`
		}
		r := c.must(200, "POST", "/api/v1/auth/login", map[string]any{"email": a.Email, "password": "correct horse battery"}, &me)
		if me.ID != a.ID || me.CSRFToken == "" {
			t.Fatalf("login returned %s", r.Body)
		}
		var ck *http.Cookie
		for _, k := range r.Header.Values("Set-Cookie") {
			if hc, err := http.ParseSetCookie(k); err == nil && hc.Name == sessionCookie {
				ck = hc
			}
		}
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
			t.Fatalf("session cookie not HttpOnly/SameSite=Lax: %v", r.Header.Values("Set-Cookie"))
		}
		c.must(200, "GET", "/api/v1/me", nil, nil)
		// A cookie-authenticated write without the CSRF token is refused.
		if r := c.do("POST", "/api/v1/me/tokens", map[string]any{"name": "x"}); r.Status != 403 || r.errCode(t) != "csrf" {
			t.Fatalf("write without csrf: %d %s", r.Status, r.Body)
		}
		c.csrf = me.CSRFToken
		c.must(201, "POST", "/api/v1/me/tokens", map[string]any{"name": "x"}, nil)
		c.must(204, "POST", "/api/v1/auth/logout", nil, nil)
		c.csrf = ""
		if r := c.do("GET", "/api/v1/me", nil); r.Status != 401 {
			t.Fatalf("after logout: %d", r.Status)
		}
	})
}

func TestLoginRateLimit(t *testing.T) {
	h := newHarness(t)
	a, _ := h.agent("agent")
	c := h.anon()
	for i := 0; i < 5; i++ {
		c.must(401, "POST", "/api/v1/auth/login", map[string]any{"email": a.Email, "password": "bad password"}, nil)
	}
	// Even the right password is refused once the account is locked for the window.
	r := c.do("POST", "/api/v1/auth/login", map[string]any{"email": a.Email, "password": "correct horse battery"})
	if r.Status != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("got %d %s", r.Status, r.Body)
	}
	// Per IP: failures spread over many accounts are limited too (5x the account limit).
	h2 := newHarness(t)
	c2 := h2.anon()
	for i := 0; i < 25; i++ {
		c2.do("POST", "/api/v1/auth/login", map[string]any{"email": "x" + itoa(i) + "@example.com", "password": "bad password"})
	}
	b, _ := h2.agent("agent")
	if r := c2.do("POST", "/api/v1/auth/login", map[string]any{"email": b.Email, "password": "correct horse battery"}); r.Status != 429 {
		t.Fatalf("per-IP limit: got %d", r.Status)
	}
}

func TestBearerToken(t *testing.T) {
	h := newHarness(t)
	a, c := h.agent("agent")
	var me struct{ ID int64 }
	c.must(200, "GET", "/api/v1/me", nil, &me)
	if me.ID != a.ID {
		t.Fatalf("me = %d, want %d", me.ID, a.ID)
	}
	c.token = "pd_forged"
	if r := c.do("GET", "/api/v1/me", nil); r.Status != 401 || r.errCode(t) != "unauthorized" {
		t.Fatalf("forged token: %d %s", r.Status, r.Body)
	}
	var n int
	h.svc.DB.Raw("SELECT count(*) FROM api_tokens WHERE token_hash LIKE 'pd_%'").Scan(&n)
	if n != 0 {
		t.Fatal("tokens stored in plain text")
	}
}
