package mail

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tickets"
)

type enqueued struct {
	mu  sync.Mutex
	ids []int64
	err error
}

func (e *enqueued) fn(ctx context.Context, id int64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ids = append(e.ids, id)
	return e.err
}

func newIntake(t *testing.T, q *enqueued) *Intake {
	return &Intake{DB: testenv.DB(t), Blobs: &tickets.Blobs{Dir: t.TempDir()}, Enqueue: q.fn, MaxSize: 1 << 20}
}

type storedRow struct {
	MailboxIDs tickets.Int64List `gorm:"column:mailbox_ids"`
	Source     string
	Raw        []byte
	RawSHA256  *string `gorm:"column:raw_sha256"`
	Size       int64
}

func loadRow(t *testing.T, id int64) storedRow {
	t.Helper()
	var r storedRow
	if err := testenv.DB(t).Raw(`SELECT mailbox_ids, source, raw, raw_sha256, size FROM inbound_mails WHERE id = ?`, id).
		Scan(&r).Error; err != nil {
		t.Fatal(err)
	}
	return r
}

func TestIntakeAccept(t *testing.T) {
	ctx := context.Background()
	_, mb := newMailbox(t)
	_, mb2 := newMailbox(t)
	mail := "From: a@b.test\r\nSubject: hi\r\n\r\nhello\r\n"

	t.Run("small_mail_is_stored_in_the_row_and_enqueued", func(t *testing.T) {
		q := &enqueued{}
		in := newIntake(t, q)
		id, err := in.Accept(ctx, Arrival{MailboxIDs: []int64{mb.ID, mb2.ID}, Source: SourceSMTP, EnvelopeFrom: "a@b.test"},
			strings.NewReader(mail))
		if err != nil {
			t.Fatal(err)
		}
		r := loadRow(t, id)
		if string(r.Raw) != mail || r.RawSHA256 != nil || r.Size != int64(len(mail)) || r.Source != "smtp" {
			t.Fatalf("row = %+v", r)
		}
		if len(r.MailboxIDs) != 2 || r.MailboxIDs[0] != mb.ID || r.MailboxIDs[1] != mb2.ID {
			t.Fatalf("mailbox_ids = %v", r.MailboxIDs)
		}
		if len(q.ids) != 1 || q.ids[0] != id {
			t.Fatalf("enqueued %v, want [%d]", q.ids, id)
		}
		rc, err := in.OpenRaw(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if b, _ := io.ReadAll(rc); string(b) != mail {
			t.Fatalf("OpenRaw = %q", b)
		}
	})

	t.Run("large_mail_goes_to_the_blob_store", func(t *testing.T) {
		q := &enqueued{}
		in := newIntake(t, q)
		big := mail + strings.Repeat("x", InlineRawLimit*2)
		id, err := in.Accept(ctx, Arrival{MailboxIDs: []int64{mb.ID}, Source: SourceLMTP}, strings.NewReader(big))
		if err != nil {
			t.Fatal(err)
		}
		r := loadRow(t, id)
		if r.Raw != nil || r.RawSHA256 == nil || r.Size != int64(len(big)) {
			t.Fatalf("row = %+v", r)
		}
		f, err := in.Blobs.Open(*r.RawSHA256)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if b, _ := io.ReadAll(f); !bytes.Equal(b, []byte(big)) {
			t.Fatal("blob differs from the mail")
		}
		rc, err := in.OpenRaw(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if b, _ := io.ReadAll(rc); len(b) != len(big) {
			t.Fatalf("OpenRaw read %d bytes", len(b))
		}
	})

	t.Run("oversize_mail_is_refused_and_not_stored", func(t *testing.T) {
		q := &enqueued{}
		in := newIntake(t, q)
		in.MaxSize = 100 << 10
		var before int64
		testenv.DB(t).Raw(`SELECT count(*) FROM inbound_mails`).Scan(&before)
		for _, n := range []int{(100 << 10) + 1, 50 << 10} {
			in.MaxSize = int64(n - 1)
			_, err := in.Accept(ctx, Arrival{MailboxIDs: []int64{mb.ID}, Source: SourceSMTP}, strings.NewReader(strings.Repeat("y", n)))
			if !errors.Is(err, ErrMailTooLarge) {
				t.Fatalf("size %d: err = %v, want ErrMailTooLarge", n, err)
			}
		}
		var after int64
		testenv.DB(t).Raw(`SELECT count(*) FROM inbound_mails`).Scan(&after)
		if after != before || len(q.ids) != 0 {
			t.Fatalf("rows %d -> %d, enqueued %v", before, after, q.ids)
		}
	})

	t.Run("same_imap_uid_twice_is_one_row", func(t *testing.T) {
		q := &enqueued{}
		in := newIntake(t, q)
		a := Arrival{MailboxIDs: []int64{mb.ID}, Source: SourceIMAP, IMAPMailboxID: mb.ID, IMAPUIDValidity: 7, IMAPUID: 42}
		id1, err := in.Accept(ctx, a, strings.NewReader(mail))
		if err != nil {
			t.Fatal(err)
		}
		id2, err := in.Accept(ctx, a, strings.NewReader(mail))
		if err != nil {
			t.Fatal(err)
		}
		if id1 != id2 {
			t.Fatalf("ids %d and %d", id1, id2)
		}
		a.IMAPUIDValidity = 8 // a UIDVALIDITY reset makes it a different row
		id3, err := in.Accept(ctx, a, strings.NewReader(mail))
		if err != nil || id3 == id1 {
			t.Fatalf("after uidvalidity change: id %d err %v", id3, err)
		}
		var n int64
		testenv.DB(t).Raw(`SELECT count(*) FROM inbound_mails WHERE imap_mailbox_id = ?`, mb.ID).Scan(&n)
		if n != 2 || len(q.ids) != 2 {
			t.Fatalf("rows %d, enqueued %v", n, q.ids)
		}
	})

	t.Run("enqueue_failure_still_accepts", func(t *testing.T) {
		q := &enqueued{err: errors.New("redis down")}
		in := newIntake(t, q)
		id, err := in.Accept(ctx, Arrival{MailboxIDs: []int64{mb.ID}, Source: SourceSMTP}, strings.NewReader(mail))
		if err != nil || id == 0 {
			t.Fatalf("id %d err %v", id, err)
		}
		var pending []int64
		if err := testenv.DB(t).Raw(`SELECT id FROM inbound_mails WHERE processed_at IS NULL AND id = ?`, id).Scan(&pending).Error; err != nil || len(pending) != 1 {
			t.Fatalf("unprocessed row missing: %v %v", pending, err)
		}
	})

	t.Run("bad_arrivals_are_rejected", func(t *testing.T) {
		in := newIntake(t, &enqueued{})
		if _, err := in.Accept(ctx, Arrival{Source: SourceSMTP}, strings.NewReader(mail)); err == nil {
			t.Fatal("no mailbox accepted")
		}
		if _, err := in.Accept(ctx, Arrival{MailboxIDs: []int64{mb.ID}, Source: "pigeon"}, strings.NewReader(mail)); err == nil {
			t.Fatal("unknown source accepted")
		}
	})
}

func TestResolveRecipient(t *testing.T) {
	ctx := context.Background()
	_, mb := newMailbox(t)
	in := newIntake(t, &enqueued{})
	local, domain, _ := strings.Cut(mb.Address, "@")
	for _, tc := range []struct {
		name, addr string
		ok         bool
	}{
		{"exact", mb.Address, true},
		{"upper_case", strings.ToUpper(mb.Address), true},
		{"plus_tag", local + "+billing@" + domain, true},
		{"angle_brackets", "<" + mb.Address + ">", true},
		{"other_domain", local + "@elsewhere.test", false},
		{"unknown_local", "nobody-" + local + "@" + domain, false},
		{"empty", "", false},
		{"no_domain", local, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, ok, err := in.ResolveRecipient(ctx, tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.ok || (ok && id != mb.ID) {
				t.Fatalf("ResolveRecipient(%q) = %d, %v", tc.addr, id, ok)
			}
		})
	}
}

// A resolved recipient is remembered for recipientTTL (no round trip per mail);
// an unknown one is not, so a mailbox added a moment ago is never refused.
func TestResolveRecipientCachesKnownAddressesOnly(t *testing.T) {
	ctx := context.Background()
	db := testenv.DB(t)
	ch, mb := newMailbox(t)
	in := newIntake(t, &enqueued{})

	if id, ok, err := in.ResolveRecipient(ctx, mb.Address); err != nil || !ok || id != mb.ID {
		t.Fatalf("ResolveRecipient(%q) = %d, %v, %v", mb.Address, id, ok, err)
	}
	// Renamed in Postgres: the cached answer holds until it expires.
	if err := db.Exec(`UPDATE mailboxes SET address = ? WHERE id = ?`, unique("renamed")+"@example.test", mb.ID).Error; err != nil {
		t.Fatal(err)
	}
	if id, ok, _ := in.ResolveRecipient(ctx, strings.ToUpper(mb.Address)); !ok || id != mb.ID {
		t.Fatalf("cached recipient = %d, %v; want mailbox %d", id, ok, mb.ID)
	}
	in.recipients.entries[NormaliseRecipient(mb.Address)] = cachedRecipient{mailboxID: mb.ID, expires: time.Now().Add(-time.Second)}
	if id, ok, _ := in.ResolveRecipient(ctx, mb.Address); ok {
		t.Fatalf("expired entry still resolves to %d", id)
	}

	// Unknown, then added: found at once.
	addr := unique("new") + "@example.test"
	if _, ok, _ := in.ResolveRecipient(ctx, addr); ok {
		t.Fatalf("%s resolved before it exists", addr)
	}
	added := &tickets.Mailbox{ChannelID: ch.ID, Address: addr, Inbound: "smtp", IMAPPort: 993, IMAPSecurity: "tls",
		IMAPFolder: "INBOX", IMAPAfter: "seen", SMTPPort: 587, SMTPSecurity: "starttls"}
	if err := db.Create(added).Error; err != nil {
		t.Fatal(err)
	}
	if id, ok, err := in.ResolveRecipient(ctx, addr); err != nil || !ok || id != added.ID {
		t.Fatalf("new mailbox: ResolveRecipient = %d, %v, %v", id, ok, err)
	}
}
