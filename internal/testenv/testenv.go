// Package testenv gives each test package its own Postgres database, cloned from a
// migrated template, and its own Redis database number. Tests run against the real
// servers on this machine; there are no database mocks.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }
//
// It lives under internal/ because every package's tests use it and none of the
// product folders owns it.
package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/postdesk/postdesk/migrations"
	"github.com/postdesk/postdesk/tickets"
)

var (
	pkgDSN     string
	pkgDB      *gorm.DB
	redisDBNum = -1
)

// ServerURL is the Postgres server tests use; POSTDESK_TEST_DATABASE_URL overrides it.
// Its path is ignored: every package gets a database of its own.
func ServerURL() string {
	if v := os.Getenv("POSTDESK_TEST_DATABASE_URL"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// RedisAddr is the Redis server tests use; POSTDESK_TEST_REDIS_ADDR overrides it.
func RedisAddr() string {
	if v := os.Getenv("POSTDESK_TEST_REDIS_ADDR"); v != "" {
		return v
	}
	return "127.0.0.1:6379"
}

// Run prepares the package's database and Redis number, runs the tests, and drops
// the database afterwards.
func Run(m *testing.M) int {
	ctx := context.Background()
	name := fmt.Sprintf("pdt_%s_%d", packageName(), os.Getpid())
	if err := createFromTemplate(ctx, name); err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 2
	}
	defer dropDatabase(ctx, name)
	pkgDSN = withDatabase(ServerURL(), name)
	db, err := tickets.OpenDB(ctx, pkgDSN, 10)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 2
	}
	pkgDB = db
	release, err := acquireRedisDB(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 2
	}
	defer release()
	code := m.Run()
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
	return code
}

// DB returns the package's database.
func DB(tb testing.TB) *gorm.DB {
	tb.Helper()
	if pkgDB == nil {
		tb.Fatal("testenv: DB used without testenv.Run in TestMain")
	}
	return pkgDB
}

// DSN returns the URL of the package's database, for code that opens its own pool
// (a `postdesk serve` child process, say).
func DSN(tb testing.TB) string {
	tb.Helper()
	if pkgDSN == "" {
		tb.Fatal("testenv: DSN used without testenv.Run in TestMain")
	}
	return pkgDSN
}

// RedisDB is the Redis database number this package owns; it was flushed at start.
func RedisDB(tb testing.TB) int {
	tb.Helper()
	if redisDBNum < 0 {
		tb.Fatal("testenv: RedisDB used without testenv.Run in TestMain")
	}
	return redisDBNum
}

// RedisURL is a redis:// URL for the package's Redis database.
func RedisURL(tb testing.TB) string {
	return fmt.Sprintf("redis://%s/%d", RedisAddr(), RedisDB(tb))
}

// Asynq returns connection options for asynq on the package's Redis database.
func Asynq(tb testing.TB) asynq.RedisClientOpt {
	return asynq.RedisClientOpt{Addr: RedisAddr(), DB: RedisDB(tb)}
}

// Redis returns a go-redis client on the package's Redis database.
func Redis(tb testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: RedisAddr(), DB: RedisDB(tb)})
	tb.Cleanup(func() { c.Close() })
	return c
}

// Truncate empties the named tables (and what references them), for tests that want
// a clean slate without a new database.
func Truncate(tb testing.TB, tables ...string) {
	tb.Helper()
	if err := DB(tb).Exec("TRUNCATE " + strings.Join(tables, ", ") + " RESTART IDENTITY CASCADE").Error; err != nil {
		tb.Fatalf("truncate: %v", err)
	}
}

func packageName() string {
	base := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	var b strings.Builder
	for _, r := range strings.ToLower(base) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "pkg"
	}
	return b.String()
}

func withDatabase(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

// templateName changes whenever a migration file changes, so a stale template is
// never cloned.
func templateName() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS(), path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%s\x00", path, b)
		return nil
	})
	if err != nil {
		return "", err
	}
	return "pdt_template_" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

func createFromTemplate(ctx context.Context, name string) error {
	tmpl, err := templateName()
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return fmt.Errorf("connect to %s: %w", ServerURL(), err)
	}
	defer conn.Close(ctx)
	// One process at a time builds or clones templates: CREATE DATABASE ... TEMPLATE
	// fails while anyone else is connected to the template.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(727274)`); err != nil {
		return err
	}
	defer conn.Exec(ctx, `SELECT pg_advisory_unlock(727274)`)

	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, tmpl).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		building := tmpl + "_b"
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{building}.Sanitize())
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{building}.Sanitize()); err != nil {
			return fmt.Errorf("create template: %w", err)
		}
		db, err := tickets.OpenDB(ctx, withDatabase(ServerURL(), building), 2)
		if err != nil {
			return err
		}
		sqlDB, _ := db.DB()
		err = migrations.Up(ctx, sqlDB)
		sqlDB.Close()
		if err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s",
			pgx.Identifier{building}.Sanitize(), pgx.Identifier{tmpl}.Sanitize())); err != nil {
			return fmt.Errorf("rename template: %w", err)
		}
	}
	dropStale(ctx, conn)
	conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize())
	_, err = conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s STRATEGY FILE_COPY",
		pgx.Identifier{name}.Sanitize(), pgx.Identifier{tmpl}.Sanitize()))
	if err != nil {
		return fmt.Errorf("clone template: %w", err)
	}
	return nil
}

// dropStale removes package databases left behind by test processes that died
// before their cleanup ran (the name ends in the owner's pid).
func dropStale(ctx context.Context, conn *pgx.Conn) {
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'pdt\_%' AND datname NOT LIKE 'pdt\_template\_%'`)
	if err != nil {
		return
	}
	var stale []string
	for rows.Next() {
		var name string
		if rows.Scan(&name) != nil {
			continue
		}
		i := strings.LastIndexByte(name, '_')
		pid, err := strconv.Atoi(name[i+1:])
		if err != nil {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			stale = append(stale, name)
		}
	}
	rows.Close()
	for _, name := range stale {
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
}

func dropDatabase(ctx context.Context, name string) {
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// acquireRedisDB claims one of Redis databases 1-15 with a lease key in database 0,
// so test packages running at once never share queues.
func acquireRedisDB(ctx context.Context) (func(), error) {
	ctl := redis.NewClient(&redis.Options{Addr: RedisAddr()})
	owner := fmt.Sprintf("%s:%d", packageName(), os.Getpid())
	deadline := time.Now().Add(3 * time.Minute)
	for {
		for n := 1; n <= 15; n++ {
			key := fmt.Sprintf("postdesk:testenv:redisdb:%d", n)
			ok, err := ctl.SetNX(ctx, key, owner, 30*time.Minute).Result()
			if err != nil {
				ctl.Close()
				return nil, fmt.Errorf("redis at %s: %w", RedisAddr(), err)
			}
			if !ok {
				continue
			}
			c := redis.NewClient(&redis.Options{Addr: RedisAddr(), DB: n})
			err = c.FlushDB(ctx).Err()
			c.Close()
			if err != nil {
				ctl.Del(ctx, key)
				ctl.Close()
				return nil, err
			}
			redisDBNum = n
			return func() {
				c := redis.NewClient(&redis.Options{Addr: RedisAddr(), DB: n})
				c.FlushDB(context.Background())
				c.Close()
				ctl.Del(context.Background(), key)
				ctl.Close()
			}, nil
		}
		if time.Now().After(deadline) {
			ctl.Close()
			return nil, fmt.Errorf("no free Redis database among 1-15")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
