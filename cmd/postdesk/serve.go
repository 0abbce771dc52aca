package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/postdesk/postdesk/mail"
	"github.com/postdesk/postdesk/tasks"
	"github.com/postdesk/postdesk/web"
)

var knownRoles = []string{"web", "smtp", "worker", "scheduler"}

func parseRoles(s string) (map[string]bool, error) {
	roles := map[string]bool{}
	for _, r := range strings.Split(s, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		ok := false
		for _, k := range knownRoles {
			ok = ok || k == r
		}
		if !ok {
			return nil, fmt.Errorf("unknown role %q (want some of %s)", r, strings.Join(knownRoles, ","))
		}
		roles[r] = true
	}
	if len(roles) == 0 {
		return nil, errors.New("no roles to run")
	}
	return roles, nil
}

// runServe starts the chosen roles and stops them gracefully on SIGINT/SIGTERM:
// HTTP and SMTP stop accepting and finish what they have, the worker finishes its
// in-flight tasks.
func runServe(ctx context.Context, args []string) error {
	start := time.Now()
	cfg, _, err := parse("serve", args, nil)
	if err != nil {
		return err
	}
	roles, err := parseRoles(cfg.Roles)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel)
	a, err := openApp(ctx, cfg, log, cfg.AutoMigrate)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.ensureFirstAdmin(ctx); err != nil {
		return err
	}

	// One publish point for live updates, in every role: a worker's ingest reaches the
	// browsers of every web process through Redis pub/sub.
	live := web.NewLive(a.tasks.Redis(), log)
	a.tickets.Publisher = live
	go func() { <-ctx.Done(); live.Close() }()

	worker := tasks.NewWorker(a.tasks.RedisOpt(), log)
	tasks.Register(worker, a.taskDeps())

	var wg sync.WaitGroup
	errc := make(chan error, len(knownRoles))
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	if roles["web"] {
		srv := web.New(web.Config{BaseURL: cfg.BaseURL, Version: version}, web.Deps{Tickets: a.tickets, Tasks: a.tasks,
			Blobs: a.blobs, Log: log, Live: live, Messengers: a.messengerReceiver(),
			SMTPCheck: a.sender()})
		ln, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return fmt.Errorf("http listen: %w", err)
		}
		run("web", func(ctx context.Context) error { return serveHTTP(ctx, ln, srv.Handler(), cfg.ShutdownGrace) })
		log.Info("web listening", "addr", ln.Addr().String())
	}
	if roles["smtp"] {
		f, err := a.smtpRole()
		if err != nil {
			return err
		}
		run("smtp", f)
	}
	if roles["worker"] {
		run("worker", worker.RunWorker)
	}
	if roles["scheduler"] {
		run("scheduler", worker.RunScheduler)
	}
	log.Info("postdesk started", "roles", cfg.Roles, "startup", time.Since(start).Round(time.Millisecond))
	if roles["web"] {
		fmt.Printf("Postdesk is running at %s\n", cfg.BaseURL)
	}

	select {
	case <-ctx.Done():
	case err := <-errc:
		log.Error("role failed; shutting down", "err", err)
		wg.Wait()
		return err
	}
	log.Info("shutting down")
	wg.Wait()
	return nil
}

func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	return srv.Shutdown(sctx)
}

func (a *app) taskDeps() tasks.Deps {
	return tasks.Deps{Tickets: a.tickets, Client: a.tasks, Log: a.log, Blobs: a.blobs, Send: a.sendConfig,
		IMAP: a.imapPoller(), IMAPPollInterval: a.cfg.IMAPPollInterval, Messengers: a.messengerReceiver(),
		DueLead: a.cfg.DueLead,
		Ingester: &mail.Ingester{Tickets: a.tickets, Intake: a.intake(), Log: a.log,
			Concurrent: a.cfg.IngestConcurrency}}
}

// imapPoller drains IMAP mailboxes into the same intake as inbound SMTP.
func (a *app) imapPoller() *mail.IMAPPoller {
	idle := a.cfg.IMAPIdleSessions
	if idle <= 0 {
		idle = -1 // the poller's "never idle"
	}
	return &mail.IMAPPoller{
		Tickets:         a.tickets,
		Sink:            a.intake(),
		DSN:             a.cfg.DatabaseURL,
		MaxIdleSessions: idle,
		Log:             a.log,
	}
}

// smtpRole returns the inbound SMTP (and optional LMTP) server role. Listeners are
// opened here so a bad address fails startup instead of a running role.
func (a *app) smtpRole() (func(context.Context) error, error) {
	cfg := a.cfg
	base := mail.SMTPConfig{Hostname: cfg.Hostname, MaxMessageBytes: int64(cfg.SMTPMaxBytes),
		MaxRecipients: cfg.SMTPMaxRcpts, MaxLineLength: cfg.SMTPMaxLine, CommandTimeout: cfg.SMTPCmdWait,
		DataTimeout: cfg.SMTPDataWait, MaxConnsPerIP: cfg.SMTPConnsIP}
	if cfg.SMTPTLSCert != "" || cfg.SMTPTLSKey != "" {
		cert, err := tls.LoadX509KeyPair(cfg.SMTPTLSCert, cfg.SMTPTLSKey)
		if err != nil {
			return nil, fmt.Errorf("smtp tls: %w", err)
		}
		base.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	type listener struct {
		ln  net.Listener
		cfg mail.SMTPConfig
	}
	var lns []listener
	ln, err := net.Listen("tcp", cfg.SMTPAddr)
	if err != nil {
		return nil, fmt.Errorf("smtp listen: %w", err)
	}
	lns = append(lns, listener{ln, base})
	if cfg.SMTPLMTPAddr != "" {
		network, addr := "tcp", cfg.SMTPLMTPAddr
		if strings.HasPrefix(addr, "unix:") {
			network, addr = "unix", strings.TrimPrefix(addr, "unix:")
		}
		l2, err := net.Listen(network, addr)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("lmtp listen: %w", err)
		}
		lc := base
		lc.LMTP = true
		lns = append(lns, listener{l2, lc})
	}
	intake := a.intake()
	for _, l := range lns {
		a.log.Info("smtp listening", "addr", l.ln.Addr().String(), "lmtp", l.cfg.LMTP, "starttls", l.cfg.TLS != nil)
	}
	return func(ctx context.Context) error {
		var wg sync.WaitGroup
		errc := make(chan error, len(lns))
		for _, l := range lns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := mail.NewSMTPServer(l.cfg, intake, a.log).Serve(ctx, l.ln, cfg.ShutdownGrace); err != nil {
					errc <- err
				}
			}()
		}
		wg.Wait()
		close(errc)
		return <-errc
	}, nil
}

// intake is the durable store for raw inbound mail, shared by SMTP and IMAP.
func (a *app) intake() *mail.Intake {
	return &mail.Intake{DB: a.db, Blobs: a.blobs, Enqueue: a.tasks.EnqueueIngest,
		MaxSize: int64(a.cfg.SMTPMaxBytes), Log: a.log}
}

func runMigrate(ctx context.Context, args []string) error {
	cfg, _, err := parse("migrate", args, nil)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg, newLogger(cfg.LogLevel), true)
	if err != nil {
		return err
	}
	defer a.close()
	fmt.Println("migrations applied")
	return nil
}
