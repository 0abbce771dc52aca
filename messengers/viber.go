package messengers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/postdesk/postdesk/tickets"
)

// Viber speaks the Viber REST bot API (https://developers.viber.com/docs/api/rest-bot-api/).
//
// Credentials: auth_token (signs webhooks: X-Viber-Content-Signature is the hex
// HMAC-SHA256 of the body keyed with it). Settings: sender_name (shown on replies).
//
// Viber only sends files from public URLs: replies point it at signed media URLs
// (media_url.go) under the product's public base URL.
type Viber struct{ http httpClient }

// ViberAPI is the public endpoint.
const ViberAPI = "https://chatapi.viber.com"

func (v *Viber) Provider() string { return "viber" }

type viberEvent struct {
	Event        string          `json:"event"`
	Timestamp    int64           `json:"timestamp"`
	MessageToken json.RawMessage `json:"message_token"`
	UserID       string          `json:"user_id"`
	Desc         string          `json:"desc"`
	Sender       struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"sender"`
	Message struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		Media    string `json:"media"`
		FileName string `json:"file_name"`
	} `json:"message"`
}

// Webhook checks X-Viber-Content-Signature and decodes one callback.
func (v *Viber) Webhook(ctx context.Context, c *Conn, r *http.Request, body []byte) (*Update, error) {
	if err := checkHMACHex(c.Cred("auth_token"), r.Header.Get("X-Viber-Content-Signature"), body); err != nil {
		return nil, err
	}
	var ev viberEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("viber callback: %w", err)
	}
	at := time.UnixMilli(ev.Timestamp).UTC()
	token := strings.Trim(string(ev.MessageToken), `"`)
	up := &Update{}
	switch ev.Event {
	case "message":
		in := Inbound{ProviderMessageID: token, At: at, Text: ev.Message.Text,
			From: Identity{Kind: "viber", Value: ev.Sender.ID, DisplayName: ev.Sender.Name}}
		switch ev.Message.Type {
		case "picture":
			in.Media = append(in.Media, Media{Ref: ev.Message.Media, Filename: "picture.jpg", ContentType: "image/jpeg", Kind: "photo"})
		case "video":
			in.Media = append(in.Media, Media{Ref: ev.Message.Media, Filename: "video.mp4", ContentType: "video/mp4", Kind: "video"})
		case "file":
			in.Media = append(in.Media, Media{Ref: ev.Message.Media, Filename: ev.Message.FileName, Kind: "document"})
		}
		up.Messages = append(up.Messages, in)
	case "delivered", "seen", "failed":
		st := Status{ProviderMessageID: token, At: at, Status: map[string]string{"delivered": tickets.MessageDelivered,
			"seen": tickets.MessageRead, "failed": tickets.MessageFailed}[ev.Event], Error: ev.Desc}
		up.Statuses = append(up.Statuses, st)
	}
	// webhook, subscribed, conversation_started...: acknowledged, nothing to store.
	return up, nil
}

// Fetch downloads a media URL from the callback.
func (v *Viber) Fetch(ctx context.Context, c *Conn, m Media) (io.ReadCloser, error) {
	return v.http.download(ctx, m.Ref, nil)
}

// Send posts the text, then each file, to send_message. Viber takes files only
// as URLs it fetches: a picture (JPEG, PNG or GIF up to 1 MB) or else a file (up to
// 50 MB), each pointing at the attachment's signed media URL.
func (v *Viber) Send(ctx context.Context, c *Conn, out Outgoing) (*Sent, error) {
	if out.Template != nil {
		return nil, ErrNotSupported
	}
	if out.Text == "" && len(out.Attachments) == 0 {
		return nil, errEmptyMessage
	}
	for _, f := range out.Attachments {
		if f.URL == "" {
			return nil, fmt.Errorf("viber fetches files from a public URL, and this reply's %q has none (set POSTDESK_BASE_URL)", f.Filename)
		}
		if f.Size > viberMaxFile {
			return nil, fmt.Errorf("viber takes files up to 50 MB; %q is larger", f.Filename)
		}
	}
	name := c.Setting("sender_name")
	if name == "" {
		name = c.Name
	}
	if name == "" {
		name = "Support"
	}
	var first string
	send := func(msg map[string]any) error {
		msg["receiver"], msg["min_api_version"], msg["sender"] = out.To, 1, map[string]string{"name": name}
		token, err := v.sendMessage(ctx, c, msg)
		if first == "" {
			first = token
		}
		return err
	}
	if out.Text != "" {
		if err := send(map[string]any{"type": "text", "text": out.Text}); err != nil {
			return nil, err
		}
	}
	for _, f := range out.Attachments {
		msg := map[string]any{"type": "file", "media": f.URL, "size": f.Size, "file_name": f.Filename}
		if viberPicture(f) {
			msg = map[string]any{"type": "picture", "media": f.URL, "text": ""}
		}
		if err := send(msg); err != nil {
			return nil, err
		}
	}
	return &Sent{ProviderMessageID: first}, nil
}

// viberMaxFile and viberMaxPicture are Viber's documented limits.
const (
	viberMaxFile    = 50 << 20
	viberMaxPicture = 1 << 20
)

func viberPicture(f OutFile) bool {
	switch f.ContentType {
	case "image/jpeg", "image/png", "image/gif":
		return f.Size <= viberMaxPicture
	}
	return false
}

// sendMessage posts one message and returns its token.
func (v *Viber) sendMessage(ctx context.Context, c *Conn, msg map[string]any) (string, error) {
	var res struct {
		Status        int             `json:"status"`
		StatusMessage string          `json:"status_message"`
		MessageToken  json.RawMessage `json:"message_token"`
	}
	url := strings.TrimRight(c.BaseURL(ViberAPI), "/") + "/pa/send_message"
	if err := v.http.postJSON(ctx, url, http.Header{"X-Viber-Auth-Token": {c.Cred("auth_token")}}, msg, &res); err != nil {
		return "", fmt.Errorf("viber send_message %s: %w", msg["type"], err)
	}
	if res.Status != 0 {
		err := fmt.Errorf("viber send_message %s: status %d %s", msg["type"], res.Status, res.StatusMessage)
		if res.Status == 1 || res.Status == 12 { // 12: too many requests; 1 is documented as a temporary failure
			return "", &TemporaryError{Err: err}
		}
		return "", err
	}
	return strings.Trim(string(res.MessageToken), `"`), nil
}

// RegisterWebhook calls set_webhook. Viber checks the URL by posting a signed
// "webhook" event to it before it answers.
func (v *Viber) RegisterWebhook(ctx context.Context, c *Conn, url string) (map[string]string, error) {
	in := map[string]any{"url": url, "event_types": []string{"delivered", "seen", "failed", "conversation_started"},
		"send_name": true}
	var res struct {
		Status        int    `json:"status"`
		StatusMessage string `json:"status_message"`
	}
	endpoint := strings.TrimRight(c.BaseURL(ViberAPI), "/") + "/pa/set_webhook"
	if err := v.http.postJSON(ctx, endpoint, http.Header{"X-Viber-Auth-Token": {c.Cred("auth_token")}}, in, &res); err != nil {
		return nil, fmt.Errorf("viber set_webhook: %w", err)
	}
	if res.Status != 0 {
		return nil, fmt.Errorf("viber set_webhook: status %d %s", res.Status, res.StatusMessage)
	}
	return nil, nil
}
