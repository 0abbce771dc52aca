package tickets

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Service holds the domain rules. One Service is shared by the API, the UI, the
// workers and the mail pipeline.
type Service struct {
	DB *gorm.DB
	// Publisher receives live events (new ticket, new message, changes). Never nil
	// after NewService.
	Publisher Publisher
	// Sends schedules and cancels outbound deliveries (implemented in tasks/).
	// When nil, outbound messages are only written; the send sweeper picks them up.
	Sends SendScheduler
	// Hostname is the right-hand side of the Message-IDs we generate.
	Hostname string
	// Scheduler schedules snooze wake-ups and due-date reminders (tasks/); nil
	// schedules nothing and leaves the work to the periodic sweepers.
	Scheduler Scheduler
	// Mailer queues notification e-mails; nil sends none.
	Mailer NotificationMailer
	// Now is the clock; tests may replace it.
	Now func() time.Time
}

// NewService returns a Service on db with a no-op publisher.
func NewService(db *gorm.DB) *Service {
	return &Service{DB: db, Publisher: nopPublisher{}, Now: func() time.Time { return time.Now().UTC() }}
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now()
}

// LiveEvent is something the UI may want to show at once.
type LiveEvent struct {
	Kind      string         `json:"kind"` // ticket.created, message.created, ticket.updated, presence, notification
	ChannelID int64          `json:"channel_id,omitempty"`
	TicketID  int64          `json:"ticket_id,omitempty"`
	AgentID   int64          `json:"agent_id,omitempty"`
	Data      map[string]any `json:"data,omitempty"`
}

// Publisher fans live events out to every process (implemented in web/).
type Publisher interface {
	Publish(ctx context.Context, ev LiveEvent)
}

type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, LiveEvent) {}
