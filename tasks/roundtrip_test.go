package tasks

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"strings"
	"testing"
	"time"

	pdmail "github.com/postdesk/postdesk/mail"
	"github.com/postdesk/postdesk/tickets"
)

// TestReplyRoundTrip: a reply leaves through the relay; the customer answers it (a
// mail whose In-Reply-To is our Message-ID, with a subject of their own) through our
// SMTP server; the answer lands on the same ticket and reopens it.
func TestReplyRoundTrip(t *testing.T) {
	e := newSendEnv(t, 0)
	intake := &pdmail.Intake{DB: e.svc.DB, Blobs: e.deps.Blobs, Enqueue: e.client.EnqueueIngest, Log: e.deps.Log}
	e.deps.Ingester = &pdmail.Ingester{Tickets: e.svc, Intake: intake, Log: e.deps.Log}
	e.startWorker()

	srv := pdmail.NewSMTPServer(pdmail.SMTPConfig{Hostname: "desk.test"}, intake, e.deps.Log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, ln, time.Second); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	reply := e.reply(tickets.OutboundDraft{BodyText: "Your order ships Monday."})
	got := e.sink.WaitFor(1, 10*time.Second)
	if len(got) != 1 {
		t.Fatal("the reply never reached the relay")
	}
	e.waitStatus(reply.ID, tickets.MessageSent, 5*time.Second)
	out, err := mail.ReadMessage(bytes.NewReader(got[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	ourID := out.Header.Get("Message-Id")
	// The agent resolved the ticket meanwhile.
	e.svc.DB.Model(&tickets.Ticket{}).Where("id = ?", e.ticket.ID).Update("status", tickets.StatusResolved)

	answer := fmt.Sprintf("From: Bob Customer <%s>\r\nTo: %s\r\nSubject: thanks a lot\r\nDate: %s\r\n"+
		"Message-ID: <answer.%d@customer.test>\r\nIn-Reply-To: %s\r\nReferences: <%s> %s\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n\r\nGreat, thanks!\r\n\r\n> Your order ships Monday.\r\n",
		e.inbound.FromAddress, e.mailbox.Address, time.Now().Format(time.RFC1123Z), time.Now().UnixNano(),
		ourID, e.inbound.MessageIDHeader, ourID)
	if err := smtp.SendMail(ln.Addr().String(), nil, e.inbound.FromAddress, []string{e.mailbox.Address},
		[]byte(answer)); err != nil {
		t.Fatalf("customer's answer refused: %v", err)
	}

	deadline := time.Now().Add(15 * time.Second)
	var in tickets.Message
	for {
		err := e.svc.DB.Where("direction = 'inbound' AND message_id_header LIKE 'answer.%' AND channel_id = ?",
			e.channel.ID).Take(&in).Error
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the customer's answer was not ingested")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if in.TicketID != e.ticket.ID {
		t.Fatalf("answer landed on ticket %d, want %d", in.TicketID, e.ticket.ID)
	}
	var tk tickets.Ticket
	e.svc.DB.Take(&tk, e.ticket.ID)
	if tk.Status != tickets.StatusOpen {
		t.Fatalf("ticket is %s after the customer answered, want open", tk.Status)
	}

	// A client that drops In-Reply-To and References (and changes the subject) still
	// threads through the reply address the mail carried in Reply-To.
	replyTo, err := mail.ParseAddress(out.Header.Get("Reply-To"))
	if err != nil || !strings.HasPrefix(replyTo.Address, strings.Split(e.mailbox.Address, "@")[0]+"+t") {
		t.Fatalf("Reply-To %q does not carry the ticket's reply address (%v)", out.Header.Get("Reply-To"), err)
	}
	bare := fmt.Sprintf("From: Bob Customer <%s>\r\nTo: %s\r\nSubject: another question\r\nDate: %s\r\n"+
		"Message-ID: <bare.%d@customer.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nOne more thing.\r\n",
		e.inbound.FromAddress, replyTo.Address, time.Now().Format(time.RFC1123Z), time.Now().UnixNano())
	if err := smtp.SendMail(ln.Addr().String(), nil, e.inbound.FromAddress, []string{replyTo.Address},
		[]byte(bare)); err != nil {
		t.Fatalf("answer to the reply address refused: %v", err)
	}
	deadline = time.Now().Add(15 * time.Second)
	var bareMsg tickets.Message
	for {
		err := e.svc.DB.Where("direction = 'inbound' AND message_id_header LIKE 'bare.%' AND channel_id = ?",
			e.channel.ID).Take(&bareMsg).Error
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the answer to the reply address was not ingested")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if bareMsg.TicketID != e.ticket.ID {
		t.Fatalf("answer without threading headers landed on ticket %d, want %d", bareMsg.TicketID, e.ticket.ID)
	}
}
