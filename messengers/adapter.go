package messengers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/postdesk/postdesk/tickets"
)

// Errors an adapter returns; callers compare them with errors.Is.
var (
	// ErrBadSignature: the webhook's signature or secret did not match. Nothing
	// from such a request may be stored.
	ErrBadSignature = errors.New("webhook signature or secret does not match")
	// ErrUnknownProvider: no adapter is registered under that name.
	ErrUnknownProvider = errors.New("unknown messenger provider")
	// ErrOutsideWindow: the provider only accepts template messages now (WhatsApp's
	// 24-hour customer-service window has closed).
	ErrOutsideWindow = errors.New("outside the 24-hour customer-service window: only approved template messages may be sent")
	// ErrNotSupported: the provider cannot do this (e.g. templates on Telegram).
	ErrNotSupported = errors.New("not supported by this provider")
)

// TemporaryError marks a send failure worth retrying: the provider answered 5xx or
// 429, or did not answer at all. Anything else (a 4xx) is permanent.
type TemporaryError struct{ Err error }

func (e *TemporaryError) Error() string { return e.Err.Error() }
func (e *TemporaryError) Unwrap() error { return e.Err }

// IsTemporary reports whether err is worth retrying.
func IsTemporary(err error) bool {
	var te *TemporaryError
	return errors.As(err, &te)
}

// Identity is who wrote: Kind is a contact_identities kind (the provider name, or
// "phone"/"email"), Value its normalised value.
type Identity struct {
	Kind        string
	Value       string
	DisplayName string
	// Phone, when the provider reveals it (WhatsApp, Viber), in E.164 form; it
	// unifies the contact with one already known by that number.
	Phone string
}

// Media is a file attached to an inbound item, not yet downloaded: Ref is what the
// adapter needs to fetch it (a Telegram file_id, a WhatsApp media id, a URL).
type Media struct {
	Ref         string
	Filename    string
	ContentType string
	Kind        string // photo, document, voice, video, audio, sticker
}

// Inbound is one customer message, normalised.
type Inbound struct {
	ProviderMessageID string
	// ReplyToProviderID is the provider id of the message this one answers, if any.
	ReplyToProviderID string
	From              Identity
	Text              string
	Media             []Media
	// Chat is where replies go when it differs from From.Value (a Telegram chat id).
	Chat string
	At   time.Time
}

// Status is a delivery report for an outbound message.
type Status struct {
	ProviderMessageID string
	Status            string // tickets.MessageSent, MessageDelivered, MessageRead or MessageFailed
	Error             string
	At                time.Time
}

// Update is what one webhook request or one poll carried.
type Update struct {
	Messages []Inbound
	Statuses []Status
	// Response, when not empty, is the body the provider expects back (VK's
	// confirmation string, WhatsApp's hub.challenge); otherwise "ok".
	Response string
	// Offset is the next poll offset (Telegram getUpdates); 0 leaves it unchanged.
	Offset int64
}

// Outgoing is a reply to send.
type Outgoing struct {
	// To is the recipient: the chat id or provider user id stored as the contact's
	// identity value for this provider.
	To                string
	Text              string
	ReplyToProviderID string
	Attachments       []OutFile
	Template          *Template
	// Key is stable across retries of one reply (the message id), for providers
	// that deduplicate sends by a client key (VK's random_id).
	Key string
}

// OutFile is an attachment of an outgoing reply. Providers that upload files
// read them with Open; providers that fetch files themselves (Viber, Instagram)
// get URL, a signed media URL (MediaURL), empty when the product has no public
// base URL.
type OutFile struct {
	Filename    string
	ContentType string
	Size        int64
	Open        func() (io.ReadCloser, error)
	URL         string
}

// Template is a provider-approved message template (WhatsApp).
type Template = tickets.MessengerTemplate

// Sent is the result of a successful send.
type Sent struct {
	ProviderMessageID string
}

