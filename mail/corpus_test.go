package mail

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tickets"
)

// The real-world corpus lives outside the repository (../shared/corpus next to the
// clone in CI, or POSTDESK_CORPUS). Its manifest lists what a correct parser must
// produce for each raw mail; this test pushes every mail through the real pipeline
// (Intake.Accept, then Ingester.Process) and checks the stored message.

type corpusManifest struct {
	Messages     []corpusEntry `json:"messages"`
	ThreadGroups [][]string    `json:"thread_groups"`
}

type corpusEntry struct {
	File                string    `json:"file"`
	Subject             *string   `json:"subject"`
	FromAddress         *string   `json:"from_address"`
	FromName            *string   `json:"from_name"`
	MessageID           *string   `json:"message_id"`
	InReplyTo           *[]string `json:"in_reply_to"`
	References          *[]string `json:"references"`
	AttachmentFilenames *[]string `json:"attachment_filenames"`
	IsBounce            *bool     `json:"is_bounce"`
	IsAutoReply         *bool     `json:"is_auto_reply"`
	BodyContains        *string   `json:"body_contains"`
	ListID              *string   `json:"list_id"`
	CalendarMethod      *string   `json:"calendar_method"`
}

// corpusDir finds the corpus: $POSTDESK_CORPUS, else shared/corpus in the
// repository's parent or any directory above it. Under CI a missing corpus fails.
func corpusDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("POSTDESK_CORPUS"); d != "" {
		return d
	}
	dir, _ := filepath.Abs(".")
	for {
		c := filepath.Join(dir, "shared", "corpus")
		if _, err := os.Stat(filepath.Join(c, "manifest.json")); err == nil {
			return c
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("corpus not found: set POSTDESK_CORPUS or clone next to shared/corpus")
	}
	t.Skip("corpus not found (set POSTDESK_CORPUS); required under CI=true")
	return ""
}

func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var man corpusManifest
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	if len(man.Messages) < 100 {
		t.Fatalf("manifest lists only %d messages", len(man.Messages))
	}
	ctx := context.Background()
	db := testenv.DB(t)
	intake := &Intake{DB: db, Blobs: &tickets.Blobs{Dir: t.TempDir()}}
	ing := &Ingester{Tickets: tickets.NewService(db), Intake: intake}

	// message_id_reuse: every file gets its own channel, except that the files of a
	// thread group share one, ingested in the group's order.
	groupOf := map[string]int{}
	for i, g := range man.ThreadGroups {
		for _, f := range g {
			groupOf[f] = i
		}
	}
	groupBox := map[int]*tickets.Mailbox{}
	ticketOf := map[string]int64{}
	var order []corpusEntry
	byFile := map[string]corpusEntry{}
	for _, e := range man.Messages {
		byFile[e.File] = e
		if _, ok := groupOf[e.File]; !ok {
			order = append(order, e)
		}
	}
	for _, g := range man.ThreadGroups {
		for _, f := range g {
			order = append(order, byFile[f])
		}
	}

	for _, e := range order {
		t.Run(e.File, func(t *testing.T) {
			var mb *tickets.Mailbox
			if gi, ok := groupOf[e.File]; ok {
				if groupBox[gi] == nil {
					_, groupBox[gi] = newMailbox(t)
				}
				mb = groupBox[gi]
			} else {
				_, mb = newMailbox(t)
			}
			f, err := os.Open(filepath.Join(dir, e.File))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			id, err := intake.Accept(ctx, Arrival{MailboxIDs: []int64{mb.ID}, Source: SourceSMTP}, f)
			if err != nil {
				t.Fatal(err)
			}
			res, err := ing.Process(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Items) != 1 {
				t.Fatalf("ingest made %d items", len(res.Items))
			}
			it := res.Items[0]
			ticketOf[e.File] = it.TicketID
			if it.Duplicate {
				// Only a Message-ID already seen in this channel may be a duplicate.
				var n int64
				db.Raw(`SELECT count(*) FROM messages WHERE ticket_id = ?`, it.TicketID).Scan(&n)
				if e.MessageID == nil || n == 0 {
					t.Fatalf("unexpected duplicate")
				}
				return
			}
			var m tickets.Message
			if err := db.Preload("Attachments", func(q *gorm.DB) *gorm.DB { return q.Order("id") }).Take(&m, it.MessageID).Error; err != nil {
				t.Fatal(err)
			}
			checkCorpusEntry(t, e, &m)
			if e.ListID != nil || e.CalendarMethod != nil {
				f2, _ := os.Open(filepath.Join(dir, e.File))
				defer f2.Close()
				p, err := Parse(f2, ParseOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if e.ListID != nil && p.ListID != *e.ListID {
					t.Errorf("list_id = %q, want %q", p.ListID, *e.ListID)
				}
				if e.CalendarMethod != nil && p.CalendarMethod != *e.CalendarMethod {
					t.Errorf("calendar_method = %q, want %q", p.CalendarMethod, *e.CalendarMethod)
				}
			}
		})
	}

	t.Run("thread_groups", func(t *testing.T) {
		for _, g := range man.ThreadGroups {
			for _, f := range g[1:] {
				if ticketOf[f] == 0 || ticketOf[f] != ticketOf[g[0]] {
					t.Errorf("%s is on ticket %d, %s on %d: want one ticket", f, ticketOf[f], g[0], ticketOf[g[0]])
				}
			}
			var n int64
			db.Raw(`SELECT count(DISTINCT message_id_header) - count(*) FROM messages WHERE ticket_id = ?`, ticketOf[g[0]]).Scan(&n)
			if n != 0 {
				t.Errorf("ticket %d holds a Message-ID twice", ticketOf[g[0]])
			}
		}
	})
}

