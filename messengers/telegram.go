package messengers

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Telegram speaks the Bot API (https://core.telegram.org/bots/api) over plain
// net/http: the API is a handful of JSON calls, and the Go clients we looked at
// either hard-code api.telegram.org or pull in far more than we use.
//
// Credentials: bot_token, webhook_secret (the secret_token given to setWebhook;
// without it every webhook is refused). Settings: mode "polling" makes the worker
// call getUpdates instead of waiting for webhooks; poll_timeout (seconds).
type Telegram struct{ http httpClient }

// TelegramAPI is the public Bot API endpoint.
const TelegramAPI = "https://api.telegram.org"

func (t *Telegram) Provider() string { return "telegram" }

type tgUser struct {
	ID        int64  `json:"id"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Username  string `json:"username"`
}

type tgFile struct {
	FileID   string `json:"file_id"`
	FileName string `json:"file_name"`
	MimeType string `json:"mime_type"`
	FileSize int64  `json:"file_size"`
}

type tgMessage struct {
	MessageID int64   `json:"message_id"`
	From      *tgUser `json:"from"`
	Chat      struct {
		ID   int64  `json:"id"`
		Type string `json:"type"`
	} `json:"chat"`
	Date           int64      `json:"date"`
	Text           string     `json:"text"`
	Caption        string     `json:"caption"`
	Photo          []tgFile   `json:"photo"`
	Document       *tgFile    `json:"document"`
	Voice          *tgFile    `json:"voice"`
	Audio          *tgFile    `json:"audio"`
	Video          *tgFile    `json:"video"`
	ReplyToMessage *tgMessage `json:"reply_to_message"`
}

type tgUpdate struct {
	UpdateID int64      `json:"update_id"`
	Message  *tgMessage `json:"message"`
}

func (t *Telegram) api(c *Conn, method string) string {
	return strings.TrimRight(c.BaseURL(TelegramAPI), "/") + "/bot" + c.Cred("bot_token") + "/" + method
}

// Webhook checks X-Telegram-Bot-Api-Secret-Token against the connection's
// webhook_secret in constant time and decodes one Update.
func (t *Telegram) Webhook(ctx context.Context, c *Conn, r *http.Request, body []byte) (*Update, error) {
	want := c.Cred("webhook_secret")
	got := r.Header.Get("X-Telegram-Bot-Api-Secret-Token")
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
		return nil, ErrBadSignature
	}
	var u tgUpdate
	if err := json.Unmarshal(body, &u); err != nil {
		return nil, fmt.Errorf("telegram update: %w", err)
	}
	return &Update{Messages: t.normalise([]tgUpdate{u})}, nil
}

// Poll calls getUpdates from the stored offset. Telegram forgets updates once a
// later offset is asked for, so the caller stores Update.Offset only after the
// messages are committed.
func (t *Telegram) Poll(ctx context.Context, c *Conn) (*Update, error) {
	timeout := 0
	if n, err := strconv.Atoi(c.Setting("poll_timeout")); err == nil && n >= 0 && n <= 50 {
		timeout = n
	}
	var res struct {
		OK          bool       `json:"ok"`
		Description string     `json:"description"`
		Result      []tgUpdate `json:"result"`
	}
	in := map[string]any{"offset": c.PollOffset, "timeout": timeout, "allowed_updates": []string{"message"}}
	if err := t.http.postJSON(ctx, t.api(c, "getUpdates"), nil, in, &res); err != nil {
		return nil, fmt.Errorf("telegram getUpdates: %w", err)
	}
	if !res.OK {
		return nil, fmt.Errorf("telegram getUpdates: %s", res.Description)
	}
	up := &Update{Messages: t.normalise(res.Result)}
	for _, u := range res.Result {
		if u.UpdateID+1 > up.Offset {
			up.Offset = u.UpdateID + 1
		}
	}
	return up, nil
}

func (t *Telegram) normalise(us []tgUpdate) []Inbound {
	var out []Inbound
	for _, u := range us {
		m := u.Message
		if m == nil || m.From == nil {
			continue // edits, channel posts, callbacks: not conversations
		}
		name := strings.TrimSpace(m.From.FirstName + " " + m.From.LastName)
		if name == "" {
			name = m.From.Username
		}
		in := Inbound{
			// message_id is unique per chat only.
			ProviderMessageID: fmt.Sprintf("%d:%d", m.Chat.ID, m.MessageID),
			From:              Identity{Kind: "telegram", Value: strconv.FormatInt(m.Chat.ID, 10), DisplayName: name},
			Text:              m.Text,
			At:                time.Unix(m.Date, 0).UTC(),
		}
		if in.Text == "" {
			in.Text = m.Caption
		}
		if m.ReplyToMessage != nil {
			in.ReplyToProviderID = fmt.Sprintf("%d:%d", m.Chat.ID, m.ReplyToMessage.MessageID)
		}
		if len(m.Photo) > 0 {
			p := m.Photo[len(m.Photo)-1] // sizes ascend; keep the largest
			in.Media = append(in.Media, Media{Ref: p.FileID, Filename: "photo.jpg", ContentType: "image/jpeg", Kind: "photo"})
		}
		for kind, f := range map[string]*tgFile{"document": m.Document, "voice": m.Voice, "audio": m.Audio, "video": m.Video} {
			if f == nil {
				continue
			}
			name := f.FileName
			if name == "" {
				name = kind + extFor(f.MimeType)
			}
			in.Media = append(in.Media, Media{Ref: f.FileID, Filename: name, ContentType: f.MimeType, Kind: kind})
		}
		out = append(out, in)
	}
	return out
}

func extFor(mime string) string {
	switch mime {
	case "audio/ogg":
		return ".ogg"
	case "audio/mpeg":
		return ".mp3"
	case "video/mp4":
		return ".mp4"
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "application/pdf":
		return ".pdf"
	}
	return ""
}

// Fetch resolves a file_id with getFile and downloads /file/bot<token>/<path>.
func (t *Telegram) Fetch(ctx context.Context, c *Conn, m Media) (io.ReadCloser, error) {
	var res struct {
		OK     bool `json:"ok"`
		Result struct {
			FilePath string `json:"file_path"`
		} `json:"result"`
	}
	if err := t.http.postJSON(ctx, t.api(c, "getFile"), nil, map[string]string{"file_id": m.Ref}, &res); err != nil {
		return nil, fmt.Errorf("telegram getFile: %w", err)
	}
	if !res.OK || res.Result.FilePath == "" {
		return nil, fmt.Errorf("telegram getFile %s: no file_path", m.Ref)
	}
	u := strings.TrimRight(c.BaseURL(TelegramAPI), "/") + "/file/bot" + c.Cred("bot_token") + "/" +
		(&url.URL{Path: res.Result.FilePath}).EscapedPath()
	return t.http.download(ctx, u, nil)
}

type tgResult struct {
	OK          bool   `json:"ok"`
	Description string `json:"description"`
	Result      struct {
		MessageID int64 `json:"message_id"`
	} `json:"result"`
}

// UnmarshalJSON accepts setWebhook's "result": true as well as a message.
func (r *tgResult) UnmarshalJSON(b []byte) error {
	var raw struct {
		OK          bool            `json:"ok"`
		Description string          `json:"description"`
		Result      json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	r.OK, r.Description = raw.OK, raw.Description
	if len(raw.Result) > 0 && raw.Result[0] == '{' {
		return json.Unmarshal(raw.Result, &r.Result)
	}
	return nil
}

// Send posts the text with sendMessage, then each attachment with sendPhoto
// (images) or sendDocument, all as replies to ReplyToProviderID when set.
func (t *Telegram) Send(ctx context.Context, c *Conn, out Outgoing) (*Sent, error) {
	if out.Template != nil {
		return nil, ErrNotSupported
	}
	if out.Text == "" && len(out.Attachments) == 0 {
		return nil, errEmptyMessage
	}
	replyTo := int64(0)
	if i := strings.LastIndexByte(out.ReplyToProviderID, ':'); i >= 0 {
		replyTo, _ = strconv.ParseInt(out.ReplyToProviderID[i+1:], 10, 64)
	}
	var first string
	record := func(r tgResult, method string) error {
		if !r.OK {
			return fmt.Errorf("telegram %s: %s", method, r.Description)
		}
		if first == "" {
			first = fmt.Sprintf("%s:%d", out.To, r.Result.MessageID)
		}
		return nil
	}
	if out.Text != "" {
		in := map[string]any{"chat_id": out.To, "text": out.Text}
		if replyTo > 0 {
			in["reply_to_message_id"] = replyTo
			in["reply_parameters"] = map[string]any{"message_id": replyTo, "allow_sending_without_reply": true}
		}
		var r tgResult
		if err := t.http.postJSON(ctx, t.api(c, "sendMessage"), nil, in, &r); err != nil {
			return nil, fmt.Errorf("telegram sendMessage: %w", err)
		}
		if err := record(r, "sendMessage"); err != nil {
			return nil, err
		}
	}
	for _, f := range out.Attachments {
		method, field := "sendDocument", "document"
		if strings.HasPrefix(f.ContentType, "image/") && f.ContentType != "image/svg+xml" {
			method, field = "sendPhoto", "photo"
		}
		fields := map[string]string{"chat_id": out.To}
		if replyTo > 0 {
			fields["reply_to_message_id"] = strconv.FormatInt(replyTo, 10)
		}
		var r tgResult
		if err := t.http.postMultipart(ctx, t.api(c, method), fields, field, f, &r); err != nil {
			return nil, fmt.Errorf("telegram %s: %w", method, err)
		}
		if err := record(r, method); err != nil {
			return nil, err
		}
	}
	return &Sent{ProviderMessageID: first}, nil
}

// RegisterWebhook calls setWebhook with the connection's webhook_secret as
// secret_token, generating one when none is set.
func (t *Telegram) RegisterWebhook(ctx context.Context, c *Conn, url string) (map[string]string, error) {
	secret := c.Cred("webhook_secret")
	if secret == "" {
		secret = randomHex(24)
	}
	var res tgResult
	in := map[string]any{"url": url, "secret_token": secret, "allowed_updates": []string{"message"}}
	if err := t.http.postJSON(ctx, t.api(c, "setWebhook"), nil, in, &res); err != nil {
		return nil, fmt.Errorf("telegram setWebhook: %w", err)
	}
	if !res.OK {
		return nil, fmt.Errorf("telegram setWebhook: %s", res.Description)
	}
	return map[string]string{"webhook_secret": secret}, nil
}
