package tickets

import (
	"time"

	"gorm.io/gorm"
)

// Ticket statuses, in workflow order.
const (
	StatusNew      = "new"
	StatusOpen     = "open"
	StatusPending  = "pending"
	StatusResolved = "resolved"
	StatusClosed   = "closed"
)

// Ticket kinds.
const (
	KindConversation = "conversation"
	KindTask         = "task"
)

// Ticket is one conversation or task in a channel's queue.
type Ticket struct {
	ID                     int64      `json:"id"`
	Number                 int64      `json:"number" gorm:"default:(-)"`
	ChannelID              int64      `json:"channel_id"`
	Kind                   string     `json:"kind"`
	Subject                string     `json:"subject"`
	Status                 string     `json:"status"`
	Priority               string     `json:"priority"`
	PriorityRank           int        `json:"-" gorm:"->"`
	AssigneeID             *int64     `json:"assignee_id"`
	ContactID              *int64     `json:"contact_id"`
	MailboxID              *int64     `json:"mailbox_id"`
	MessengerConnectionID  *int64     `json:"messenger_connection_id"`
	DueAt                  *time.Time `json:"due_at"`
	SnoozedUntil           *time.Time `json:"snoozed_until"`
	SnoozedByID            *int64     `json:"snoozed_by_id"`
	WakeOnReply            bool       `json:"wake_on_reply"`
	Reminder               bool       `json:"reminder"`
	MergedIntoID           *int64     `json:"merged_into_id"`
	OriginMessageID        *int64     `json:"origin_message_id"`
	Position               float64    `json:"position"`
	ChecklistTotal         int        `json:"checklist_total"`
	ChecklistDone          int        `json:"checklist_done"`
	LastActivityAt         time.Time  `json:"last_activity_at"`
	LastCustomerActivityAt time.Time  `json:"last_customer_activity_at"`
	FirstResponseAt        *time.Time `json:"first_response_at"`
	ResolvedAt             *time.Time `json:"resolved_at"`
	ClosedAt               *time.Time `json:"closed_at"`
	CreatedAt              time.Time  `json:"created_at"`
	UpdatedAt              time.Time  `json:"updated_at"`

	// ActivitySeq counts arrivals for read state (read.go). It is set when the
	// ticket is created and afterwards only raised in SQL (activity_seq + 1), so
	// concurrent arrivals never overwrite each other's count.
	ActivitySeq int64 `json:"-"`

	// arrivalIn is the transaction in which OpenTicket counted the arrival that
	// opens the ticket, so AddInboundMessage in that transaction does not count
	// it again or look for replies that cannot exist yet.
	arrivalIn gorm.ConnPool
	// assignLater is the channel whose assignment rules OpenTicket left for
	// AssignOpened (NewTicket.AssignLater).
	assignLater *Channel
}

// TicketEvent is one entry of a ticket's append-only timeline.
type TicketEvent struct {
	ID        int64     `json:"id"`
	TicketID  int64     `json:"ticket_id"`
	AgentID   *int64    `json:"agent_id"`
	Kind      string    `json:"kind"`
	OldValue  string    `json:"old_value"`
	NewValue  string    `json:"new_value"`
	Data      JSONMap   `json:"data"`
	CreatedAt time.Time `json:"created_at"`
}

// ChecklistItem is one line of a ticket's checklist.
type ChecklistItem struct {
	ID        int64      `json:"id"`
	TicketID  int64      `json:"ticket_id"`
	Text      string     `json:"text"`
	Done      bool       `json:"done"`
	DoneByID  *int64     `json:"done_by_id"`
	DoneAt    *time.Time `json:"done_at"`
	Position  float64    `json:"position"`
	CreatedBy *int64     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
}

// Tag is a label on tickets.
type Tag struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}
