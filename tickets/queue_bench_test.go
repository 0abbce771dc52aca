package tickets_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/migrations"
	"github.com/postdesk/postdesk/tickets"
)

// The scale benchmarks run against a generated database of POSTDESK_BENCH_SCALE
// tickets (default 1,000,000, with about 5 messages each). Generating it takes a
// while, so it is kept between runs as postdesk_bench_<scale>_v<generator>_<migrations
// hash>: a new migration is applied to the cached database; only a new generator
// version (tickets.ScaleVersion) or scale generates again. Each benchmark reports p50 and p95 in ms;
// EXPLAIN (ANALYZE, BUFFERS) of every statement they run is written to
// POSTDESK_BENCH_EXPLAIN (default testdata/bench_explain.txt).

func benchScale() int {
	if v, err := strconv.Atoi(os.Getenv("POSTDESK_BENCH_SCALE")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

func migrationsHash(b *testing.B) string {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(migrations.FS(), p)
		fmt.Fprintf(h, "%s\x00%s\x00", p, data)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func dsnFor(name string) string {
	u, err := url.Parse(testenv.ServerURL())
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

var (
	benchOnce sync.Once
	benchDB   *gorm.DB
	benchErr  error
)

// scaleDB returns the cached benchmark database, building it when missing.
func scaleDB(b *testing.B) *gorm.DB {
	benchOnce.Do(func() { benchDB, benchErr = openScaleDB(b) })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDB
}

func openScaleDB(b *testing.B) (*gorm.DB, error) {
	ctx := context.Background()
	scale := benchScale()
	prefix := fmt.Sprintf("postdesk_bench_%d_v%d_", scale, tickets.ScaleVersion)
	name := prefix + migrationsHash(b)
	conn, err := pgx.Connect(ctx, testenv.ServerURL())
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(727275)`); err != nil {
		return nil, err
	}
	defer conn.Exec(ctx, `SELECT pg_advisory_unlock(727275)`)
	like := func(p string) string { return strings.ReplaceAll(p, "_", `\_`) + "%" }
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname NOT LIKE '%\_b'
		ORDER BY datname = $2 DESC, datname LIKE $3 DESC`, like(fmt.Sprintf("postdesk_bench_%d_", scale)), name, like(prefix))
	if err != nil {
		return nil, err
	}
	cached, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	exists := len(cached) > 0 && cached[0] == name
	if !exists && len(cached) > 0 && strings.HasPrefix(cached[0], prefix) {
		// Same scale and generator, older migrations: migrate it forward, as an
		// upgrade of a real install would, instead of generating again.
		b.Logf("migrating %s forward to %s", cached[0], name)
		db, err := tickets.OpenDB(ctx, dsnFor(cached[0]), 2)
		if err != nil {
			return nil, err
		}
		sqlDB, _ := db.DB()
		err = migrations.Up(ctx, sqlDB)
		if err == nil {
			// A migration may rewrite a table (a column with a volatile default), which
			// clears its visibility map: vacuum as autovacuum would after an upgrade.
			_, err = sqlDB.ExecContext(ctx, "VACUUM ANALYZE")
		}
		sqlDB.Close()
		if err != nil {
			return nil, err
		}
		if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", pgx.Identifier{cached[0]}.Sanitize(),
			pgx.Identifier{name}.Sanitize())); err != nil {
			return nil, err
		}
		cached, exists = cached[1:], true
	}
	if !exists {
		// Databases of another generator at this scale are stale: drop them.
		for _, s := range cached {
			conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{s}.Sanitize()+" WITH (FORCE)")
		}
		building := name + "_b"
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{building}.Sanitize()+" WITH (FORCE)")
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{building}.Sanitize()); err != nil {
			return nil, err
		}
		b.Logf("generating %d tickets into %s (once per generator version and scale)", scale, name)
		start := time.Now()
		db, err := tickets.OpenDB(ctx, dsnFor(building), 2)
		if err != nil {
			return nil, err
		}
		sqlDB, _ := db.DB()
		err = migrations.Up(ctx, sqlDB)
		if err == nil {
			err = tickets.GenerateScale(ctx, db, scale, slog.New(slog.NewTextHandler(os.Stderr, nil)))
		}
		sqlDB.Close()
		if err != nil {
			return nil, err
		}
		if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", pgx.Identifier{building}.Sanitize(),
			pgx.Identifier{name}.Sanitize())); err != nil {
			return nil, err
		}
		b.Logf("generated in %s", time.Since(start).Round(time.Second))
	}
	return tickets.OpenDB(ctx, dsnFor(name), 4)
}

// recorder is a gorm logger that keeps the SQL (with values) of every statement.
type recorder struct {
	logger.Interface
	mu   sync.Mutex
	stmt []string
}

func (r *recorder) LogMode(logger.LogLevel) logger.Interface { return r }
func (r *recorder) Trace(_ context.Context, _ time.Time, fc func() (string, int64), _ error) {
	s, _ := fc()
	r.mu.Lock()
	r.stmt = append(r.stmt, s)
	r.mu.Unlock()
}

var explainOut struct {
	sync.Mutex
	b    strings.Builder
	done map[string]bool
}

