package messengers

import (
	"context"
	"encoding/json"
	"errors"
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
// Viber only sends files from public URLs; Postdesk serves attachments behind a
// login, so replies carry text only and a reply with files fails with a clear reason.
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

// Send posts a text message to /pa/send_message.
func (v *Viber) Send(ctx context.Context, c *Conn, out Outgoing) (*Sent, error) {
	if out.Template != nil {
		return nil, ErrNotSupported
	}
	if len(out.Attachments) > 0 {
		return nil, errors.New("viber sends files only from public URLs; send the text alone or use another channel")
	}
	if out.Text == "" {
		return nil, errEmptyMessage
	}
	name := c.Setting("sender_name")
	if name == "" {
		name = c.Name
	}
	if name == "" {
		name = "Support"
	}
	in := map[string]any{"receiver": out.To, "min_api_version": 1, "type": "text", "text": out.Text,
		"sender": map[string]string{"name": name}}
	var res struct {
		Status        int             `json:"status"`
		StatusMessage string          `json:"status_message"`
		MessageToken  json.RawMessage `json:"message_token"`
	}
	url := strings.TrimRight(c.BaseURL(ViberAPI), "/") + "/pa/send_message"
	if err := v.http.postJSON(ctx, url, http.Header{"X-Viber-Auth-Token": {c.Cred("auth_token")}}, in, &res); err != nil {
		return nil, fmt.Errorf("viber send_message: %w", err)
	}
	if res.Status != 0 {
		err := fmt.Errorf("viber send_message: status %d %s", res.Status, res.StatusMessage)
		if res.Status == 1 || res.Status == 12 { // 12: too many requests; 1 is documented as a temporary failure
			return nil, &TemporaryError{Err: err}
		}
		return nil, err
	}
	return &Sent{ProviderMessageID: strings.Trim(string(res.MessageToken), `"`)}, nil
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
