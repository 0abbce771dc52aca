package web

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	pdmail "github.com/postdesk/postdesk/mail"
	"github.com/postdesk/postdesk/tickets"
)

// An inbound mail's original is one click away: everything the parser left out (here
// an attachment over the channel's size limit) can be read from it. Only agents who
// see the message get it; notes and replies have none.
func TestMessageOriginal(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	anna, annaC := h.agent("agent")
	_, bobC := h.agent("agent")
	ch := admin.channel(uniq("Originals"), "email", anna.ID)
	admin.must(200, "PATCH", fmt.Sprintf("/api/v1/channels/%d", ch), map[string]any{"max_attachment_bytes": 1000}, nil)
	var mb struct{ ID int64 }
	admin.must(201, "POST", fmt.Sprintf("/api/v1/channels/%d/mailboxes", ch),
		map[string]any{"address": fmt.Sprintf("orig%d@example.com", anna.ID)}, &mb)

	big := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("invoice line\n", 400)))
	raw := "From: Ina <ina@customer.test>\r\nTo: shop@example.com\r\nSubject: Big invoice\r\n" +
		"Message-ID: <" + uniq("big") + "@customer.test>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n" +
		"--b\r\nContent-Type: text/plain; name=invoice.txt\r\nContent-Disposition: attachment; filename=invoice.txt\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + big + "\r\n--b--\r\n"
	intake := &pdmail.Intake{DB: h.svc.DB, Blobs: h.web.blobs}
	id, err := intake.Accept(context.Background(), pdmail.Arrival{MailboxIDs: []int64{mb.ID}, Source: pdmail.SourceSMTP},
		strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&pdmail.Ingester{Tickets: h.svc, Intake: intake}).Process(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	msgID := res.Items[0].MessageID

	var m tickets.Message
	annaC.must(200, "GET", fmt.Sprintf("/api/v1/messages/%d", msgID), nil, &m)
	if len(m.Attachments) != 0 || !strings.Contains(m.ParseWarning, "it is in the original mail") || m.InboundMailID == nil {
		t.Fatalf("message: %d attachments, warning %q, original %v", len(m.Attachments), m.ParseWarning, m.InboundMailID)
	}
	r := annaC.must(200, "GET", fmt.Sprintf("/api/v1/messages/%d/original", msgID), nil, nil)
	if string(r.Body) != raw {
		t.Fatalf("original differs from the mail received (%d bytes, want %d)", len(r.Body), len(raw))
	}
	if ct, cd := r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"); ct != "message/rfc822" ||
		!strings.HasPrefix(cd, "attachment") || !strings.Contains(cd, ".eml") {
		t.Fatalf("served as %q, %q", ct, cd)
	}
	// Bob is not in the channel; a note has no original.
	if code := bobC.do("GET", fmt.Sprintf("/api/v1/messages/%d/original", msgID), nil).Status; code != 404 {
		t.Fatalf("an agent outside the channel got %d", code)
	}
	var note tickets.Message
	annaC.must(201, "POST", fmt.Sprintf("/api/v1/tickets/%d/messages", res.Items[0].TicketID),
		map[string]any{"type": "note", "body": "Asked Ina for a smaller file"}, &note)
	if code := annaC.do("GET", fmt.Sprintf("/api/v1/messages/%d/original", note.ID), nil).Status; code != 404 {
		t.Fatalf("a note's original: %d", code)
	}
}