// Conn is a messenger connection as adapters see it.
type Conn struct {
	tickets.MessengerConnection `gorm:"embedded"`
	WebhookSecret               string
	PollOffset                  int64
}

// Cred returns a credential string ("" when missing).
func (c *Conn) Cred(key string) string {
	s, _ := c.Credentials[key].(string)
	return s
}

// Setting returns a string setting ("" when missing).
func (c *Conn) Setting(key string) string {
	s, _ := c.Settings[key].(string)
	return s
}

// BaseURL is api_base_url or the provider's public default.
func (c *Conn) BaseURL(def string) string {
	if c.APIBaseURL != "" {
		return c.APIBaseURL
	}
	return def
}

// Adapter is one messenger provider.
type Adapter interface {
	// Provider is the name used in the API and in /hooks/{provider}/...
	Provider() string
	// Webhook verifies an incoming request (body already read, at most a few MB)
	// and decodes it. A failed check returns ErrBadSignature.
	Webhook(ctx context.Context, c *Conn, r *http.Request, body []byte) (*Update, error)
	// Fetch downloads an inbound media file.
	Fetch(ctx context.Context, c *Conn, m Media) (io.ReadCloser, error)
	// Send delivers a reply. Retryable failures are *TemporaryError.
	Send(ctx context.Context, c *Conn, out Outgoing) (*Sent, error)
}

// Verifier is implemented by providers that check a webhook URL with a GET
// (WhatsApp, Messenger, Instagram: hub.mode=subscribe, hub.verify_token,
// hub.challenge). It returns the body to answer with.
type Verifier interface {
	VerifyGET(c *Conn, r *http.Request) (string, error)
}

// Poller is implemented by providers that can fetch updates without a public URL.
type Poller interface {
	Poll(ctx context.Context, c *Conn) (*Update, error)
}

// Registrar is implemented by providers whose webhook is set with an API call
// (Telegram setWebhook, Viber set_webhook). It returns credentials to store, such
// as a generated webhook secret.
type Registrar interface {
	RegisterWebhook(ctx context.Context, c *Conn, url string) (map[string]string, error)
}

// Registry maps provider names to adapters.
type Registry struct {
	adapters map[string]Adapter
}

// NewRegistry returns a registry holding every built-in adapter using client for
// provider calls (nil: a client with a 30 s timeout).
func NewRegistry(client *http.Client) *Registry {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	r := &Registry{adapters: map[string]Adapter{}}
	h := httpClient{c: client}
	r.Register(&Telegram{http: h})
	r.Register(&WhatsApp{http: h})
	r.Register(&WebChat{})
	r.Register(&Viber{http: h})
	r.Register(&Meta{name: "facebook", http: h})
	r.Register(&Meta{name: "instagram", http: h})
	r.Register(&VK{http: h})
	return r
}

// Register adds or replaces an adapter.
func (r *Registry) Register(a Adapter) { r.adapters[a.Provider()] = a }

// Get returns the adapter for a provider.
func (r *Registry) Get(provider string) (Adapter, error) {
	a, ok := r.adapters[provider]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownProvider, provider)
	}
	return a, nil
}

// Providers lists the registered provider names.
func (r *Registry) Providers() []string {
	out := make([]string, 0, len(r.adapters))
	for k := range r.adapters {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ProviderCredentials names each provider's credentials (write-only in the API),
// for the settings form and the README's table; the web chat needs none.
var ProviderCredentials = map[string][]string{
	"telegram":  {"bot_token", "webhook_secret"},
	"whatsapp":  {"access_token", "app_secret", "verify_token", "phone_number_id", "business_account_id"},
	"webchat":   nil,
	"viber":     {"auth_token"},
	"facebook":  {"page_access_token", "app_secret", "verify_token"},
	"instagram": {"page_access_token", "app_secret", "verify_token"},
	"vk":        {"access_token", "secret", "confirmation"},
}
