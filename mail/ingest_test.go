package mail

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tickets"
)

// The same mail accepted several times (an SMTP client retrying after a lost 250,
// an IMAP re-sync) and ingested by several workers at once is one message on one
// ticket, and a new sender is one contact.
func TestIngestSameMailConcurrently(t *testing.T) {
	db := testenv.DB(t)
	_, mb := newMailbox(t)
	_, mb2 := newMailbox(t)
	in := &Intake{DB: db, Blobs: &tickets.Blobs{Dir: blobDir(t)}}
	ing := &Ingester{Tickets: tickets.NewService(db), Intake: in}
	from := unique("race") + "@customer.test"
	raw := mailFrom("Race <"+from+">", "Twice", unique("race")+"@customer.test", "", "hello")

	const copies = 8
	var ids []int64
	for i := 0; i < copies; i++ {
		id, err := in.Accept(context.Background(), Arrival{MailboxIDs: []int64{mb.ID, mb2.ID}, Source: SourceSMTP},
			strings.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	processAtOnce(t, ing, ids, 2) // two workers on each row as well

	var perChannel []struct {
		ChannelID int64
		Messages  int
		Tickets   int
	}
	db.Raw(`SELECT channel_id, count(*) AS messages, count(DISTINCT ticket_id) AS tickets FROM messages
		WHERE from_address = ? GROUP BY channel_id ORDER BY channel_id`, from).Scan(&perChannel)
	if len(perChannel) != 2 {
		t.Fatalf("messages per channel = %+v, want one row for each of the two channels", perChannel)
	}
	for _, c := range perChannel {
		if c.Messages != 1 || c.Tickets != 1 {
			t.Errorf("channel %d: %d messages on %d tickets, want 1 on 1", c.ChannelID, c.Messages, c.Tickets)
		}
	}
	var contacts, unprocessed int64
	db.Raw(`SELECT count(*) FROM contact_identities WHERE value = ?`, from).Scan(&contacts)
	if contacts != 1 {
		t.Errorf("identities for %s = %d, want 1", from, contacts)
	}
	db.Raw(`SELECT count(*) FROM inbound_mails WHERE id IN ? AND processed_at IS NULL`, ids).Scan(&unprocessed)
	if unprocessed != 0 {
		t.Errorf("%d inbound rows left unprocessed", unprocessed)
	}
}

// A failing ingest records its error and counts the attempt; the mail stays
// unprocessed for the retry, and succeeds once the cause is gone.
func TestIngestFailureCountsAttempt(t *testing.T) {
	db := testenv.DB(t)
	_, mb := newMailbox(t)
	in := &Intake{DB: db, Blobs: &tickets.Blobs{Dir: blobDir(t)}}
	ing := &Ingester{Tickets: tickets.NewService(db), Intake: in}
	id, err := in.Accept(context.Background(), Arrival{MailboxIDs: []int64{mb.ID}, Source: SourceSMTP},
		strings.NewReader(mailFrom("a@customer.test", "Fails once", unique("fail")+"@customer.test", "", "hi")))
	if err != nil {
		t.Fatal(err)
	}
	// The subject column refuses the ticket for a moment (a stand-in for any
	// failure inside the ingest transaction).
	if err := db.Exec(`ALTER TABLE tickets ADD CONSTRAINT block_fails CHECK (subject <> 'Fails once')`).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := ing.Process(context.Background(), id); err == nil {
		t.Fatal("ingest succeeded against a blocking constraint")
	}
	var row struct {
		Attempts    int
		LastError   string
		ProcessedAt *string
	}
	db.Raw(`SELECT attempts, last_error, processed_at::text FROM inbound_mails WHERE id = ?`, id).Scan(&row)
	if row.Attempts != 1 || !strings.Contains(row.LastError, "block_fails") || row.ProcessedAt != nil {
		t.Fatalf("after failure: %+v, want attempts 1, the error, unprocessed", row)
	}
	db.Exec(`ALTER TABLE tickets DROP CONSTRAINT block_fails`)
	res, err := ing.Process(context.Background(), id)
	if err != nil || len(res.Items) != 1 || res.Items[0].TicketID == 0 {
		t.Fatalf("retry: %+v, %v", res, err)
	}
	db.Raw(`SELECT attempts, last_error, processed_at::text FROM inbound_mails WHERE id = ?`, id).Scan(&row)
	if row.Attempts != 1 || row.LastError != "" || row.ProcessedAt == nil {
		t.Fatalf("after retry: %+v, want attempts 1, no error, processed", row)
	}
}

// A reply ingested before the mail it answers (one IMAP batch, two workers) and
// that original end on one ticket, in either order and when ingested at once.
func TestIngestReplyBeforeOriginal(t *testing.T) {
	_, mb := newMailbox(t)
	box := []int64{mb.ID}
	from := "Ann <" + unique("ann") + "@customer.test>"

	orig := unique("orig") + "@customer.test"
	reply := mailFrom(from, "Re: Lost parcel", unique("re")+"@customer.test", "In-Reply-To: <"+orig+">\r\n", "any news?")
	first := ingestRaw(t, box, reply)
	second := ingestRaw(t, box, mailFrom(from, "Lost parcel", orig, "", "where is it?"))
	if !first[0].NewTicket || second[0].NewTicket || second[0].TicketID != first[0].TicketID ||
		second[0].ThreadedBy != ThreadByReply {
		t.Fatalf("reply %+v then original %+v: want the original on the reply's ticket, threaded by the reply", first[0], second[0])
	}
	if s := loadTicket(t, first[0].TicketID).Subject; s != "Lost parcel" {
		t.Fatalf("subject %q, want the original's \"Lost parcel\"", s)
	}

	// Both at once, many times over: always one ticket per pair.
	db := testenv.DB(t)
	in := &Intake{DB: db, Blobs: &tickets.Blobs{Dir: blobDir(t)}}
	ing := &Ingester{Tickets: tickets.NewService(db), Intake: in}
	for i := 0; i < 20; i++ {
		orig := unique("o") + "@customer.test"
		raws := []string{
			mailFrom(from, "Order", orig, "", "first"),
			mailFrom(from, "Re: Order", unique("r")+"@customer.test", "References: <"+orig+">\r\n", "second"),
		}
		items := make([][]IngestedItem, 2)
		var wg sync.WaitGroup
		for j, raw := range raws {
			id, err := in.Accept(context.Background(), Arrival{MailboxIDs: box, Source: SourceSMTP}, strings.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := ing.Process(context.Background(), id)
				if err != nil {
					t.Error(err)
					return
				}
				items[j] = res.Items
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		if items[0][0].TicketID != items[1][0].TicketID {
			t.Fatalf("pair %d: original on ticket %d, reply on %d", i, items[0][0].TicketID, items[1][0].TicketID)
		}
	}
}

// Each arrival counts once on the ticket's activity_seq (read state): the mail
// that opens a ticket and each reply after it.
func TestIngestCountsArrivals(t *testing.T) {
	db := testenv.DB(t)
	_, mb := newMailbox(t)
	from := "Cy <" + unique("cy") + "@customer.test>"
	first := unique("first") + "@customer.test"
	items := ingestRaw(t, []int64{mb.ID}, mailFrom(from, "Count me", first, "", "one"))
	seq := func() (n int64) {
		db.Raw(`SELECT activity_seq FROM tickets WHERE id = ?`, items[0].TicketID).Scan(&n)
		return n
	}
	if n := seq(); n != 1 {
		t.Fatalf("activity_seq after the opening mail = %d, want 1", n)
	}
	for i := 0; i < 2; i++ {
		re := ingestRaw(t, []int64{mb.ID}, mailFrom(from, "Re: Count me", unique("re")+"@customer.test",
			"In-Reply-To: <"+first+">\r\n", "more"))
		if re[0].TicketID != items[0].TicketID {
			t.Fatalf("reply %d: %+v, want it on ticket %d", i, re[0], items[0].TicketID)
		}
	}
	if n := seq(); n != 3 {
		t.Fatalf("activity_seq after two replies = %d, want 3", n)
	}
}

// The sender is looked up in the ingest's locking statement: a returning sender,
// in any letter case, is the same contact; a contact merged away resolves to the
// one it was merged into; a contact without a name takes the display name.
func TestIngestResolvesReturningSender(t *testing.T) {
	db := testenv.DB(t)
	_, mb := newMailbox(t)
	local := unique("dora")
	contactOf := func(items []IngestedItem) (id int64) {
		db.Raw(`SELECT contact_id FROM messages WHERE id = ?`, items[0].MessageID).Scan(&id)
		return id
	}
	first := contactOf(ingestRaw(t, []int64{mb.ID}, mailFrom(local+"@customer.test", "One", unique("m")+"@c.test", "", "x")))
	if first == 0 {
		t.Fatal("no contact for a new sender")
	}
	again := contactOf(ingestRaw(t, []int64{mb.ID},
		mailFrom("Dora Diaz <"+strings.ToUpper(local)+"@Customer.TEST>", "Two", unique("m")+"@c.test", "", "x")))
	if again != first {
		t.Fatalf("returning sender: contact %d, want %d", again, first)
	}
	var name string
	db.Raw(`SELECT name FROM contacts WHERE id = ?`, first).Scan(&name)
	if name != "Dora Diaz" {
		t.Fatalf("empty name not filled from the display name: %q", name)
	}
	survivor := &tickets.Contact{Name: "Dora (merged)"}
	if err := db.Create(survivor).Error; err != nil {
		t.Fatal(err)
	}
	db.Exec(`UPDATE contacts SET merged_into_id = ? WHERE id = ?`, survivor.ID, first)
	if got := contactOf(ingestRaw(t, []int64{mb.ID}, mailFrom(local+"@customer.test", "Three", unique("m")+"@c.test", "", "x"))); got != survivor.ID {
		t.Fatalf("merged contact: %d, want the survivor %d", got, survivor.ID)
	}
}

// The ingest transaction's lookup of stored messages keeps to the indexes under
// the generic plan it uses, even when the plan is made while messages is small:
// such a plan outlives the table's growth until autovacuum analyzes it again, and
// a sequential scan in it read the whole table once per mail.
func TestArrivalLookupPlanUsesIndexes(t *testing.T) {
	db := testenv.DB(t)
	err := db.Transaction(func(tx *gorm.DB) error {
		// A table of messages as a new install has it, in place of the package's
		// (a temporary table comes first on the search path).
		for _, q := range []string{
			`CREATE TEMP TABLE messages (LIKE public.messages INCLUDING ALL) ON COMMIT DROP`,
			`INSERT INTO messages (ticket_id, channel_id, direction, status, message_id_header, body_text)
				SELECT 0, 1, 'inbound', 'received', 'm' || i || '@customer.test', repeat('word ', 1000)
				FROM generate_series(1, 500) i`,
			`ANALYZE messages`,
			`SELECT ` + arrivalSettings,
		} {
			if err := tx.Exec(q).Error; err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		n := 0
		numbered := regexp.MustCompile(`\?`).ReplaceAllStringFunc(arrivalLookupSQL, func(string) string {
			n++
			return fmt.Sprintf("$%d", n)
		})
		if err := tx.Exec(`PREPARE arrival_lookup (bigint, text[], text, text, bigint[], text[], text) AS ` + numbered).Error; err != nil {
			return err
		}
		var plan []string
		if err := tx.Raw(`EXPLAIN EXECUTE arrival_lookup (1, '{m1@customer.test}', 'email', 'c@customer.test', '{1}',
			'{m1@customer.test}', 'm1@customer.test')`).Scan(&plan).Error; err != nil {
			return err
		}
		tx.Exec(`DEALLOCATE arrival_lookup`)
		if text := strings.Join(plan, "\n"); strings.Contains(text, "Seq Scan on messages") {
			t.Errorf("the lookup scans messages:\n%s", text)
		}
		return errors.New("rollback")
	})
	if err == nil || err.Error() != "rollback" {
		t.Fatal(err)
	}
}

// Mail arriving at once in a round-robin or least-open channel is assigned in
// turn, without deadlocks: each arrival inserts its ticket (which takes a key-share
// lock on the channel row through the foreign key) before it locks the channel to
// pick the next agent, and an exclusive row lock there made every two concurrent
// arrivals wait for each other until Postgres aborted one of them.
func TestIngestConcurrentAutoAssignment(t *testing.T) {
	for _, mode := range []string{"round_robin", "least_open"} {
		t.Run(mode, func(t *testing.T) {
			db := testenv.DB(t)
			ch, mb := newMailbox(t)
			agents := autoAssigning(t, ch.ID, mode, 2)
			in := &Intake{DB: db, Blobs: &tickets.Blobs{Dir: blobDir(t)}}
			ing := &Ingester{Tickets: tickets.NewService(db), Intake: in}
			const n = 24
			var ids []int64
			for i := 0; i < n; i++ {
				raw := mailFrom(fmt.Sprintf("C%d <%s@customer.test>", i, unique("c")), "Turns", unique("turn")+"@customer.test", "", "hi")
				id, err := in.Accept(context.Background(), Arrival{MailboxIDs: []int64{mb.ID}, Source: SourceSMTP},
					strings.NewReader(raw))
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			processAtOnce(t, ing, ids, 1)
			var split []struct {
				AssigneeID *int64
				N          int
			}
			db.Raw(`SELECT assignee_id, count(*) AS n FROM tickets WHERE channel_id = ? GROUP BY 1 ORDER BY 1`, ch.ID).Scan(&split)
			if len(split) != 2 || split[0].AssigneeID == nil || *split[0].AssigneeID != agents[0] ||
				split[1].AssigneeID == nil || *split[1].AssigneeID != agents[1] || split[0].N != n/2 || split[1].N != n/2 {
				got := ""
				for _, s := range split {
					got += fmt.Sprintf(" %v:%d", s.AssigneeID, s.N)
				}
				t.Fatalf("tickets per assignee:%s; want %d each for agents %v", got, n/2, agents)
			}
			// Each ticket's timeline and its assignee's notifications say so once.
			var wrong int64
			db.Raw(`SELECT count(*) FROM tickets tk WHERE tk.channel_id = ? AND (
					(SELECT count(*) FROM ticket_events e WHERE e.ticket_id = tk.id AND e.kind = 'assigned'
						AND e.new_value = tk.assignee_id::text) <> 1
					OR (SELECT count(*) FROM notifications nt WHERE nt.ticket_id = tk.id AND nt.kind = ?
						AND nt.agent_id = tk.assignee_id) <> 1)`, ch.ID, tickets.NotifyAssignment).Scan(&wrong)
			if wrong != 0 {
				t.Fatalf("%d tickets without exactly one assigned event and one notification for the assignee", wrong)
			}
		})
	}
}

// processAtOnce ingests every inbound mail in ids at the same time, each by
// workers goroutines, and reports every error.
func processAtOnce(t *testing.T, ing *Ingester, ids []int64, workers int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(ids)*workers)
	for _, id := range ids {
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := ing.Process(context.Background(), id); err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Process waits for one of the Ingester's Concurrent slots before it touches
// the database, and gives up when its context ends first.
func TestIngestWaitsForASlot(t *testing.T) {
	g := &Ingester{Concurrent: 1} // no Tickets: getting past the wait would panic
	release, err := g.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := g.Process(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Process with every slot taken: %v, want the context's deadline", err)
	}
	release()
	if r, err := g.acquire(context.Background()); err != nil {
		t.Fatalf("slot not given back: %v", err)
	} else {
		r()
	}
}
