// Command postdesk is the whole helpdesk in one binary: `serve` runs the web, SMTP,
// worker and scheduler roles; `migrate`, `admin` and `version` are for operators.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `postdesk — an email-first helpdesk

Usage:
  postdesk serve [--roles web,smtp,worker,scheduler] [flags]
  postdesk migrate [flags]
  postdesk admin create-agent --email E --name N [--password P] [--role admin|agent]
  postdesk admin reset-password --email E [--password P]
  postdesk admin create-token --email E [--name N]
  postdesk demo [--scale N] [--password P]   load the flower-shop demo (or N generated tickets)
  postdesk config      print the configuration table
  postdesk version

Every flag can also be set by its POSTDESK_* environment variable (see postdesk config).
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "serve":
		err = runServe(ctx, args)
	case "migrate":
		err = runMigrate(ctx, args)
	case "admin":
		err = runAdmin(ctx, args)
	case "demo":
		err = runDemo(ctx, args)
	case "config":
		fmt.Print(configTable())
	case "version":
		fmt.Println("postdesk", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "postdesk: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "postdesk:", err)
		os.Exit(1)
	}
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// parse loads the configuration and parses flags; extra lets a command add its own.
func parse(name string, args []string, extra func(*flag.FlagSet)) (*Config, *flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	cfg, err := loadConfig(fs)
	if err != nil {
		return nil, nil, err
	}
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	return cfg, fs, nil
}
