package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"gorm.io/gorm"

	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/migrations"
	"github.com/postdesk/postdesk/tasks"
	"github.com/postdesk/postdesk/tickets"
)

// app is the wiring shared by every role: one database pool, one Redis client,
// one domain service.
type app struct {
	cfg     *Config
	log     *slog.Logger
	db      *gorm.DB
	tickets *tickets.Service
	tasks   *tasks.Client
	blobs   *tickets.Blobs
	// sendConfig is how outbound mail leaves (relay, pixel URL).
	sendConfig tasks.SendConfig
	// receiver is built on first use by messengerReceiver.
	receiver *messengers.Receiver
}

func openApp(ctx context.Context, cfg *Config, log *slog.Logger, migrate bool) (*app, error) {
	if err := migrations.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	db, err := tickets.OpenDB(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return nil, err
	}
	if migrate {
		sqlDB, _ := db.DB()
		if err := migrations.Up(ctx, sqlDB); err != nil {
			return nil, err
		}
	}
	ropt, err := tasks.RedisOpt(cfg.RedisURL)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	a := &app{cfg: cfg, log: log, db: db, tickets: tickets.NewService(db), tasks: tasks.NewClient(ropt),
		blobs: &tickets.Blobs{Dir: cfg.DataDir}}
	a.tickets.Scheduler = &tasks.Scheduler{Client: a.tasks, DueLead: cfg.DueLead}
	if err := a.wireOutbound(); err != nil {
		a.close()
		return nil, err
	}
	if err := a.tasks.Ping(ctx); err != nil {
		a.close()
		return nil, fmt.Errorf("redis at %s: %w", ropt.Addr, err)
	}
	return a, nil
}

func (a *app) close() {
	a.tasks.Close()
	if sqlDB, err := a.db.DB(); err == nil {
		sqlDB.Close()
	}
}

// ensureFirstAdmin creates an admin when no agent exists yet, from the configured
// e-mail and password or with a generated password printed once.
func (a *app) ensureFirstAdmin(ctx context.Context) error {
	n, err := a.tickets.CountAgents(ctx)
	if err != nil || n > 0 {
		return err
	}
	email, password := a.cfg.AdminEmail, a.cfg.AdminPassword
	if email == "" {
		email = "admin@example.com"
	}
	generated := password == ""
	if generated {
		password = tickets.RandomToken(12)
	}
	if _, err := a.tickets.CreateAgent(ctx, tickets.NewAgent{Email: email, Name: "Admin", Password: password,
		Role: tickets.RoleAdmin}); err != nil {
		return fmt.Errorf("create first admin: %w", err)
	}
	if generated {
		fmt.Printf("\nFirst admin created. Log in with:\n  e-mail:   %s\n  password: %s\n(shown once; change it after logging in)\n\n", email, password)
	} else {
		fmt.Printf("\nFirst admin created: %s (password from POSTDESK_ADMIN_PASSWORD)\n\n", email)
	}
	return nil
}
