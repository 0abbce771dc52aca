package web

import (
	"strings"
	"testing"

	"github.com/postdesk/postdesk/tickets"
)

func TestChannelAccess(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	anna, annaC := h.agent("agent")
	bob, bobC := h.agent("agent")
	events := admin.channel("Events", "email", anna.ID)
	purchases := admin.channel("Purchases", "email", bob.ID)

	t.Run("agent_lists_only_own_channels", func(t *testing.T) {
		var l struct{ Items []struct{ ID int64 } }
		annaC.must(200, "GET", "/api/v1/channels", nil, &l)
		if len(l.Items) != 1 || l.Items[0].ID != events {
			t.Fatalf("anna sees %+v", l.Items)
		}
	})
	t.Run("other_channel_is_404", func(t *testing.T) {
		for _, p := range []string{"/api/v1/channels/" + itoa(int(purchases)), "/api/v1/channels/" + itoa(int(purchases)) + "/mailboxes"} {
			if r := annaC.do("GET", p, nil); r.Status != 404 {
				t.Fatalf("GET %s: %d", p, r.Status)
			}
		}
		if r := annaC.do("PATCH", "/api/v1/channels/"+itoa(int(purchases)), map[string]any{"name": "x"}); r.Status != 404 {
			t.Fatalf("PATCH: %d", r.Status)
		}
	})
	t.Run("member_cannot_change_settings", func(t *testing.T) {
		if r := annaC.do("PATCH", "/api/v1/channels/"+itoa(int(events)), map[string]any{"name": "x"}); r.Status != 403 {
			t.Fatalf("PATCH own channel as agent: %d", r.Status)
		}
		if r := annaC.do("POST", "/api/v1/channels", map[string]any{"name": "Mine", "kind": "email"}); r.Status != 403 {
			t.Fatalf("create as agent: %d", r.Status)
		}
		if r := annaC.do("GET", "/api/v1/agents", nil); r.Status != 403 {
			t.Fatalf("agents as agent: %d", r.Status)
		}
	})
	t.Run("ticket_of_other_channel_is_not_visible", func(t *testing.T) {
		tk := &tickets.Ticket{ChannelID: purchases, Kind: "task", Subject: "Order roses", Status: "new", Priority: "normal"}
		if err := h.svc.DB.Create(tk).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := h.svc.VisibleTicket(t.Context(), anna, tk.ID); err != tickets.ErrNotFound {
			t.Fatalf("anna sees purchases ticket: %v", err)
		}
		if _, err := h.svc.VisibleTicket(t.Context(), bob, tk.ID); err != nil {
			t.Fatalf("bob cannot see own ticket: %v", err)
		}
		// Deleting a channel with tickets is refused and leaves it in place.
		r := admin.do("DELETE", "/api/v1/channels/"+itoa(int(purchases)), nil)
		if r.Status != 422 {
			t.Fatalf("delete channel with tickets: %d %s", r.Status, r.Body)
		}
		admin.must(200, "GET", "/api/v1/channels/"+itoa(int(purchases)), nil, nil)
	})
	t.Run("membership_change_takes_effect", func(t *testing.T) {
		admin.must(200, "PUT", "/api/v1/channels/"+itoa(int(purchases))+"/members/"+itoa(int(anna.ID)), map[string]any{"role": "responsible"}, nil)
		annaC.must(200, "GET", "/api/v1/channels/"+itoa(int(purchases)), nil, nil)
		admin.must(204, "DELETE", "/api/v1/channels/"+itoa(int(purchases))+"/members/"+itoa(int(anna.ID)), nil, nil)
		if r := annaC.do("GET", "/api/v1/channels/"+itoa(int(purchases)), nil); r.Status != 404 {
			t.Fatalf("after removal: %d", r.Status)
		}
		_ = bobC
	})
}

