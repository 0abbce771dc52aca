package web

import (
	"testing"

	"github.com/postdesk/postdesk/internal/testenv"
)

func TestTestIMAP(t *testing.T) {
	_, port := testenv.MemIMAP(t, "books", "s3cret")

	h := newHarness(t)
	_, admin := h.agent("admin")
	agentUser, member := h.agent("agent")
	ch := admin.channel("IMAP test", "email", agentUser.ID)
	var mb struct {
		ID        int64   `json:"id"`
		LastUID   *int64  `json:"last_uid"`
		LastError *string `json:"last_error"`
	}
	admin.must(201, "POST", "/api/v1/channels/"+itoa(int(ch))+"/mailboxes", map[string]any{
		"address": "imap-test@example.com", "inbound": "imap", "imap_host": "127.0.0.1", "imap_port": port,
		"imap_security": "plain", "imap_username": "books", "imap_password": "s3cret"}, &mb)
	if mb.LastUID == nil || mb.LastError == nil {
		t.Fatal("mailbox JSON lacks the polling state fields last_uid and last_error")
	}
	path := "/api/v1/channels/" + itoa(int(ch)) + "/mailboxes/" + itoa(int(mb.ID)) + "/test-imap"

	type result struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	cases := []struct {
		name   string
		body   any
		wantOK bool
	}{
		{"stored settings work", nil, true},
		{"wrong password is reported", map[string]any{"imap_password": "nope"}, false},
		{"missing folder is reported", map[string]any{"imap_folder": "Archive"}, false},
		{"missing move folder is reported", map[string]any{"imap_after": "move", "imap_move_folder": "Done"}, false},
		{"closed port is reported", map[string]any{"imap_port": 1}, false},
		{"tls against a plain server fails", map[string]any{"imap_security": "tls"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var res result
			admin.must(200, "POST", path, tc.body, &res)
			if res.OK != tc.wantOK || (res.OK == (res.Error != "")) {
				t.Fatalf("got %+v, want ok=%v", res, tc.wantOK)
			}
		})
	}

	// Testing does not save: the stored password still works.
	var res result
	admin.must(200, "POST", path, nil, &res)
	if !res.OK {
		t.Fatalf("stored settings changed by a test: %+v", res)
	}
	if r := admin.do("POST", path, map[string]any{"imap_port": 70000}); r.Status != 422 {
		t.Fatalf("invalid draft settings: %d %s", r.Status, r.Body)
	}
	// Only admins may use the stored credentials.
	if r := member.do("POST", path, nil); r.Status != 403 && r.Status != 404 {
		t.Fatalf("agent tested IMAP settings: %d %s", r.Status, r.Body)
	}
}
