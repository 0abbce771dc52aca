package tasks

import (
	"log/slog"
	"time"

	"github.com/postdesk/postdesk/mail"
	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/tickets"
)

// Deps are what the handlers need; cmd/ fills them in.
type Deps struct {
	Tickets *tickets.Service
	Client  *Client
	Log     *slog.Logger
	Blobs   *tickets.Blobs
	Send    SendConfig
	// Ingester turns committed raw mail into tickets (nil: no ingest handler).
	Ingester *mail.Ingester
	// IMAP polls IMAP mailboxes (nil: no IMAP polling in this process).
	IMAP             *mail.IMAPPoller
	IMAPPollInterval time.Duration
	// Messengers receives polled updates and holds the provider adapters.
	Messengers *messengers.Receiver
	// DueLead is how long before a due date its reminder goes out (0: one hour).
	DueLead time.Duration
}

// Register installs every task handler and periodic task on w. Handlers are
// registered here and nowhere else, so this is the list of all background work.
func Register(w *Worker, d Deps) {
	registerHealth(w, d)
	registerIngest(w, d)
	registerSend(w, d)
	registerIMAP(w, d)
	registerMessengers(w, d)
	registerSnooze(w, d)
	registerDue(w, d)
	registerNotifyMail(w, d)
}
