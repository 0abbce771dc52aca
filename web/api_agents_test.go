package web

import "testing"

func TestAgentsAdmin(t *testing.T) {
	h := newHarness(t)
	admin, adminC := h.agent("admin")
	maria, mariaC := h.agent("agent")
	var created struct {
		ID    int64
		Email string
	}
	adminC.must(201, "POST", "/api/v1/agents", map[string]any{"email": "New.Agent@Example.com", "name": "New",
		"password": "long enough pass"}, &created)
	if created.Email != "new.agent@example.com" {
		t.Fatalf("email not normalised: %q", created.Email)
	}
	if r := adminC.do("POST", "/api/v1/agents", map[string]any{"email": "NEW.agent@example.com", "name": "Dup",
		"password": "long enough pass"}); r.Status != 422 || r.errFields(t)["email"] == "" {
		t.Fatalf("duplicate e-mail: %d %s", r.Status, r.Body)
	}
	if r := adminC.do("POST", "/api/v1/agents", map[string]any{"email": "short@example.com", "name": "S",
		"password": "short"}); r.Status != 422 || r.errFields(t)["password"] == "" {
		t.Fatalf("short password: %d %s", r.Status, r.Body)
	}
	// Admins cannot lock themselves out.
	if r := adminC.do("PATCH", "/api/v1/agents/"+itoa(int(admin.ID)), map[string]any{"role": "agent"}); r.Status != 422 {
		t.Fatalf("self-demotion: %d", r.Status)
	}
	// Disabling an agent ends their access at once, tokens included.
	mariaC.must(200, "GET", "/api/v1/me", nil, nil)
	adminC.must(200, "PATCH", "/api/v1/agents/"+itoa(int(maria.ID)), map[string]any{"disabled": true}, nil)
	if r := mariaC.do("GET", "/api/v1/me", nil); r.Status != 401 {
		t.Fatalf("disabled agent still in: %d", r.Status)
	}
	c := h.anon()
	if r := c.do("POST", "/api/v1/auth/login", map[string]any{"email": maria.Email, "password": "correct horse battery"}); r.Status != 401 {
		t.Fatalf("disabled agent logged in: %d", r.Status)
	}
	adminC.must(200, "PATCH", "/api/v1/agents/"+itoa(int(maria.ID)), map[string]any{"disabled": false}, nil)
	mariaC.must(200, "GET", "/api/v1/me", nil, nil)
	adminC.must(404, "PATCH", "/api/v1/agents/999999", map[string]any{"name": "x"}, nil)
}