func TestChannelBadInput(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	outsider, _ := h.agent("agent")
	var before int64
	h.svc.DB.Model(&tickets.Channel{}).Count(&before)
	cases := []struct {
		name, body string
		status     int
		field      string
	}{
		{"malformed_json", `{"name": "x",`, 400, ""},
		{"unknown_field", `{"name":"A","kind":"email","colour":"red"}`, 400, "colour"},
		{"wrong_type", `{"name":42,"kind":"email"}`, 400, "name"},
		{"missing_name", `{"kind":"email"}`, 422, "name"},
		{"bad_kind", `{"name":"A","kind":"fax"}`, 422, "kind"},
		{"too_long", `{"name":"` + strings.Repeat("n", 201) + `","kind":"email"}`, 422, "name"},
		{"assignee_not_member", `{"name":"B","kind":"email","default_assignee_id":` + itoa(int(outsider.ID)) + `}`, 422, "default_assignee_id"},
		{"two_objects", `{"name":"C","kind":"email"} {}`, 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := admin.do("POST", "/api/v1/channels", tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if tc.field != "" {
				if _, ok := r.errFields(t)[tc.field]; !ok {
					t.Fatalf("no message for %s: %s", tc.field, r.Body)
				}
			}
		})
	}
	var n int64
	h.svc.DB.Model(&tickets.Channel{}).Count(&n)
	if n != before {
		t.Fatalf("%d channels written by bad requests", n-before)
	}
	admin.must(201, "POST", "/api/v1/channels", map[string]any{"name": "Dup", "kind": "email"}, nil)
	if r := admin.do("POST", "/api/v1/channels", map[string]any{"name": "dup", "kind": "email"}); r.Status != 422 {
		t.Fatalf("duplicate name: %d", r.Status)
	}
}

func TestMailboxes(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	ch := admin.channel("Bookkeeping", "email")
	base := "/api/v1/channels/" + itoa(int(ch)) + "/mailboxes"
	var mb map[string]any
	admin.must(201, "POST", base, map[string]any{"address": "Books@Example.com", "inbound": "imap",
		"imap_host": "imap.example.com", "imap_username": "books", "imap_password": "s3cret", "smtp_password": "s3cret2"}, &mb)
	if _, leaked := mb["imap_password"]; leaked || mb["imap_password_set"] != true || mb["address"] != "books@example.com" {
		t.Fatalf("mailbox response: %v", mb)
	}
	r := admin.must(200, "GET", base, nil, nil)
	if strings.Contains(string(r.Body), "s3cret") {
		t.Fatal("secret returned by list")
	}
	other := admin.channel("Suppliers", "email")
	r = admin.do("POST", "/api/v1/channels/"+itoa(int(other))+"/mailboxes", map[string]any{"address": "BOOKS@example.com"})
	if r.Status != 422 || r.errFields(t)["address"] == "" {
		t.Fatalf("duplicate address: %d %s", r.Status, r.Body)
	}
	r = admin.do("POST", base, map[string]any{"address": "not an address"})
	if r.Status != 422 {
		t.Fatalf("bad address: %d", r.Status)
	}
	r = admin.do("POST", base, map[string]any{"address": "x@example.com", "inbound": "imap"})
	if r.Status != 422 || r.errFields(t)["imap_host"] == "" {
		t.Fatalf("imap without host: %d %s", r.Status, r.Body)
	}
	id := itoa(int(mb["id"].(float64)))
	admin.must(200, "PATCH", base+"/"+id, map[string]any{"display_name": "Books"}, nil)
	var got struct {
		SMTPPasswordSet bool `json:"smtp_password_set"`
	}
	admin.must(200, "GET", base+"/"+id, nil, &got)
	if !got.SMTPPasswordSet {
		t.Fatal("PATCH without password cleared the password")
	}
	admin.must(204, "DELETE", base+"/"+id, nil, nil)
	admin.must(404, "GET", base+"/"+id, nil, nil)
}
