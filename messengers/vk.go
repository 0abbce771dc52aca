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
// Files go through VK's upload servers (photos or documents for messages), so
// VK needs no public URL for them.
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

// Send uploads each file through VK's upload servers, then calls messages.send
// with the text and the uploaded attachments. random_id is derived from
// Outgoing.Key, so VK drops a retry of a reply it already delivered (a retry does
// upload the files again; VK keeps unsent uploads only as orphans).
func (v *VK) Send(ctx context.Context, c *Conn, out Outgoing) (*Sent, error) {
	if out.Template != nil {
		return nil, ErrNotSupported
	}
	if out.Text == "" && len(out.Attachments) == 0 {
		return nil, errEmptyMessage
	}
	var atts []string
	for _, f := range out.Attachments {
		a, err := v.upload(ctx, c, out.To, f)
		if err != nil {
			return nil, err
		}
		atts = append(atts, a)
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%s\x00%s", out.Key, out.Text)
	form := url.Values{"peer_id": {out.To}, "random_id": {strconv.FormatUint(uint64(h.Sum32()&0x7fffffff), 10)}}
	if out.Text != "" {
		form.Set("message", out.Text)
	}
	if len(atts) > 0 {
		form.Set("attachment", strings.Join(atts, ","))
	}
	if out.ReplyToProviderID != "" {
		form.Set("reply_to", out.ReplyToProviderID)
	}
	res, err := v.call(ctx, c, "messages.send", form)
	if err != nil {
		return nil, err
	}
	return &Sent{ProviderMessageID: strings.Trim(string(res), `"`)}, nil
}

// upload sends one file to VK and returns its attachment string for messages.send:
// pictures through photos.getMessagesUploadServer → upload → photos.saveMessagesPhoto
// ("photo<owner>_<id>_<access_key>"), anything else through
// docs.getMessagesUploadServer → upload → docs.save ("doc<owner>_<id>").
func (v *VK) upload(ctx context.Context, c *Conn, peer string, f OutFile) (string, error) {
	photo := f.ContentType == "image/jpeg" || f.ContentType == "image/png" || f.ContentType == "image/gif"
	method, field := "docs.getMessagesUploadServer", "file"
	form := url.Values{"peer_id": {peer}, "type": {"doc"}}
	if photo {
		method, field = "photos.getMessagesUploadServer", "photo"
		form = url.Values{"peer_id": {peer}}
	}
	raw, err := v.call(ctx, c, method, form)
	if err != nil {
		return "", err
	}
	var server struct {
		UploadURL string `json:"upload_url"`
	}
	if err := json.Unmarshal(raw, &server); err != nil || server.UploadURL == "" {
		return "", fmt.Errorf("vk %s: no upload_url in %s", method, snippet(raw))
	}
	// The upload server answers {"server","photo","hash"} for photos, {"file"} for
	// documents, or {"error": "..."}.
	var up struct {
		Server json.RawMessage `json:"server"`
		Photo  string          `json:"photo"`
		Hash   string          `json:"hash"`
		File   string          `json:"file"`
		Error  string          `json:"error"`
	}
	if err := v.http.postMultipart(ctx, server.UploadURL, nil, field, f, &up); err != nil {
		return "", fmt.Errorf("vk upload %q: %w", f.Filename, err)
	}
	if up.Error != "" || (photo && (up.Photo == "" || up.Photo == "[]")) || (!photo && up.File == "") {
		return "", fmt.Errorf("vk upload %q refused: %s", f.Filename, up.Error)
	}
	if photo {
		raw, err := v.call(ctx, c, "photos.saveMessagesPhoto", url.Values{"server": {string(up.Server)},
			"photo": {up.Photo}, "hash": {up.Hash}})
		if err != nil {
			return "", err
		}
		var saved []struct {
			ID        int64  `json:"id"`
			OwnerID   int64  `json:"owner_id"`
			AccessKey string `json:"access_key"`
		}
		if err := json.Unmarshal(raw, &saved); err != nil || len(saved) == 0 {
			return "", fmt.Errorf("vk photos.saveMessagesPhoto: unexpected answer %s", snippet(raw))
		}
		a := fmt.Sprintf("photo%d_%d", saved[0].OwnerID, saved[0].ID)
		if saved[0].AccessKey != "" {
			a += "_" + saved[0].AccessKey
		}
		return a, nil
	}
	raw, err = v.call(ctx, c, "docs.save", url.Values{"file": {up.File}, "title": {f.Filename}})
	if err != nil {
		return "", err
	}
	var saved struct {
		Type string `json:"type"`
		Doc  struct {
			ID      int64 `json:"id"`
			OwnerID int64 `json:"owner_id"`
		} `json:"doc"`
	}
	if err := json.Unmarshal(raw, &saved); err != nil || saved.Doc.ID == 0 {
		return "", fmt.Errorf("vk docs.save: unexpected answer %s", snippet(raw))
	}
	return fmt.Sprintf("doc%d_%d", saved.Doc.OwnerID, saved.Doc.ID), nil
}

// call invokes one API method (form-encoded POST with the community token) and
// returns its "response". VK reports failures in the body with HTTP 200.
func (v *VK) call(ctx context.Context, c *Conn, method string, form url.Values) (json.RawMessage, error) {
	form.Set("access_token", c.Cred("access_token"))
	form.Set("v", vkVersion)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		strings.TrimRight(c.BaseURL(VKAPI), "/")+"/method/"+method, strings.NewReader(form.Encode()))
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
		return nil, fmt.Errorf("vk %s: %w", method, err)
	}
	if res.Error != nil {
		err := fmt.Errorf("vk %s: error %d: %s", method, res.Error.Code, res.Error.Msg)
		if res.Error.Code == 6 || res.Error.Code == 10 || res.Error.Code == 1 { // too many requests, internal, unknown
			return nil, &TemporaryError{Err: err}
		}
		return nil, err
	}
	return res.Response, nil
}
