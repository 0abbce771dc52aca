package mail

import (
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/emersion/go-message/mail"
)

// Outgoing is one mail we send, in the terms of RFC 5322 rather than of tickets.
type Outgoing struct {
	From *mail.Address
	// ReplyTo, when set, is where the recipient's answer should go (a reply address
	// carrying the ticket's token, see ReplyAddress).
	ReplyTo *mail.Address
	To, Cc  []*mail.Address
	Subject string
	// MessageID, InReplyTo and References are ids without angle brackets.
	MessageID  string
	InReplyTo  string
	References []string
	Date       time.Time
	// Text and HTML are the two renderings of the body; when one is empty it is
	// made from the other, so every mail carries both parts.
	Text string
	HTML string
	// PixelURL, when set, is added to the HTML part as a 1×1 image (read tracking).
	PixelURL string
	// AutoSubmitted marks mail a person did not write (RFC 3834), so other systems
	// do not answer it automatically.
	AutoSubmitted bool
	Attachments   []OutgoingAttachment
}

// OutgoingAttachment is a file to attach; Open is called once while writing.
type OutgoingAttachment struct {
	Filename    string
	ContentType string
	Open        func() (io.ReadCloser, error)
}

// WriteOutgoing writes o as a MIME message: multipart/alternative with a text and an
// HTML part, inside multipart/mixed when there are attachments. go-message picks
// quoted-printable for the text parts and base64 for files, and encodes non-ASCII
// header words per RFC 2047; attachment file names also get the RFC 2231 form.
func WriteOutgoing(w io.Writer, o *Outgoing) error {
	var h gomail.Header
	date := o.Date
	if date.IsZero() {
		date = time.Now()
	}
	h.SetDate(date)
	h.SetAddressList("From", []*gomail.Address{o.From})
	if o.ReplyTo != nil {
		h.SetAddressList("Reply-To", []*gomail.Address{o.ReplyTo})
	}
	h.SetAddressList("To", o.To)
	h.SetAddressList("Cc", o.Cc)
	h.SetSubject(o.Subject)
	h.SetMessageID(o.MessageID)
	if o.InReplyTo != "" {
		h.SetMsgIDList("In-Reply-To", []string{o.InReplyTo})
	}
	if len(o.References) > 0 {
		h.SetMsgIDList("References", o.References)
	}
	if o.AutoSubmitted {
		h.Set("Auto-Submitted", "auto-replied")
		h.Set("X-Auto-Response-Suppress", "All")
	}
	h.Set("MIME-Version", "1.0")

	text, html := o.Text, o.HTML
	if strings.TrimSpace(html) == "" {
		html = composeHTML(text)
	}
	if strings.TrimSpace(text) == "" {
		text = composeText(html)
	}
	if o.PixelURL != "" {
		html = addPixel(html, o.PixelURL)
	}

	if len(o.Attachments) == 0 {
		iw, err := gomail.CreateInlineWriter(w, h)
		if err != nil {
			return fmt.Errorf("write header: %w", err)
		}
		if err := writeAlternatives(iw, text, html); err != nil {
			return err
		}
		return iw.Close()
	}
	mw, err := gomail.CreateWriter(w, h)
	if err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	iw, err := mw.CreateInline()
	if err != nil {
		return fmt.Errorf("write body: %w", err)
	}
	if err := writeAlternatives(iw, text, html); err != nil {
		return err
	}
	if err := iw.Close(); err != nil {
		return fmt.Errorf("write body: %w", err)
	}
	for _, a := range o.Attachments {
		if err := writeAttachment(mw, a); err != nil {
			return err
		}
	}
	return mw.Close()
}

func writeAlternatives(iw *gomail.InlineWriter, text, html string) error {
	for _, p := range []struct{ typ, body string }{{"text/plain", text}, {"text/html", html}} {
		var ph gomail.InlineHeader
		ph.SetContentType(p.typ, map[string]string{"charset": "utf-8"})
		pw, err := iw.CreatePart(ph)
		if err != nil {
			return fmt.Errorf("write %s part: %w", p.typ, err)
		}
		if _, err := io.WriteString(pw, p.body); err != nil {
			return fmt.Errorf("write %s part: %w", p.typ, err)
		}
		if err := pw.Close(); err != nil {
			return fmt.Errorf("write %s part: %w", p.typ, err)
		}
	}
	return nil
}

func writeAttachment(mw *gomail.Writer, a OutgoingAttachment) error {
	ct := a.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	name := a.Filename
	if name == "" {
		name = "attachment"
	}
	var ah gomail.AttachmentHeader
	// Content-Type's name= in RFC 2047 form for older clients, Content-Disposition's
	// filename in RFC 2231 form (mime.FormatMediaType chooses it for non-ASCII).
	ah.SetContentType(ct, map[string]string{"name": name})
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": name})
	if disp == "" {
		disp = "attachment"
	}
	ah.Set("Content-Disposition", disp)
	aw, err := mw.CreateAttachment(ah)
	if err != nil {
		return fmt.Errorf("write attachment %q: %w", name, err)
	}
	rc, err := a.Open()
	if err != nil {
		return fmt.Errorf("open attachment %q: %w", name, err)
	}
	defer rc.Close()
	if _, err := io.Copy(aw, rc); err != nil {
		return fmt.Errorf("write attachment %q: %w", name, err)
	}
	return aw.Close()
}

// addPixel puts the tracking image at the end of the HTML body.
func addPixel(html, url string) string {
	img := `<img src="` + escapeAttr(url) + `" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">`
	if i := strings.LastIndex(strings.ToLower(html), "</body>"); i >= 0 {
		return html[:i] + img + html[i:]
	}
	return html + img
}
