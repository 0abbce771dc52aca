package tickets_test

import (
	"errors"
	"testing"
	"time"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tickets"
)

func TestPasswordHash(t *testing.T) {
	h, err := tickets.HashPassword("a long passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) < 20 || h[:10] != "$argon2id$" {
		t.Fatalf("hash %q is not argon2id PHC", h)
	}
	if !tickets.CheckPassword(h, "a long passphrase") || tickets.CheckPassword(h, "a long passphrasE") {
		t.Fatal("CheckPassword wrong")
	}
	h2, _ := tickets.HashPassword("a long passphrase")
	if h == h2 {
		t.Fatal("same hash twice: salt missing")
	}
	if tickets.CheckPassword("garbage", "x") || tickets.CheckPassword("$argon2id$v=19$m=1,t=1,p=1$!!$!!", "x") {
		t.Fatal("malformed hash accepted")
	}
}

func TestSessionExpiry(t *testing.T) {
	svc := tickets.NewService(testenv.DB(t))
	a, err := svc.CreateAgent(t.Context(), tickets.NewAgent{Email: "sess@example.com", Name: "S", Password: "0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	svc.Now = func() time.Time { return now }
	token, _, err := svc.CreateSession(t.Context(), a.ID, "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, got, err := svc.SessionAgent(t.Context(), token); err != nil || got.ID != a.ID {
		t.Fatalf("fresh session: %v", err)
	}
	// Use within the TTL slides the expiry forward.
	now = now.Add(tickets.SessionTTL - time.Hour)
	if _, _, err := svc.SessionAgent(t.Context(), token); err != nil {
		t.Fatalf("session within TTL: %v", err)
	}
	now = now.Add(tickets.SessionTTL - time.Minute)
	if _, _, err := svc.SessionAgent(t.Context(), token); err != nil {
		t.Fatalf("slid session: %v", err)
	}
	now = now.Add(tickets.SessionTTL + time.Minute)
	if _, _, err := svc.SessionAgent(t.Context(), token); !errors.Is(err, tickets.ErrUnauthorized) {
		t.Fatalf("expired session accepted: %v", err)
	}
	// Changing the password ends every session.
	now = time.Now().UTC()
	token, _, _ = svc.CreateSession(t.Context(), a.ID, "", "")
	if err := svc.SetPassword(t.Context(), a.ID, "9876543210"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.SessionAgent(t.Context(), token); !errors.Is(err, tickets.ErrUnauthorized) {
		t.Fatalf("session survived password change: %v", err)
	}
	if _, err := svc.Authenticate(t.Context(), "SESS@example.com", "9876543210"); err != nil {
		t.Fatalf("login with new password (case-insensitive e-mail): %v", err)
	}
}
