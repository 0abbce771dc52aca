package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/postdesk/postdesk/tickets"
)

// runDemo loads demo data: by default the flower shop (five channels, four agents,
// a living inbox); with --scale N, N generated tickets over 20 channels with about
// five messages each, into an empty database, for trying Postdesk at size.
func runDemo(ctx context.Context, args []string) error {
	var scale int
	var password string
	cfg, _, err := parse("demo", args, func(fs *flag.FlagSet) {
		fs.IntVar(&scale, "scale", 0, "generate this many tickets instead of the flower shop (empty database only)")
		fs.StringVar(&password, "password", "", "password of the demo agents (generated and printed when empty)")
	})
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel)
	a, err := openApp(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer a.close()
	if scale > 0 {
		if err := tickets.GenerateScale(ctx, a.db, scale, log); err != nil {
			return err
		}
		fmt.Printf("generated %d tickets over %d channels\n", scale, tickets.ScaleChannels)
		return nil
	}
	if password == "" {
		password = tickets.RandomToken(12)
	}
	if err := a.tickets.LoadDemo(ctx, password); err != nil {
		return err
	}
	fmt.Println("Flower-shop demo loaded. Log in as any of:")
	for _, d := range tickets.DemoAgents {
		fmt.Printf("  %-24s %s (%s)\n", d.Email, d.Name, d.Role)
	}
	fmt.Printf("password: %s\n", password)
	return nil
}
