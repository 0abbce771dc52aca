package mail

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tickets"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

var uniq atomic.Int64

// unique returns a name no other test of this package uses.
func unique(prefix string) string {
	return fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), uniq.Add(1))
}

// newMailbox creates a channel with one mailbox and returns both.
func newMailbox(t testing.TB) (*tickets.Channel, *tickets.Mailbox) {
	t.Helper()
	db := testenv.DB(t)
	ch := &tickets.Channel{Name: unique("chan-"), Kind: tickets.ChannelEmail, AssignmentMode: "default",
		FromNameFormat: "{agent}", SubjectTag: true, ReadTracking: true, MaxAttachmentBytes: 25 << 20}
	if err := db.Create(ch).Error; err != nil {
		t.Fatalf("create channel: %v", err)
	}
	mb := &tickets.Mailbox{ChannelID: ch.ID, Address: unique("box") + "@support.test", Inbound: "smtp",
		IMAPPort: 993, IMAPSecurity: "tls", IMAPFolder: "INBOX", IMAPAfter: "seen", SMTPPort: 587, SMTPSecurity: "starttls"}
	if err := db.Create(mb).Error; err != nil {
		t.Fatalf("create mailbox: %v", err)
	}
	return ch, mb
}

// autoAssigning gives channel channelID n online agents as members and the
// assignment mode, and returns the agents' ids in id order.
func autoAssigning(tb testing.TB, channelID int64, mode string, n int) []int64 {
	tb.Helper()
	db := testenv.DB(tb)
	var agents []int64
	for i := 0; i < n; i++ {
		a := &tickets.Agent{Email: unique("agent") + "@support.test", Name: "Agent", Role: "agent", Status: "online",
			UndoSeconds: 10}
		if err := db.Create(a).Error; err != nil {
			tb.Fatal(err)
		}
		if err := db.Create(&tickets.ChannelMember{ChannelID: channelID, AgentID: a.ID, Role: "member"}).Error; err != nil {
			tb.Fatal(err)
		}
		agents = append(agents, a.ID)
	}
	if err := db.Exec(`UPDATE channels SET assignment_mode = ? WHERE id = ?`, mode, channelID).Error; err != nil {
		tb.Fatal(err)
	}
	return agents
}
