package mail

import (
	"context"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tickets"
)

// TestAppendSent puts a sent mail into a real Dovecot's Sent folder (created on
// first use), flagged as read.
func TestAppendSent(t *testing.T) {
	dc := startDovecot(t, "desk", "dovecot-pw")
	mb := imapMailbox(t, tickets.NewService(testenv.DB(t)), "127.0.0.1", dc.port, "desk", "dovecot-pw", "seen", "")
	mb.IMAPSentFolder = "Sent"
	raw := []byte("From: desk@example.com\r\nTo: bob@example.org\r\nSubject: Re: order\r\nMessage-ID: <sent1@desk.test>\r\n\r\nShips Monday.\r\n")
	for range 2 {
		if err := AppendSent(context.Background(), mb, nil, raw); err != nil {
			t.Fatal(err)
		}
	}
	u := dialUser(t, "127.0.0.1", dc.port, "desk", "dovecot-pw")
	st, err := u.c.Status("Sent", &imap.StatusOptions{NumMessages: true, NumUnseen: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if st.NumMessages == nil || *st.NumMessages != 2 || st.NumUnseen == nil || *st.NumUnseen != 0 {
		t.Fatalf("Sent folder: %+v", st)
	}
	mb.IMAPPassword = "wrong"
	if err := AppendSent(context.Background(), mb, nil, raw); err == nil || !strings.Contains(err.Error(), "login") {
		t.Fatalf("wrong password: %v", err)
	}
}
