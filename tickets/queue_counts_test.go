package tickets_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tickets"
)

// countedSidebar is the sidebar counted straight from the tickets, the way it was
// before counters: the oracle the counters must agree with.
func countedSidebar(t *testing.T, db *gorm.DB, a *tickets.Agent) (tickets.ViewCounts, map[int64]tickets.ChannelCount) {
	t.Helper()
	scope, args := tickets.ChannelScopeSQL(a, "t.channel_id")
	// One row per channel and, from the empty grouping set, the totals (channel NULL).
	var rows []struct {
		ChannelID *int64
		tickets.ViewCounts
	}
	err := db.Raw(`SELECT t.channel_id,
       count(*) FILTER (WHERE t.snoozed_until IS NULL) AS all_open,
       count(*) FILTER (WHERE t.snoozed_until IS NULL AND t.activity_seq > COALESCE(r.seen_seq, 0)) AS unread,
       count(*) FILTER (WHERE t.snoozed_until IS NULL AND t.assignee_id = ?) AS mine,
       count(*) FILTER (WHERE t.snoozed_until IS NULL AND t.assignee_id IS NULL) AS unassigned,
       count(*) FILTER (WHERE t.snoozed_until IS NOT NULL) AS snoozed,
       count(*) FILTER (WHERE t.snoozed_until IS NULL AND t.due_at < now()) AS overdue
FROM tickets t
LEFT JOIN ticket_reads r ON r.agent_id = ? AND r.ticket_id = t.id
WHERE `+scope+` AND t.status IN ('new', 'open', 'pending')
GROUP BY GROUPING SETS ((t.channel_id), ())`, append([]any{a.ID, a.ID}, args...)...).Scan(&rows).Error
	if err != nil {
		t.Fatal(err)
	}
	var v tickets.ViewCounts
	chans := map[int64]tickets.ChannelCount{}
	for _, r := range rows {
		switch {
		case r.ChannelID == nil:
			v = r.ViewCounts
		case r.AllOpen > 0:
			chans[*r.ChannelID] = tickets.ChannelCount{ChannelID: *r.ChannelID, OpenCount: r.AllOpen, UnreadCount: r.Unread}
		}
	}
	return v, chans
}

// countsWorld is a few channels and agents of their own, so counts of other tests'
// tickets do not matter: every agent here sees only these channels.
type countsWorld struct {
	svc      *tickets.Service
	agents   []*tickets.Agent // the last is an admin
	channels []int64
}

