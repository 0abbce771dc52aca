package mail

import (
	"errors"
	"strings"
	"testing"

	"github.com/postdesk/postdesk/internal/testenv"
)

func TestRelaySend(t *testing.T) {
	const msg = "From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n"
	t.Run("plain", func(t *testing.T) {
		sink := testenv.NewSMTPSink(t, testenv.SinkOptions{})
		r := Relay{Host: sink.Host, Port: sink.Port, Security: "plain"}
		if err := r.Send(t.Context(), "a@example.com", []string{"b@example.com", "c@example.com"}, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		got := sink.Messages()
		if len(got) != 1 || got[0].From != "a@example.com" || len(got[0].To) != 2 || !strings.Contains(string(got[0].Data), "hello") {
			t.Fatalf("sink got %+v", got)
		}
	})
	t.Run("starttls_and_auth", func(t *testing.T) {
		sink := testenv.NewSMTPSink(t, testenv.SinkOptions{StartTLS: true, Username: "u", Password: "secret"})
		r := Relay{Host: sink.Host, Port: sink.Port, Security: "starttls", Username: "u", Password: "secret", TLSConfig: sink.TLS}
		if err := r.Send(t.Context(), "a@example.com", []string{"b@example.com"}, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		if n := len(sink.Messages()); n != 1 {
			t.Fatalf("sink got %d messages", n)
		}
		if err := r.Check(t.Context()); err != nil {
			t.Fatalf("check: %v", err)
		}
	})
	t.Run("wrong_password_is_permanent", func(t *testing.T) {
		sink := testenv.NewSMTPSink(t, testenv.SinkOptions{StartTLS: true, Username: "u", Password: "secret"})
		r := Relay{Host: sink.Host, Port: sink.Port, Security: "starttls", Username: "u", Password: "wrong", TLSConfig: sink.TLS}
		err := r.Check(t.Context())
		var de *DeliveryError
		if !errors.As(err, &de) || de.Temporary || !strings.Contains(de.Reason, "credentials") {
			t.Fatalf("err = %#v", err)
		}
		if len(sink.Messages()) != 0 {
			t.Fatal("mail accepted without login")
		}
	})
	t.Run("untrusted_certificate_fails", func(t *testing.T) {
		sink := testenv.NewSMTPSink(t, testenv.SinkOptions{StartTLS: true})
		r := Relay{Host: sink.Host, Port: sink.Port, Security: "starttls"}
		if err := r.Check(t.Context()); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("451_is_temporary_550_permanent", func(t *testing.T) {
		sink := testenv.NewSMTPSink(t, testenv.SinkOptions{})
		sink.DataReply = func(n int) error {
			if n == 1 {
				return testenv.SMTPReply(451, "greylisted, try again")
			}
			return testenv.SMTPReply(550, "mailbox unavailable")
		}
		r := Relay{Host: sink.Host, Port: sink.Port, Security: "plain"}
		var de *DeliveryError
		err := r.Send(t.Context(), "a@example.com", []string{"b@example.com"}, strings.NewReader(msg))
		if !errors.As(err, &de) || !de.Temporary || !strings.Contains(de.Reason, "451 greylisted") {
			t.Fatalf("first: %#v", err)
		}
		err = r.Send(t.Context(), "a@example.com", []string{"b@example.com"}, strings.NewReader(msg))
		if !errors.As(err, &de) || de.Temporary || !strings.Contains(de.Reason, "550 mailbox unavailable") {
			t.Fatalf("second: %#v", err)
		}
	})
	t.Run("nobody_listening_is_temporary", func(t *testing.T) {
		r := Relay{Host: "127.0.0.1", Port: 1, Security: "plain"}
		var de *DeliveryError
		if err := r.Check(t.Context()); !errors.As(err, &de) || !de.Temporary {
			t.Fatalf("err = %#v", err)
		}
	})
}

func TestParseRelayURL(t *testing.T) {
	for raw, want := range map[string]Relay{
		"smtp://127.0.0.1:1025":               {Host: "127.0.0.1", Port: 1025, Security: "plain"},
		"smtp+starttls://u:p%40ss@mx.example": {Host: "mx.example", Port: 587, Security: "starttls", Username: "u", Password: "p@ss"},
		"smtps://mx.example":                  {Host: "mx.example", Port: 465, Security: "tls"},
	} {
		got, err := ParseRelayURL(raw)
		if err != nil || got.Host != want.Host || got.Port != want.Port || got.Security != want.Security ||
			got.Username != want.Username || got.Password != want.Password {
			t.Errorf("%s: %+v, %v", raw, got, err)
		}
	}
	if _, err := ParseRelayURL("http://x"); err == nil {
		t.Error("http scheme accepted")
	}
}
