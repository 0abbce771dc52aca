package migrations_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/migrations"
)

// TestConcurrentUp starts several migrators on one empty database at once, as
// several `postdesk serve` processes do on a fresh install: the advisory lock must
// let exactly one apply each migration and the others find nothing to do.
func TestConcurrentUp(t *testing.T) {
	ctx := context.Background()
	name := fmt.Sprintf("pdt_migrate_%d", os.Getpid())
	u, _ := url.Parse(testenv.ServerURL())
	u.Path = "/" + name
	dsn := u.String()
	admin, err := pgx.Connect(ctx, testenv.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name)
	if err := migrations.EnsureDatabase(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	// EnsureDatabase on an existing database is a no-op.
	if err := migrations.EnsureDatabase(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			errs[i] = migrations.Up(ctx, db)
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("migrator %d: %v", i, err)
		}
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, err := migrations.Version(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := migrations.FS().ReadDir(".")
	var maxV int64
	for _, e := range entries {
		var n int64
		if _, err := fmt.Sscanf(e.Name(), "%d_", &n); err == nil && n > maxV {
			maxV = n
		}
	}
	if v != maxV {
		t.Fatalf("version %d, want %d", v, maxV)
	}
	var applied int
	if err := db.QueryRow(`SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if applied != len(entries)-countNonSQL(entries) {
		t.Fatalf("%d migrations recorded, want %d (each once)", applied, len(entries))
	}
}

func countNonSQL(entries []fs.DirEntry) int {
	n := 0
	for _, e := range entries {
		if len(e.Name()) < 4 || e.Name()[len(e.Name())-4:] != ".sql" {
			n++
		}
	}
	return n
}

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }
