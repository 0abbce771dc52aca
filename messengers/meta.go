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

// Meta is Facebook Messenger ("facebook") or Instagram messaging ("instagram"):
// the same Graph API Send API and webhook shape, told apart by the object field.
//
// Credentials: page_access_token, app_secret (X-Hub-Signature-256), verify_token.
type Meta struct {
	name string
	http httpClient
}

func (m *Meta) Provider() string { return m.name }

// VerifyGET answers the subscription handshake.
func (m *Meta) VerifyGET(c *Conn, r *http.Request) (string, error) { return hubChallenge(c, r) }

type metaMessaging struct {
	Sender    struct{ ID string } `json:"sender"`
	Recipient struct{ ID string } `json:"recipient"`
	Timestamp int64               `json:"timestamp"`
	Message   *struct {
		Mid         string `json:"mid"`
		Text        string `json:"text"`
		IsEcho      bool   `json:"is_echo"`
		Attachments []struct {
			Type    string `json:"type"`
			Payload struct {
				URL string `json:"url"`
			} `json:"payload"`
		} `json:"attachments"`
		ReplyTo *struct {
			Mid string `json:"mid"`
		} `json:"reply_to"`
		QuickReply *struct {
			Payload string `json:"payload"`
		} `json:"quick_reply"`
	} `json:"message"`
	Postback *struct {
		Mid   string `json:"mid"`
		Title string `json:"title"`
	} `json:"postback"`
	Delivery *struct {
		Mids []string `json:"mids"`
	} `json:"delivery"`
	Read *struct {
		Mid       string `json:"mid"`
		Watermark int64  `json:"watermark"`
	} `json:"read"`
}

// Webhook checks the signature and decodes messages, deliveries and reads.
func (m *Meta) Webhook(ctx context.Context, c *Conn, r *http.Request, body []byte) (*Update, error) {
	if err := checkHubSignature(c.Cred("app_secret"), r, body); err != nil {
		return nil, err
	}
	var wh struct {
		Object string `json:"object"`
		Entry  []struct {
			Messaging []metaMessaging `json:"messaging"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &wh); err != nil {
		return nil, fmt.Errorf("%s webhook: %w", m.name, err)
	}
	up := &Update{}
	for _, e := range wh.Entry {
		for _, ev := range e.Messaging {
			at := time.UnixMilli(ev.Timestamp).UTC()
			switch {
			case ev.Message != nil && !ev.Message.IsEcho:
				in := Inbound{ProviderMessageID: ev.Message.Mid, Text: ev.Message.Text, At: at,
					From: Identity{Kind: m.name, Value: ev.Sender.ID}}
				if ev.Message.ReplyTo != nil {
					in.ReplyToProviderID = ev.Message.ReplyTo.Mid
				}
				for i, a := range ev.Message.Attachments {
					if a.Payload.URL == "" {
						continue
					}
					ct := map[string]string{"image": "image/jpeg", "video": "video/mp4", "audio": "audio/mpeg"}[a.Type]
					name := fmt.Sprintf("%s-%d%s", a.Type, i+1, extFor(ct))
					in.Media = append(in.Media, Media{Ref: a.Payload.URL, Filename: name, ContentType: ct, Kind: a.Type})
				}
				up.Messages = append(up.Messages, in)
			case ev.Postback != nil:
				up.Messages = append(up.Messages, Inbound{ProviderMessageID: ev.Postback.Mid, Text: ev.Postback.Title,
					At: at, From: Identity{Kind: m.name, Value: ev.Sender.ID}})
			case ev.Delivery != nil:
				for _, mid := range ev.Delivery.Mids {
					up.Statuses = append(up.Statuses, Status{ProviderMessageID: mid, Status: tickets.MessageDelivered, At: at})
				}
			case ev.Read != nil && ev.Read.Mid != "":
				up.Statuses = append(up.Statuses, Status{ProviderMessageID: ev.Read.Mid, Status: tickets.MessageRead, At: at})
			}
		}
	}
	return up, nil
}

// Fetch downloads an attachment URL from the webhook.
func (m *Meta) Fetch(ctx context.Context, c *Conn, md Media) (io.ReadCloser, error) {
	return m.http.download(ctx, md.Ref, nil)
}

// Send posts to /me/messages: the text, then each file. Messenger uploads the
// file in the same call (filedata); Instagram's Send API takes no upload, so it
// gets an attachment whose payload is the file's signed media URL.
func (m *Meta) Send(ctx context.Context, c *Conn, out Outgoing) (*Sent, error) {
	if out.Template != nil {
		return nil, ErrNotSupported
	}
	if out.Text == "" && len(out.Attachments) == 0 {
		return nil, errEmptyMessage
	}
	byURL := m.name == "instagram"
	for _, f := range out.Attachments {
		if byURL && f.URL == "" {
			return nil, fmt.Errorf("instagram fetches files from a public URL, and this reply's %q has none (set POSTDESK_BASE_URL)", f.Filename)
		}
	}
	url := graphURL(c, "me/messages")
	auth := bearer(c.Cred("page_access_token"))
	var first string
	var res struct {
		MessageID string `json:"message_id"`
	}
	recipient := fmt.Sprintf(`{"id":%q}`, out.To)
	record := func() {
		if first == "" {
			first = res.MessageID
		}
	}
	if out.Text != "" {
		in := map[string]any{"recipient": json.RawMessage(recipient), "messaging_type": "RESPONSE",
			"message": map[string]string{"text": out.Text}}
		if err := m.http.postJSON(ctx, url, auth, in, &res); err != nil {
			return nil, fmt.Errorf("%s send: %w", m.name, err)
		}
		record()
	}
	for _, f := range out.Attachments {
		kind := metaAttachmentType(f.ContentType)
		if byURL {
			in := map[string]any{"recipient": json.RawMessage(recipient), "messaging_type": "RESPONSE",
				"message": map[string]any{"attachment": map[string]any{"type": kind,
					"payload": map[string]any{"url": f.URL, "is_reusable": false}}}}
			if err := m.http.postJSON(ctx, url, auth, in, &res); err != nil {
				return nil, fmt.Errorf("%s send file: %w", m.name, err)
			}
			record()
			continue
		}
		fields := map[string]string{"recipient": recipient, "messaging_type": "RESPONSE",
			"message": fmt.Sprintf(`{"attachment":{"type":%q,"payload":{"is_reusable":false}}}`, kind)}
		if err := m.http.postMultipartAuth(ctx, url, auth, fields, "filedata", f, &res); err != nil {
			return nil, fmt.Errorf("%s send file: %w", m.name, err)
		}
		record()
	}
	return &Sent{ProviderMessageID: first}, nil
}

// metaAttachmentType is the Send API's attachment type for a content type.
func metaAttachmentType(contentType string) string {
	for _, k := range []string{"image", "video", "audio"} {
		if strings.HasPrefix(contentType, k+"/") {
			return k
		}
	}
	return "file"
}
