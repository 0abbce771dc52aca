package tickets

import "time"

// Message directions.
const (
	DirectionInbound  = "inbound"
	DirectionOutbound = "outbound"
	DirectionNote     = "note"
)

// Message statuses. Inbound messages are "received"; outbound ones move through
// draft/scheduled/queued/sending to sent (and delivered/read where the channel
// reports it), or failed/canceled.
const (
	MessageReceived  = "received"
	MessageDraft     = "draft"
	MessageScheduled = "scheduled"
	MessageQueued    = "queued"
	MessageSending   = "sending"
	MessageSent      = "sent"
	MessageDelivered = "delivered"
	MessageRead      = "read"
	MessageFailed    = "failed"
	MessageCanceled  = "canceled"
)

// Message is one inbound, outbound or internal item on a ticket.
type Message struct {
	ID                    int64      `json:"id"`
	TicketID              int64      `json:"ticket_id"`
	ChannelID             int64      `json:"channel_id"`
	Direction             string     `json:"direction"`
	Status                string     `json:"status"`
	AuthorAgentID         *int64     `json:"author_agent_id"`
	ContactID             *int64     `json:"contact_id"`
	MailboxID             *int64     `json:"mailbox_id"`
	MessengerConnectionID *int64     `json:"messenger_connection_id"`
	FromAddress           string     `json:"from_address"`
	FromName              string     `json:"from_name"`
	ReplyTo               string     `json:"reply_to"`
	ToAddresses           StringList `json:"to" gorm:"type:text[]"`
	CcAddresses           StringList `json:"cc" gorm:"type:text[]"`
	BccAddresses          StringList `json:"bcc" gorm:"type:text[]"`
	Subject               string     `json:"subject"`
	BodyText              string     `json:"body_text"`
	BodyHTML              string     `json:"body_html" gorm:"column:body_html"`
	QuoteOffset           int        `json:"quote_offset"`
	MessageIDHeader       string     `json:"message_id_header" gorm:"column:message_id_header"`
	InReplyTo             string     `json:"in_reply_to"`
	References            StringList `json:"references" gorm:"column:references;type:text[]"`
	ProviderMessageID     string     `json:"provider_message_id"`
	IsAutoReply           bool       `json:"is_auto_reply"`
	IsBounce              bool       `json:"is_bounce"`
	ParseWarning          string     `json:"parse_warning"`
	// InboundMailID is the raw mail an inbound mail message was parsed from
	// (GET /api/v1/messages/{id}/original).
	InboundMailID *int64       `json:"inbound_mail_id,omitempty"`
	SendAt        *time.Time   `json:"send_at"`
	SentAt        *time.Time   `json:"sent_at"`
	FailedReason  string       `json:"failed_reason"`
	Attempts      int          `json:"attempts"`
	CreatedAt     time.Time    `json:"created_at"`
	UpdatedAt     time.Time    `json:"updated_at"`
	OutboundKind  string       `json:"outbound_kind,omitempty"`
	CancelOnReply bool         `json:"cancel_on_reply"`
	TrackingToken string       `json:"-"`
	OpenedAt      *time.Time   `json:"opened_at"`
	OpenCount     int          `json:"open_count"`
	LastOpenedAt  *time.Time   `json:"last_opened_at"`
	Attachments   []Attachment `json:"attachments" gorm:"foreignKey:MessageID"`
}

// Attachment is one use of a content-addressed blob.
type Attachment struct {
	ID          int64     `json:"id"`
	MessageID   *int64    `json:"message_id"`
	SHA256      string    `json:"sha256" gorm:"column:sha256"`
	Size        int64     `json:"size"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"content_type"`
	ContentID   string    `json:"content_id"`
	Inline      bool      `json:"inline"`
	UploadedBy  *int64    `json:"uploaded_by"`
	CreatedAt   time.Time `json:"created_at"`
}