func checkCorpusEntry(t *testing.T, e corpusEntry, m *tickets.Message) {
	t.Helper()
	if e.Subject != nil && strings.TrimSpace(m.Subject) != strings.TrimSpace(*e.Subject) {
		t.Errorf("subject = %q, want %q", m.Subject, *e.Subject)
	}
	if e.FromAddress != nil && m.FromAddress != *e.FromAddress {
		t.Errorf("from_address = %q, want %q", m.FromAddress, *e.FromAddress)
	}
	if e.FromName != nil && m.FromName != *e.FromName {
		t.Errorf("from_name = %q, want %q", m.FromName, *e.FromName)
	}
	if e.MessageID != nil && m.MessageIDHeader != *e.MessageID {
		t.Errorf("message_id = %q, want %q", m.MessageIDHeader, *e.MessageID)
	}
	if e.InReplyTo != nil && !slices.Equal(strings.Fields(m.InReplyTo), *e.InReplyTo) {
		t.Errorf("in_reply_to = %q, want %q", strings.Fields(m.InReplyTo), *e.InReplyTo)
	}
	if e.References != nil && !slices.Equal([]string(m.References), *e.References) {
		t.Errorf("references = %q, want %q", m.References, *e.References)
	}
	if e.AttachmentFilenames != nil {
		names := []string{}
		for _, a := range m.Attachments {
			if a.Filename != "" {
				names = append(names, a.Filename)
			}
		}
		if !slices.Equal(names, *e.AttachmentFilenames) {
			t.Errorf("attachment_filenames = %q, want %q", names, *e.AttachmentFilenames)
		}
	}
	if e.IsBounce != nil && m.IsBounce != *e.IsBounce {
		t.Errorf("is_bounce = %v, want %v", m.IsBounce, *e.IsBounce)
	}
	if e.IsAutoReply != nil && m.IsAutoReply != *e.IsAutoReply {
		t.Errorf("is_auto_reply = %v, want %v", m.IsAutoReply, *e.IsAutoReply)
	}
	if e.BodyContains != nil && !strings.Contains(m.BodyText, *e.BodyContains) {
		body := m.BodyText
		if len(body) > 300 {
			body = body[:300]
		}
		t.Errorf("body does not contain %q; body starts %q", *e.BodyContains, body)
	}
}