func newCountsWorld(t *testing.T, name string) *countsWorld {
	t.Helper()
	ctx := context.Background()
	db := testenv.DB(t)
	w := &countsWorld{svc: tickets.NewService(db)}
	for i := 0; i < 3; i++ {
		var id int64
		if err := db.Raw(`INSERT INTO channels (name, kind, assignment_mode) VALUES (?, 'email', 'none') RETURNING id`,
			fmt.Sprintf("%s %d", name, i)).Scan(&id).Error; err != nil {
			t.Fatal(err)
		}
		w.channels = append(w.channels, id)
	}
	for i := 0; i < 4; i++ {
		role := map[bool]string{true: "admin", false: "agent"}[i == 3]
		var id int64
		if err := db.Raw(`INSERT INTO agents (email, name, role, status) VALUES (?, ?, ?, 'online') RETURNING id`,
			fmt.Sprintf("%s-%d@counts.example", name, i), "Agent", role).Scan(&id).Error; err != nil {
			t.Fatal(err)
		}
		a, err := w.svc.Agent(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		w.agents = append(w.agents, a)
	}
	// Agent 0 in every channel, agent 1 in the first two, agent 2 in the last.
	for _, m := range [][2]int{{0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}, {2, 2}} {
		if err := db.Exec(`INSERT INTO channel_members (channel_id, agent_id) VALUES (?, ?)`,
			w.channels[m[1]], w.agents[m[0]].ID).Error; err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// check compares the counters' sidebar with the counted one for every agent
// (the admin's restricted to this world's channels).
func (w *countsWorld) check(t *testing.T, step string) {
	t.Helper()
	for _, a := range w.agents {
		v, chans, err := w.svc.Sidebar(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		wantV, wantChans := countedSidebar(t, w.svc.DB, a)
		if a.IsAdmin() {
			// Other tests' tickets are in the admin's numbers on both sides; compare
			// this world's channels only.
			for _, ch := range w.channels {
				if chans[ch] != wantChans[ch] {
					t.Fatalf("%s: admin channel %d: counters %+v, counted %+v", step, ch, chans[ch], wantChans[ch])
				}
			}
			continue
		}
		if *v != wantV || !reflect.DeepEqual(chans, wantChans) {
			t.Fatalf("%s: agent %d:\ncounters %+v %v\ncounted  %+v %v", step, a.ID, *v, chans, wantV, wantChans)
		}
	}
}

// seed inserts n tickets spread over the world's channels, statuses, assignees,
// snoozes, due dates and arrival counts; returns their ids.
func (w *countsWorld) seed(t *testing.T, n int) []int64 {
	t.Helper()
	var ids []int64
	err := w.svc.DB.Raw(`INSERT INTO tickets (channel_id, subject, status, assignee_id, snoozed_until, due_at, activity_seq)
SELECT (?::bigint[])[1 + g % 3], 'Counted ' || g,
       (ARRAY['new', 'open', 'pending', 'resolved', 'closed', 'open'])[1 + g % 6],
       (ARRAY[?, ?, NULL, NULL]::bigint[])[1 + g % 4],
       CASE WHEN g % 7 = 0 THEN now() + interval '1 day' END,
       CASE WHEN g % 5 = 0 THEN now() - interval '1 hour' WHEN g % 5 = 1 THEN now() + interval '1 day' END,
       g % 3
FROM generate_series(1, ?) g RETURNING id`, fmt.Sprintf("{%d,%d,%d}", w.channels[0], w.channels[1], w.channels[2]),
		w.agents[0].ID, w.agents[1].ID, n).Scan(&ids).Error
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// arrive stores an inbound message on ticket id, with the ticket locked FOR UPDATE
// as mail ingest does, or without, as other writers may.
func (w *countsWorld) arrive(t *testing.T, id int64, lock bool, pause time.Duration) {
	t.Helper()
	err := w.svc.DB.Transaction(func(tx *gorm.DB) error {
		var tk tickets.Ticket
		q := `SELECT * FROM tickets WHERE id = ?`
		if lock {
			q += ` FOR UPDATE`
		}
		if err := tx.Raw(q, id).Scan(&tk).Error; err != nil {
			return err
		}
		m := &tickets.Message{FromAddress: "customer@counts.example", BodyText: "again"}
		if err := w.svc.AddInboundMessage(context.Background(), tx, &tk, m); err != nil {
			return err
		}
		// Hold the transaction open a moment so reads and other arrivals interleave.
		time.Sleep(pause)
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func TestSidebarCountersFollowEveryChange(t *testing.T) {
	ctx := context.Background()
	w := newCountsWorld(t, fmt.Sprint("Counters follow ", time.Now().UnixNano()))
	db := w.svc.DB
	ids := w.seed(t, 60)
	w.check(t, "seeded")
	a0, a1 := w.agents[0], w.agents[1]
	for _, id := range ids[:30] {
		if err := w.svc.MarkRead(ctx, a0, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids[20:40] {
		if err := w.svc.MarkRead(ctx, a1, id); err != nil && !errors.Is(err, tickets.ErrNotFound) {
			t.Fatal(err)
		}
	}
	w.check(t, "read")
	// Marked unread: a ticket with arrivals and one nobody wrote on (activity_seq 0).
	for _, id := range ids[:6] {
		if err := w.svc.MarkUnread(ctx, a0, id); err != nil {
			t.Fatal(err)
		}
	}
	w.check(t, "marked unread")
	for _, id := range ids[:12] {
		w.arrive(t, id, true, 0)
	}
	w.check(t, "arrivals (reopen, wake on reply)")
	resolved, open := tickets.StatusResolved, tickets.StatusOpen
	if _, err := w.svc.UpdateTicket(ctx, a0, ids[1], tickets.TicketChange{Status: &resolved}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.UpdateTicket(ctx, a0, ids[1], tickets.TicketChange{Status: &open}); err != nil {
		t.Fatal(err)
	}
	me, nobody := &a0.ID, (*int64)(nil)
	if _, err := w.svc.UpdateTicket(ctx, a0, ids[2], tickets.TicketChange{AssigneeID: &me}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.UpdateTicket(ctx, a0, ids[4], tickets.TicketChange{AssigneeID: &nobody}); err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(time.Hour)
	if _, err := w.svc.Snooze(ctx, a0, ids[8], &until, true); err != nil {
		t.Fatal(err)
	}
	w.check(t, "status, assignee, snooze")
	// An agent opens a ticket for the first time while a message on it is being
	// stored: they saw the ticket without it, so it must stay unread for them.
	a2 := w.agents[2]
	tx := db.Begin()
	var tk tickets.Ticket
	if err := tx.Take(&tk, ids[1]).Error; err != nil {
		t.Fatal(err)
	}
	if err := w.svc.AddInboundMessage(ctx, tx, &tk, &tickets.Message{BodyText: "while reading"}); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.MarkRead(ctx, a2, ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit().Error; err != nil {
		t.Fatal(err)
	}
	w.check(t, "first read during an arrival")
	// Changes in SQL, several rows at once: a move between channels, a bulk close,
	// a ticket deleted with its read rows, read rows deleted.
	steps := []struct{ name, sql string }{
		{"moved channel", fmt.Sprintf(`UPDATE tickets SET channel_id = %d WHERE id IN (%d, %d, %d)`, w.channels[2], ids[0], ids[3], ids[21])},
		{"bulk close", fmt.Sprintf(`UPDATE tickets SET status = 'closed' WHERE id BETWEEN %d AND %d`, ids[24], ids[28])},
		{"ticket deleted", fmt.Sprintf(`DELETE FROM tickets WHERE id IN (%d, %d)`, ids[22], ids[23])},
		{"reads deleted", fmt.Sprintf(`DELETE FROM ticket_reads WHERE ticket_id IN (%d, %d)`, ids[5], ids[29])},
		{"unsnoozed", fmt.Sprintf(`UPDATE tickets SET snoozed_until = NULL WHERE channel_id = %d`, w.channels[0])},
		{"new tickets", fmt.Sprintf(`INSERT INTO tickets (channel_id, subject, assignee_id, activity_seq) VALUES (%d, 'new', %d, 1), (%d, 'task', NULL, 0)`,
			w.channels[1], a1.ID, w.channels[2])},
	}
	for _, s := range steps {
		if err := db.Exec(s.sql).Error; err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		w.check(t, s.name)
	}
	if err := w.svc.CompactQueueCounts(ctx); err != nil {
		t.Fatal(err)
	}
	w.check(t, "compacted")
	var rows int64
	db.Raw(`SELECT count(*) FROM queue_counts WHERE channel_id IN ?`, w.channels).Scan(&rows)
	if rows == 0 || rows > 9 { // at most one row per channel and assignee (a0, a1, none)
		t.Fatalf("%d counter rows after compaction", rows)
	}
}

// Arrivals, reads, new tickets and compactions at the same time, on the same
// tickets: the counters still agree with the tickets afterwards.
func TestSidebarCountersUnderConcurrentArrivals(t *testing.T) {
	ctx := context.Background()
	w := newCountsWorld(t, fmt.Sprint("Counters race ", time.Now().UnixNano()))
	ids := w.seed(t, 24)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			rnd := rand.New(rand.NewSource(int64(g)))
			for i := 0; i < 30; i++ {
				id := ids[rnd.Intn(len(ids))]
				a := w.agents[rnd.Intn(3)]
				switch op := rnd.Intn(10); {
				case op < 4:
					w.arrive(t, id, i%2 == 0, time.Duration(rnd.Intn(3))*time.Millisecond)
				case op < 8:
					if err := w.svc.MarkRead(ctx, a, id); err != nil && !errors.Is(err, tickets.ErrNotFound) {
						t.Error(err)
					}
				case op == 8:
					if err := w.svc.MarkUnread(ctx, a, id); err != nil && !errors.Is(err, tickets.ErrNotFound) {
						t.Error(err)
					}
				default:
					if err := w.svc.CompactQueueCounts(ctx); err != nil {
						t.Error(err)
					}
				}
			}
		}(g)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	w.check(t, "after the race")
}
