package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tasks"
	"github.com/postdesk/postdesk/tickets"
)

// upload posts a file through the API and returns the decoded response.
func (c *apiClient) upload(status int, name string, content []byte) *response {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest("POST", c.base+"/api/v1/attachments", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != status {
		c.t.Fatalf("upload %s: %d, want %d: %s", name, res.StatusCode, status, b)
	}
	return &response{Status: res.StatusCode, Body: b, Header: res.Header}
}

func TestReplyWithAttachmentReachesSink(t *testing.T) {
	h := newHarness(t)
	d := newMailDesk(t, h, 0)
	sink := testenv.NewSMTPSink(t, testenv.SinkOptions{})
	d.api.must(200, "PATCH", fmt.Sprintf("/api/v1/channels/%d/mailboxes/%d", d.channelID, d.mailbox.ID),
		map[string]any{"smtp_host": sink.Host, "smtp_port": sink.Port}, nil)
	h.svc.Hostname = "desk.test"
	h.svc.Sends = &tasks.SendQueue{Client: h.web.tasks}
	w := tasks.NewWorker(testenv.Asynq(t), slog.New(slog.NewTextHandler(io.Discard, nil)))
	tasks.Register(w, tasks.Deps{Tickets: h.svc, Client: h.web.tasks, Blobs: h.web.blobs,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Send: tasks.SendConfig{BaseURL: "http://desk.test"}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.RunWorker(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	pdf := bytes.Repeat([]byte("%PDF-1.7 \x00\xff binary"), 500)
	var up tickets.Attachment
	d.api.upload(201, "Lieferschein Grün.pdf", pdf).json(t, &up)
	if up.Size != int64(len(pdf)) || up.ContentType != "application/pdf" || up.MessageID != nil {
		t.Fatalf("upload: %+v", up)
	}
	// The uploader can fetch it back; nobody else can.
	got := d.api.must(200, "GET", fmt.Sprintf("/api/v1/attachments/%d/content", up.ID), nil, nil)
	if !bytes.Equal(got.Body, pdf) || got.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("download: %d bytes, %s", len(got.Body), got.Header.Get("Content-Type"))
	}
	_, other := h.agent("admin")
	other.must(404, "GET", fmt.Sprintf("/api/v1/attachments/%d/content", up.ID), nil, nil)

	var m tickets.Message
	d.api.must(201, "POST", d.messagesPath(), map[string]any{"body": "Delivery note attached.",
		"body_html": `<p>Delivery note <b>attached</b>.</p><script>alert(1)</script>`, "attachment_ids": []int64{up.ID}}, &m)
	if len(m.Attachments) != 1 || strings.Contains(m.BodyHTML, "script") {
		t.Fatalf("reply: %d attachments, html %q", len(m.Attachments), m.BodyHTML)
	}
	// Used once: a second reply cannot take it again.
	d.api.must(422, "POST", d.messagesPath(), map[string]any{"body": "again", "attachment_ids": []int64{up.ID}}, nil)

	rcv := sink.WaitFor(1, 15*time.Second)
	if len(rcv) != 1 {
		t.Fatal("nothing reached the sink")
	}
	msg, err := mail.ReadMessage(bytes.NewReader(rcv[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var names []string
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		if p.FileName() != "" {
			names = append(names, p.FileName())
		}
	}
	if len(names) != 1 || names[0] != "Lieferschein Grün.pdf" {
		t.Fatalf("attachments on the wire: %v", names)
	}
}

func TestAttachmentOverChannelLimit(t *testing.T) {
	h := newHarness(t)
	d := newMailDesk(t, h, 0)
	d.api.must(200, "PATCH", fmt.Sprintf("/api/v1/channels/%d", d.channelID), map[string]any{"max_attachment_bytes": 1000}, nil)
	var up tickets.Attachment
	d.api.upload(201, "big.bin", bytes.Repeat([]byte{1}, 1001)).json(t, &up)
	r := d.api.must(422, "POST", d.messagesPath(), map[string]any{"body": "x", "attachment_ids": []int64{up.ID}}, nil)
	if f := r.errFields(t)["attachment_ids"]; !strings.Contains(f, "at most 1000") {
		t.Fatalf("limit message %q", f)
	}
	// The upload stays usable (nothing half-applied) once the limit allows it.
	d.api.must(200, "PATCH", fmt.Sprintf("/api/v1/channels/%d", d.channelID), map[string]any{"max_attachment_bytes": 2000}, nil)
	d.api.must(201, "POST", d.messagesPath(), map[string]any{"body": "x", "attachment_ids": []int64{up.ID}}, nil)
	d.api.must(400, "POST", "/api/v1/attachments", "not multipart", nil)
}