// explain runs fn once with statement recording and appends EXPLAIN (ANALYZE,
// BUFFERS) of each statement to the report.
func explain(b *testing.B, db *gorm.DB, name string, fn func(*tickets.Service) error) {
	explainOut.Lock()
	if explainOut.done == nil {
		explainOut.done = map[string]bool{}
	}
	seen := explainOut.done[name]
	explainOut.done[name] = true
	explainOut.Unlock()
	if seen {
		return
	}
	rec := &recorder{Interface: logger.Discard}
	svc := tickets.NewService(db.Session(&gorm.Session{Logger: rec}))
	if err := fn(svc); err != nil {
		b.Fatal(err)
	}
	explainOut.Lock()
	defer explainOut.Unlock()
	fmt.Fprintf(&explainOut.b, "==== %s (scale %d)\n", name, benchScale())
	for _, s := range rec.stmt {
		var lines []string
		if err := db.Raw("EXPLAIN (ANALYZE, BUFFERS) " + s).Scan(&lines).Error; err != nil {
			b.Fatalf("explain %s: %v", s, err)
		}
		fmt.Fprintf(&explainOut.b, "-- %s\n%s\n\n", s, strings.Join(lines, "\n"))
	}
	path := os.Getenv("POSTDESK_BENCH_EXPLAIN")
	if path == "" {
		path = "testdata/bench_explain.txt"
	}
	if err := os.WriteFile(path, []byte(explainOut.b.String()), 0o644); err != nil {
		b.Logf("write %s: %v", path, err)
	}
}

// measure runs fn b.N times and reports p50 and p95 in milliseconds.
func measure(b *testing.B, fn func() error) {
	if err := fn(); err != nil { // warm the cache and the plan
		b.Fatal(err)
	}
	d := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	pct := func(p float64) float64 {
		return float64(d[min(len(d)-1, int(float64(len(d))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.95), "p95-ms")
}

func BenchmarkScale(b *testing.B) {
	db := scaleDB(b)
	ctx := context.Background()
	svc := tickets.NewService(db)
	agent, err := svc.AgentByEmail(ctx, tickets.ScaleAgentEmail)
	if err != nil {
		b.Fatal(err)
	}
	admin, err := svc.AgentByEmail(ctx, tickets.ScaleAdminEmail)
	if err != nil {
		b.Fatal(err)
	}
	chans, err := svc.VisibleChannelIDs(ctx, agent)
	if err != nil {
		b.Fatal(err)
	}
	one := chans[0]
	type bench struct {
		name string
		fn   func(*tickets.Service) error
	}
	list := func(a *tickets.Agent, f tickets.TicketFilter) func(*tickets.Service) error {
		return func(s *tickets.Service) error {
			p, err := s.ListTickets(ctx, a, f)
			if err == nil && len(p.Items) == 0 && f.Query == "" {
				err = fmt.Errorf("empty page")
			}
			return err
		}
	}
	counts := func(a *tickets.Agent) func(*tickets.Service) error {
		return func(s *tickets.Service) error {
			_, _, err := s.Sidebar(ctx, a)
			return err
		}
	}
	// An order number and a customer address of a ticket the agent can see, from the
	// middle of the history.
	var probe struct {
		ID        int64
		ContactID int64
	}
	err = db.Raw(`SELECT id, contact_id FROM tickets WHERE channel_id = ? AND contact_id IS NOT NULL AND id >= ?
		ORDER BY id LIMIT 1`, one, benchScale()/2).Scan(&probe).Error
	if err != nil || probe.ID == 0 {
		b.Fatalf("probe ticket: %v", err)
	}
	order := fmt.Sprint(100000 + probe.ID)
	email := fmt.Sprintf("customer%d@example.com", probe.ContactID)
	benches := []bench{
		{"queue_page/agent_all_channels", list(agent, tickets.TicketFilter{})},
		{"queue_page/agent_one_channel", list(agent, tickets.TicketFilter{ChannelID: &one})},
		{"queue_page/admin_all_channels", list(admin, tickets.TicketFilter{})},
		{"queue_page/agent_mine_unread", list(agent, tickets.TicketFilter{Assignee: "me", Unread: ptr(true)})},
		{"queue_page/agent_by_last_activity", list(agent, tickets.TicketFilter{Sort: "last_activity"})},
		{"sidebar_counts/agent", counts(agent)},
		{"sidebar_counts/admin", counts(admin)},
		{"search/order_number", list(agent, tickets.TicketFilter{Query: order})},
		{"search/email", list(agent, tickets.TicketFilter{Query: email})},
		{"search/name", list(agent, tickets.TicketFilter{Query: "Karin Meyer"})},
		{"search/admin_order_number", list(admin, tickets.TicketFilter{Query: order})},
		{"search/common_japanese_phrase", list(agent, tickets.TicketFilter{Query: "渋谷区の花屋"})},
		{"search/common_thai_word", list(agent, tickets.TicketFilter{Query: "ดอกกุหลาบ"})},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			measure(b, func() error { return bb.fn(svc) })
			explain(b, db, bb.name, bb.fn)
		})
	}
}

func ptr[T any](v T) *T { return &v }
