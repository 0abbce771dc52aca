package main

import (
	"context"
	"net/url"

	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/jackc/pgx/v5"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/postdesk/postdesk/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

func TestConfigEnvThenFlags(t *testing.T) {
	t.Setenv("POSTDESK_HTTP_ADDR", ":9999")
	t.Setenv("POSTDESK_DB_MAX_CONNS", "7")
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	cfg, err := loadConfig(fs)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != ":9999" || cfg.DBMaxConns != 7 || cfg.SMTPAddr != ":2525" {
		t.Fatalf("env not applied: %+v", cfg)
	}
	if err := fs.Parse([]string{"--http-addr", ":7000", "--shutdown-grace", "3s"}); err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPAddr != ":7000" || cfg.ShutdownGrace != 3*time.Second {
		t.Fatalf("flags did not override: %+v", cfg)
	}
	t.Setenv("POSTDESK_DB_MAX_CONNS", "many")
	if _, err := loadConfig(flag.NewFlagSet("y", flag.ContinueOnError)); err == nil || !strings.Contains(err.Error(), "POSTDESK_DB_MAX_CONNS") {
		t.Fatalf("bad env value not reported: %v", err)
	}
}

// TestReadmeConfigTable keeps the README's configuration table generated from Config.
func TestReadmeConfigTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), configTable()) {
		t.Fatalf("README.md configuration table is out of date; paste the output of `postdesk config`:\n%s", configTable())
	}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// buildBinary builds the postdesk binary once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "postdesk-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "postdesk")
		out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v", buildErr)
	}
	return builtBin
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func env(t *testing.T, extra ...string) []string {
	return append(os.Environ(), append([]string{
		"POSTDESK_DATABASE_URL=" + testenv.DSN(t),
		"POSTDESK_REDIS_URL=" + testenv.RedisURL(t),
		"POSTDESK_DATA_DIR=" + t.TempDir(),
		"POSTDESK_SMTP_ADDR=" + freePortOrEmpty(),
	}, extra...)...)
}

func freePortOrEmpty() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServeLifecycle runs the real binary: it migrates, creates the first admin,
// serves the API with a working login, and exits cleanly on SIGTERM.
func TestServeLifecycle(t *testing.T) {
	bin := buildBinary(t)
	addr := freePort(t)
	cmd := exec.Command(bin, "serve", "--roles", "web,worker,scheduler", "--http-addr", addr)
	// A database that does not exist yet: serve creates and migrates it, and finds
	// no agent, so it creates the first admin.
	cmd.Env = env(t, "POSTDESK_ADMIN_EMAIL=first@example.com", "POSTDESK_ADMIN_PASSWORD=first-admin-pass",
		"POSTDESK_DATABASE_URL="+newDatabaseURL(t))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	base := "http://" + addr
	if !waitHealthy(base, 30*time.Second) {
		t.Fatalf("server did not become healthy:\n%s", stderr.String())
	}
	var printed []string
	for done := false; !done; {
		select {
		case l, ok := <-lines:
			if !ok {
				done = true
			}
			printed = append(printed, l)
			if strings.HasPrefix(l, "Postdesk is running at") {
				done = true
			}
		case <-time.After(5 * time.Second):
			done = true
		}
	}
	if !strings.Contains(strings.Join(printed, "\n"), "first@example.com") {
		t.Fatalf("first admin not announced: %q", printed)
	}
	jar := &cookieJar{}
	res := post(t, base+"/api/v1/auth/login", `{"email":"first@example.com","password":"first-admin-pass"}`, jar)
	if res.StatusCode != 200 {
		t.Fatalf("login: %d", res.StatusCode)
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/me", nil)
	jar.add(req)
	me, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Role string }
	json.NewDecoder(me.Body).Decode(&body)
	me.Body.Close()
	if me.StatusCode != 200 || body.Role != "admin" {
		t.Fatalf("me: %d %+v", me.StatusCode, body)
	}

	stopAt := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	defer func() { t.Logf("stopped %v after SIGTERM", time.Since(stopAt).Round(time.Millisecond)) }()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM:\n%s", err, stderr.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not stop within 40 s of SIGTERM")
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Fatalf("no graceful shutdown logged:\n%s", stderr.String())
	}
}

func TestAdminCommands(t *testing.T) {
	bin := buildBinary(t)
	run := func(args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Env = env(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("postdesk %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := run("admin", "create-agent", "--email", "cli@example.com", "--name", "Cli", "--role", "admin")
	if !strings.Contains(out, "created admin cli@example.com") || !strings.Contains(out, "password: ") {
		t.Fatalf("create-agent printed %q", out)
	}
	out = run("admin", "reset-password", "--email", "cli@example.com", "--password", "a-new-password")
	if !strings.Contains(out, "password of cli@example.com changed") {
		t.Fatalf("reset-password printed %q", out)
	}
	token := strings.TrimSpace(run("admin", "create-token", "--email", "cli@example.com", "--name", "ci"))
	if !strings.HasPrefix(token, "pd_") {
		t.Fatalf("token %q", token)
	}
	// A wrong e-mail is a clear error, not a crash.
	cmd := exec.Command(bin, "admin", "reset-password", "--email", "nobody@example.com")
	cmd.Env = env(t)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "nobody@example.com") {
		t.Fatalf("unknown agent: err=%v out=%s", err, out)
	}
	// The token authenticates against a running API.
	addr := freePort(t)
	srv := exec.Command(bin, "serve", "--roles", "web", "--http-addr", addr)
	srv.Env = env(t)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() }()
	if !waitHealthy("http://"+addr, 30*time.Second) {
		t.Fatal("server not healthy")
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("token rejected: %d", res.StatusCode)
	}
}

func TestUnknownRole(t *testing.T) {
	if _, err := parseRoles("web,mailman"); err == nil || !strings.Contains(err.Error(), "mailman") {
		t.Fatalf("unknown role accepted: %v", err)
	}
	r, err := parseRoles(" web , worker ")
	if err != nil || !r["web"] || !r["worker"] || r["smtp"] {
		t.Fatalf("roles %v %v", r, err)
	}
}

// newDatabaseURL names a database that does not exist yet and drops it after the test.
func newDatabaseURL(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("pdt_fresh_%d_%d", time.Now().UnixNano()%1e9, os.Getpid())
	u, err := url.Parse(testenv.ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), testenv.ServerURL())
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return u.String()
}

func waitHealthy(base string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				return true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

type cookieJar struct{ cookies []*http.Cookie }

func (j *cookieJar) add(r *http.Request) {
	for _, c := range j.cookies {
		r.AddCookie(c)
	}
}

func post(t *testing.T, url, body string, jar *cookieJar) *http.Response {
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	jar.cookies = append(jar.cookies, res.Cookies()...)
	return res
}
