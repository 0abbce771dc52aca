package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/postdesk/postdesk/tickets"
)

// runAdmin holds operator commands that work without the web UI.
func runAdmin(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("admin: want create-agent, reset-password or create-token")
	}
	sub := args[0]
	var email, name, password, role string
	cfg, _, err := parse("admin "+sub, args[1:], func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "agent e-mail")
		fs.StringVar(&name, "name", "", "agent name (create-agent) or token name (create-token)")
		fs.StringVar(&password, "password", "", "password (generated and printed when empty)")
		fs.StringVar(&role, "role", "agent", "admin or agent")
	})
	if err != nil {
		return err
	}
	if email == "" {
		return errors.New("admin: --email is required")
	}
	a, err := openApp(ctx, cfg, newLogger(cfg.LogLevel), true)
	if err != nil {
		return err
	}
	defer a.close()
	generated := false
	if password == "" && sub != "create-token" {
		password, generated = tickets.RandomToken(12), true
	}
	switch sub {
	case "create-agent":
		if name == "" {
			name = email
		}
		ag, err := a.tickets.CreateAgent(ctx, tickets.NewAgent{Email: email, Name: name, Password: password, Role: role})
		if err != nil {
			return err
		}
		fmt.Printf("created %s %s (id %d)\n", ag.Role, ag.Email, ag.ID)
	case "reset-password":
		ag, err := a.tickets.AgentByEmail(ctx, email)
		if err != nil {
			return fmt.Errorf("agent %s: %w", email, err)
		}
		if err := a.tickets.SetPassword(ctx, ag.ID, password); err != nil {
			return err
		}
		fmt.Printf("password of %s changed; their sessions ended\n", ag.Email)
	case "create-token":
		ag, err := a.tickets.AgentByEmail(ctx, email)
		if err != nil {
			return fmt.Errorf("agent %s: %w", email, err)
		}
		plain, _, err := a.tickets.CreateAPIToken(ctx, ag.ID, name)
		if err != nil {
			return err
		}
		fmt.Println(plain)
		return nil
	default:
		return fmt.Errorf("admin: unknown command %q", sub)
	}
	if generated {
		fmt.Printf("password: %s\n", password)
	}
	return nil
}
