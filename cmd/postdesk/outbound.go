package main

import (
	"fmt"
	netmail "net/mail"

	"github.com/postdesk/postdesk/mail"
	"github.com/postdesk/postdesk/tasks"
)

// wireOutbound connects the domain's send scheduling and notification mail to asynq
// and reads the default relay and notification sender settings.
func (a *app) wireOutbound() error {
	relay, err := mail.ParseRelayURL(a.cfg.SMTPRelay)
	if err != nil {
		return fmt.Errorf("POSTDESK_SMTP_RELAY: %w", err)
	}
	if a.cfg.NotifyFrom != "" {
		if _, err := netmail.ParseAddress(a.cfg.NotifyFrom); err != nil {
			return fmt.Errorf("POSTDESK_NOTIFY_FROM: %w", err)
		}
	}
	a.sendConfig = tasks.SendConfig{DefaultRelay: relay, BaseURL: a.cfg.BaseURL, Hostname: a.cfg.Hostname,
		NotifyFrom: a.cfg.NotifyFrom}
	a.tickets.Hostname = a.cfg.Hostname
	a.tickets.Sends = &tasks.SendQueue{Client: a.tasks}
	a.tickets.Mailer = &tasks.NotifyMailQueue{Client: a.tasks}
	return nil
}

// sender is the delivery side, used by the web role for the mailbox SMTP check.
func (a *app) sender() *tasks.Sender {
	return &tasks.Sender{Tickets: a.tickets, Blobs: a.blobs, Config: a.sendConfig, Log: a.log}
}
