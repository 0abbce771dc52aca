package messengers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/postdesk/postdesk/tickets"
)

// WhatsApp speaks the WhatsApp Business Cloud API
// (https://developers.facebook.com/docs/whatsapp/cloud-api).
//
// Credentials: access_token, app_secret (signs webhooks), verify_token (the GET
// handshake), phone_number_id (the business number replies leave from),
// business_account_id (optional: lists the approved templates for the picker).
type WhatsApp struct{ http httpClient }

func (w *WhatsApp) Provider() string { return "whatsapp" }

// VerifyGET answers the subscription handshake.
func (w *WhatsApp) VerifyGET(c *Conn, r *http.Request) (string, error) { return hubChallenge(c, r) }

type waMedia struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
}

type waMessage struct {
	From      string `json:"from"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Text      struct {
		Body string `json:"body"`
	} `json:"text"`
	Image    *waMedia `json:"image"`
	Document *waMedia `json:"document"`
	Audio    *waMedia `json:"audio"`
	Video    *waMedia `json:"video"`
	Sticker  *waMedia `json:"sticker"`
	Context  *struct {
		ID string `json:"id"`
	} `json:"context"`
	Interactive *struct {
		Type        string `json:"type"`
		ButtonReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"button_reply"`
		ListReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"list_reply"`
	} `json:"interactive"`
	Button *struct {
		Text    string `json:"text"`
		Payload string `json:"payload"`
	} `json:"button"`
}

type waStatus struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Timestamp string `json:"timestamp"`
	Errors    []struct {
		Code    int    `json:"code"`
		Title   string `json:"title"`
		Message string `json:"message"`
	} `json:"errors"`
}

type waWebhook struct {
	Object string `json:"object"`
	Entry  []struct {
		Changes []struct {
			Field string `json:"field"`
			Value struct {
				Contacts []struct {
					WaID    string `json:"wa_id"`
					Profile struct {
						Name string `json:"name"`
					} `json:"profile"`
				} `json:"contacts"`
				Messages []waMessage `json:"messages"`
				Statuses []waStatus  `json:"statuses"`
			} `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

func unixTime(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// Webhook checks X-Hub-Signature-256 with the app secret and decodes messages and
// statuses.
func (w *WhatsApp) Webhook(ctx context.Context, c *Conn, r *http.Request, body []byte) (*Update, error) {
	if err := checkHubSignature(c.Cred("app_secret"), r, body); err != nil {
		return nil, err
	}
	var wh waWebhook
	if err := json.Unmarshal(body, &wh); err != nil {
		return nil, fmt.Errorf("whatsapp webhook: %w", err)
	}
	up := &Update{}
	for _, e := range wh.Entry {
		for _, ch := range e.Changes {
			names := map[string]string{}
			for _, ct := range ch.Value.Contacts {
				names[ct.WaID] = ct.Profile.Name
			}
			for _, m := range ch.Value.Messages {
				up.Messages = append(up.Messages, w.normalise(m, names[m.From]))
			}
			for _, s := range ch.Value.Statuses {
				st := Status{ProviderMessageID: s.ID, At: unixTime(s.Timestamp)}
				switch s.Status {
				case "sent":
					st.Status = tickets.MessageSent
				case "delivered":
					st.Status = tickets.MessageDelivered
				case "read":
					st.Status = tickets.MessageRead
				case "failed":
					st.Status = tickets.MessageFailed
					var parts []string
					for _, e := range s.Errors {
						parts = append(parts, strings.TrimSpace(fmt.Sprintf("%d %s %s", e.Code, e.Title, e.Message)))
					}
					st.Error = strings.Join(parts, "; ")
				default:
					continue
				}
				up.Statuses = append(up.Statuses, st)
			}
		}
	}
	return up, nil
}

func (w *WhatsApp) normalise(m waMessage, name string) Inbound {
	in := Inbound{ProviderMessageID: m.ID, At: unixTime(m.Timestamp),
		From: Identity{Kind: "whatsapp", Value: m.From, DisplayName: name, Phone: "+" + m.From}}
	if m.Context != nil {
		in.ReplyToProviderID = m.Context.ID
	}
	switch {
	case m.Type == "text":
		in.Text = m.Text.Body
	case m.Interactive != nil && m.Interactive.ButtonReply != nil:
		in.Text = m.Interactive.ButtonReply.Title
	case m.Interactive != nil && m.Interactive.ListReply != nil:
		in.Text = m.Interactive.ListReply.Title
	case m.Button != nil:
		in.Text = m.Button.Text
	}
	for kind, md := range map[string]*waMedia{"image": m.Image, "document": m.Document, "audio": m.Audio,
		"video": m.Video, "sticker": m.Sticker} {
		if md == nil {
			continue
		}
		name := md.Filename
		if name == "" {
			name = kind + extFor(strings.TrimSpace(strings.Split(md.MimeType, ";")[0]))
		}
		if in.Text == "" {
			in.Text = md.Caption
		}
		in.Media = append(in.Media, Media{Ref: md.ID, Filename: name, ContentType: md.MimeType, Kind: kind})
	}
	return in
}

// Fetch resolves a media id (GET /{media-id} gives a short-lived URL) and
// downloads it with the access token.
func (w *WhatsApp) Fetch(ctx context.Context, c *Conn, m Media) (io.ReadCloser, error) {
	var meta struct {
		URL string `json:"url"`
	}
	if err := w.http.getJSON(ctx, graphURL(c, m.Ref), bearer(c.Cred("access_token")), &meta); err != nil {
		return nil, fmt.Errorf("whatsapp media %s: %w", m.Ref, err)
	}
	if meta.URL == "" {
		return nil, fmt.Errorf("whatsapp media %s: no url", m.Ref)
	}
	return w.http.download(ctx, meta.URL, bearer(c.Cred("access_token")))
}

type waSendResult struct {
	Messages []struct {
		ID string `json:"id"`
	} `json:"messages"`
}

// Send posts to /{phone_number_id}/messages: a template, the text, then each
// attachment (uploaded first to /{phone_number_id}/media).
func (w *WhatsApp) Send(ctx context.Context, c *Conn, out Outgoing) (*Sent, error) {
	if out.Text == "" && len(out.Attachments) == 0 && out.Template == nil {
		return nil, errEmptyMessage
	}
	pnid := c.Cred("phone_number_id")
	auth := bearer(c.Cred("access_token"))
	var first string
	send := func(kind string, body map[string]any) error {
		msg := map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": out.To, "type": kind,
			kind: body}
		if out.ReplyToProviderID != "" {
			msg["context"] = map[string]string{"message_id": out.ReplyToProviderID}
		}
		var res waSendResult
		if err := w.http.postJSON(ctx, graphURL(c, pnid+"/messages"), auth, msg, &res); err != nil {
			return fmt.Errorf("whatsapp send %s: %w", kind, err)
		}
		if first == "" && len(res.Messages) > 0 {
			first = res.Messages[0].ID
		}
		return nil
	}
	if t := out.Template; t != nil {
		tpl := map[string]any{"name": t.Name, "language": map[string]string{"code": t.Language}}
		if len(t.Params) > 0 {
			var ps []map[string]string
			for _, p := range t.Params {
				ps = append(ps, map[string]string{"type": "text", "text": p})
			}
			tpl["components"] = []map[string]any{{"type": "body", "parameters": ps}}
		}
		if err := send("template", tpl); err != nil {
			return nil, err
		}
	} else if out.Text != "" {
		if err := send("text", map[string]any{"body": out.Text, "preview_url": false}); err != nil {
			return nil, err
		}
	}
	for _, f := range out.Attachments {
		var up struct {
			ID string `json:"id"`
		}
		fields := map[string]string{"messaging_product": "whatsapp", "type": f.ContentType}
		if err := w.http.postMultipartAuth(ctx, graphURL(c, pnid+"/media"), auth, fields, "file", f, &up); err != nil {
			return nil, fmt.Errorf("whatsapp media upload: %w", err)
		}
		kind := "document"
		switch {
		case strings.HasPrefix(f.ContentType, "image/"):
			kind = "image"
		case strings.HasPrefix(f.ContentType, "audio/"):
			kind = "audio"
		case strings.HasPrefix(f.ContentType, "video/"):
			kind = "video"
		}
		body := map[string]any{"id": up.ID}
		if kind == "document" {
			body["filename"] = f.Filename
		}
		if err := send(kind, body); err != nil {
			return nil, err
		}
	}
	return &Sent{ProviderMessageID: first}, nil
}

// ApprovedTemplate is a message template the provider approved, as the composer's
// picker offers it: Body with {{1}}…{{n}} placeholders, Params of them.
type ApprovedTemplate struct {
	Name     string `json:"name"`
	Language string `json:"language"`
	Category string `json:"category"`
	Body     string `json:"body"`
	Params   int    `json:"params"`
}

// TemplateLister is implemented by providers whose replies outside a window must
// be approved templates (WhatsApp).
type TemplateLister interface {
	Templates(ctx context.Context, c *Conn) ([]ApprovedTemplate, error)
}

// waPlaceholder matches a body parameter ({{1}}).
var waPlaceholder = regexp.MustCompile(`\{\{\s*(\d+)\s*\}\}`)

// Templates lists the approved templates of the connection's WhatsApp Business
// Account (GET /{business_account_id}/message_templates, Business Management API),
// first page of up to 100: enough for a picker.
func (w *WhatsApp) Templates(ctx context.Context, c *Conn) ([]ApprovedTemplate, error) {
	waba := c.Cred("business_account_id")
	if waba == "" {
		return nil, errors.New("whatsapp templates: the connection has no business_account_id credential")
	}
	var res struct {
		Data []struct {
			Name       string `json:"name"`
			Language   string `json:"language"`
			Status     string `json:"status"`
			Category   string `json:"category"`
			Components []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"components"`
		} `json:"data"`
	}
	u := graphURL(c, url.PathEscape(waba)+"/message_templates") + "?" + url.Values{"status": {"APPROVED"},
		"fields": {"name,language,status,category,components"}, "limit": {"100"}}.Encode()
	if err := w.http.getJSON(ctx, u, bearer(c.Cred("access_token")), &res); err != nil {
		return nil, fmt.Errorf("whatsapp templates: %w", err)
	}
	out := []ApprovedTemplate{}
	for _, d := range res.Data {
		if !strings.EqualFold(d.Status, "APPROVED") {
			continue // the filter is a request; a gateway may ignore it
		}
		t := ApprovedTemplate{Name: d.Name, Language: d.Language, Category: d.Category}
		for _, comp := range d.Components {
			if strings.EqualFold(comp.Type, "BODY") {
				t.Body = comp.Text
			}
		}
		for _, m := range waPlaceholder.FindAllStringSubmatch(t.Body, -1) {
			if n, _ := strconv.Atoi(m[1]); n > t.Params {
				t.Params = n
			}
		}
		out = append(out, t)
	}
	return out, nil
}
