package messengers

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// VK speaks the VK Callback API (https://dev.vk.com/en/api/callback/getting-started)
// and messages.send.
//
// Credentials: access_token (community token), secret (the "secret key" VK puts
// in every callback), confirmation (the string VK expects back when it confirms
// the server address).
//
// Sending files needs VK's upload-server round trip; replies carry text only and
// a reply with files fails with a clear reason.
type VK struct{ http httpClient }

// VKAPI is the public endpoint.
const VKAPI = "https://api.vk.com"

const vkVersion = "5.199"

func (v *VK) Provider() string { return "vk" }

type vkAttachment struct {
	Type  string `json:"type"`
	Photo *struct {
		Sizes []struct {
			URL    string `json:"url"`
			Width  int    `json:"width"`
			Height int    `json:"height"`
		} `json:"sizes"`
	} `json:"photo"`
	Doc *struct {
		Title string `json:"title"`
		Ext   string `json:"ext"`
		URL   string `json:"url"`
	} `json:"doc"`
	AudioMessage *struct {
		LinkOgg string `json:"link_ogg"`
	} `json:"audio_message"`
}

// Webhook checks the callback's secret in constant time, answers confirmation
// requests, and decodes message_new.
func (v *VK) Webhook(ctx context.Context, c *Conn, r *http.Request, body []byte) (*Update, error) {
	var cb struct {
		Type   string          `json:"type"`
		Secret string          `json:"secret"`
		Object json.RawMessage `json:"object"`
	}
	if err := json.Unmarshal(body, &cb); err != nil {
		return nil, fmt.Errorf("vk callback: %w", err)
	}
	want := c.Cred("secret")
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(cb.Secret)) != 1 {
		return nil, ErrBadSignature
	}
	up := &Update{}
	switch cb.Type {
	case "confirmation":
		up.Response = c.Cred("confirmation")
	case "message_new":
		var obj struct {
			Message struct {
				ID           int64          `json:"id"`
				Date         int64          `json:"date"`
				FromID       int64          `json:"from_id"`
				PeerID       int64          `json:"peer_id"`
				Text         string         `json:"text"`
				Attachments  []vkAttachment `json:"attachments"`
				ReplyMessage *struct {
					ID int64 `json:"id"`
				} `json:"reply_message"`
			} `json:"message"`
		}
		if err := json.Unmarshal(cb.Object, &obj); err != nil {
			return nil, fmt.Errorf("vk message_new: %w", err)
		}
		m := obj.Message
		in := Inbound{ProviderMessageID: strconv.FormatInt(m.ID, 10), Text: m.Text, At: time.Unix(m.Date, 0).UTC(),
			From: Identity{Kind: "vk", Value: strconv.FormatInt(m.PeerID, 10)}}
		if m.ReplyMessage != nil {
			in.ReplyToProviderID = strconv.FormatInt(m.ReplyMessage.ID, 10)
		}
		for i, a := range m.Attachments {
			switch {
			case a.Photo != nil && len(a.Photo.Sizes) > 0:
				best := a.Photo.Sizes[0]
				for _, s := range a.Photo.Sizes {
					if s.Width*s.Height > best.Width*best.Height {
						best = s
					}
				}
				in.Media = append(in.Media, Media{Ref: best.URL, Filename: fmt.Sprintf("photo-%d.jpg", i+1),
					ContentType: "image/jpeg", Kind: "photo"})
			case a.Doc != nil:
				name := a.Doc.Title
				if a.Doc.Ext != "" && !strings.HasSuffix(name, "."+a.Doc.Ext) {
					name += "." + a.Doc.Ext
				}
				in.Media = append(in.Media, Media{Ref: a.Doc.URL, Filename: name, Kind: "document"})
			case a.AudioMessage != nil:
				in.Media = append(in.Media, Media{Ref: a.AudioMessage.LinkOgg, Filename: "voice.ogg",
					ContentType: "audio/ogg", Kind: "voice"})
			}
		}
		up.Messages = append(up.Messages, in)
	}
	return up, nil
}

// Fetch downloads an attachment URL from the callback.
func (v *VK) Fetch(ctx context.Context, c *Conn, m Media) (io.ReadCloser, error) {
	return v.http.download(ctx, m.Ref, nil)
}

// Send calls messages.send. random_id is derived from Outgoing.Key, so VK drops
// a retry of a reply it already delivered.
func (v *VK) Send(ctx context.Context, c *Conn, out Outgoing) (*Sent, error) {
	if out.Template != nil {
		return nil, ErrNotSupported
	}
	if len(out.Attachments) > 0 {
		return nil, fmt.Errorf("vk needs its upload-server round trip for files; send the text alone")
	}
	if out.Text == "" {
		return nil, errEmptyMessage
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%s\x00%s", out.Key, out.Text)
	form := url.Values{"access_token": {c.Cred("access_token")}, "v": {vkVersion}, "peer_id": {out.To},
		"random_id": {strconv.FormatUint(uint64(h.Sum32()&0x7fffffff), 10)}, "message": {out.Text}}
	if out.ReplyToProviderID != "" {
		form.Set("reply_to", out.ReplyToProviderID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		strings.TrimRight(c.BaseURL(VKAPI), "/")+"/method/messages.send", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var res struct {
		Response json.RawMessage `json:"response"`
		Error    *struct {
			Code int    `json:"error_code"`
			Msg  string `json:"error_msg"`
		} `json:"error"`
	}
	if err := v.http.do(req, &res); err != nil {
		return nil, fmt.Errorf("vk messages.send: %w", err)
	}
	if res.Error != nil {
		err := fmt.Errorf("vk messages.send: error %d: %s", res.Error.Code, res.Error.Msg)
		if res.Error.Code == 6 || res.Error.Code == 10 || res.Error.Code == 1 { // too many requests, internal, unknown
			return nil, &TemporaryError{Err: err}
		}
		return nil, err
	}
	return &Sent{ProviderMessageID: strings.Trim(string(res.Response), `"`)}, nil
}
