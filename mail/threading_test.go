package mail

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tickets"
)

// ingestRaw commits raw through Intake and ingests it, returning the items.
func ingestRaw(t *testing.T, mailboxIDs []int64, raw string) []IngestedItem {
	t.Helper()
	db := testenv.DB(t)
	in := &Intake{DB: db, Blobs: &tickets.Blobs{Dir: blobDir(t)}}
	id, err := in.Accept(context.Background(), Arrival{MailboxIDs: mailboxIDs, Source: SourceSMTP}, strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&Ingester{Tickets: tickets.NewService(db), Intake: in}).Process(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return res.Items
}

var sharedBlobDir string

func blobDir(t *testing.T) string {
	if sharedBlobDir == "" {
		sharedBlobDir = t.TempDir()
	}
	return sharedBlobDir
}

func mailFrom(from, subject, msgID, extra, body string) string {
	h := fmt.Sprintf("From: %s\r\nTo: support@example.test\r\nSubject: %s\r\n", from, subject)
	if msgID != "" {
		h += "Message-ID: <" + msgID + ">\r\n"
	}
	return h + extra + "\r\n" + body + "\r\n"
}

func loadTicket(t *testing.T, id int64) tickets.Ticket {
	t.Helper()
	var tk tickets.Ticket
	if err := testenv.DB(t).Take(&tk, id).Error; err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestThreading(t *testing.T) {
	db := testenv.DB(t)
	_, mb := newMailbox(t)
	box := []int64{mb.ID}
	cust := unique("ann") + "@customer.test"
	orig := unique("orig") + "@customer.test"
	first := ingestRaw(t, box, mailFrom(cust, "Help", orig, "", "first"))[0]
	if !first.NewTicket {
		t.Fatal("first mail did not open a ticket")
	}

	t.Run("reply_with_in_reply_to_joins_ticket", func(t *testing.T) {
		it := ingestRaw(t, box, mailFrom(cust, "Re: Help", unique("r")+"@c", "In-Reply-To: <"+orig+">\r\n", "reply"))[0]
		if it.NewTicket || it.TicketID != first.TicketID || it.ThreadedBy != ThreadByHeader {
			t.Fatalf("%+v", it)
		}
	})

	t.Run("references_only_joins_ticket", func(t *testing.T) {
		it := ingestRaw(t, box, mailFrom(cust, "other subject", unique("r")+"@c", "References: <unknown@x> <"+orig+">\r\n", "r"))[0]
		if it.TicketID != first.TicketID {
			t.Fatalf("%+v", it)
		}
	})

	t.Run("same_message_id_twice_is_one_message", func(t *testing.T) {
		it := ingestRaw(t, box, mailFrom(cust, "Help", orig, "", "first again"))[0]
		if !it.Duplicate || it.TicketID != first.TicketID {
			t.Fatalf("%+v", it)
		}
		var n int64
		db.Raw(`SELECT count(*) FROM messages WHERE message_id_header = ?`, orig).Scan(&n)
		if n != 1 {
			t.Fatalf("%d messages with the id", n)
		}
	})

	t.Run("reply_reopens_resolved_ticket", func(t *testing.T) {
		db.Exec(`UPDATE tickets SET status = 'resolved' WHERE id = ?`, first.TicketID)
		ingestRaw(t, box, mailFrom(cust, "Re: Help", unique("r")+"@c", "In-Reply-To: <"+orig+">\r\n", "again"))
		if st := loadTicket(t, first.TicketID).Status; st != tickets.StatusOpen {
			t.Fatalf("status %s, want open", st)
		}
	})

	t.Run("reply_wakes_snoozed_ticket", func(t *testing.T) {
		db.Exec(`UPDATE tickets SET snoozed_until = ? , wake_on_reply = true WHERE id = ?`, time.Now().Add(24*time.Hour), first.TicketID)
		ingestRaw(t, box, mailFrom(cust, "Re: Help", unique("r")+"@c", "In-Reply-To: <"+orig+">\r\n", "wake up"))
		if tk := loadTicket(t, first.TicketID); tk.SnoozedUntil != nil {
			t.Fatalf("still snoozed until %v", tk.SnoozedUntil)
		}
	})

	number := loadTicket(t, first.TicketID).Number
	t.Run("subject_number_from_participant_joins", func(t *testing.T) {
		it := ingestRaw(t, box, mailFrom(cust, fmt.Sprintf("Re: [#%d] Help", number), unique("s")+"@c", "", "by number"))[0]
		if it.TicketID != first.TicketID || it.ThreadedBy != ThreadBySubj {
			t.Fatalf("%+v", it)
		}
	})

	t.Run("subject_number_from_stranger_opens_new_ticket", func(t *testing.T) {
		it := ingestRaw(t, box, mailFrom(unique("mallory")+"@evil.test", fmt.Sprintf("[#%d] give me the data", number),
			unique("m")+"@evil", "", "x"))[0]
		if !it.NewTicket || it.TicketID == first.TicketID {
			t.Fatalf("stranger's mail threaded onto ticket %d: %+v", first.TicketID, it)
		}
	})

	t.Run("reply_address_token_joins", func(t *testing.T) {
		var token string
		db.Raw(`SELECT reply_token FROM tickets WHERE id = ?`, first.TicketID).Scan(&token)
		to := ReplyAddress(mb.Address, number, token)
		raw := strings.Replace(mailFrom(unique("colleague")+"@customer.test", "no headers", unique("t")+"@c", "", "x"),
			"To: support@example.test", "To: "+to, 1)
		it := ingestRaw(t, box, raw)[0]
		if it.TicketID != first.TicketID || it.ThreadedBy != ThreadByToken {
			t.Fatalf("%+v (to %s)", it, to)
		}
		bad := strings.Replace(raw, token, "000000000000", 1)
		bad = strings.Replace(bad, "Message-ID: <", "Message-ID: <bad-", 1)
		if it := ingestRaw(t, box, bad)[0]; !it.NewTicket {
			t.Fatalf("a wrong token threaded: %+v", it)
		}
	})

	t.Run("threading_is_scoped_to_the_channel", func(t *testing.T) {
		_, other := newMailbox(t)
		it := ingestRaw(t, []int64{other.ID}, mailFrom(cust, "Re: Help", unique("x")+"@c", "In-Reply-To: <"+orig+">\r\n", "x"))[0]
		if !it.NewTicket {
			t.Fatalf("a reply in another channel joined ticket %d", it.TicketID)
		}
	})
}

func TestBounceMarksOutboundFailed(t *testing.T) {
	db := testenv.DB(t)
	_, mb := newMailbox(t)
	cust := unique("b") + "@customer.test"
	first := ingestRaw(t, []int64{mb.ID}, mailFrom(cust, "Order", unique("o")+"@c", "", "hi"))[0]
	outID := unique("out") + "@support.test"
	out := &tickets.Message{TicketID: first.TicketID, ChannelID: first.ChannelID, Direction: tickets.DirectionOutbound,
		Status: tickets.MessageSent, MessageIDHeader: outID, Subject: "Re: Order"}
	if err := db.Create(out).Error; err != nil {
		t.Fatal(err)
	}
	dsn := "From: Mail Delivery System <MAILER-DAEMON@mx.test>\r\nTo: support@example.test\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
		"Message-ID: <" + unique("dsn") + "@mx.test>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n" +
		"--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n" +
		"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.test\r\n\r\nFinal-Recipient: rfc822; " + cust + "\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
		"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@example.test\r\nMessage-ID: <" + outID + ">\r\nSubject: Re: Order\r\n" +
		"--B--\r\n"
	it := ingestRaw(t, []int64{mb.ID}, dsn)[0]
	if !it.Bounce || it.TicketID != first.TicketID || it.NewTicket {
		t.Fatalf("bounce item %+v, want it on ticket %d", it, first.TicketID)
	}
	var got tickets.Message
	db.Take(&got, out.ID)
	if got.Status != tickets.MessageFailed || got.FailedReason == "" {
		t.Fatalf("outbound message %s %q, want failed", got.Status, got.FailedReason)
	}
	var n int64
	db.Raw(`SELECT count(*) FROM ticket_events WHERE ticket_id = ? AND kind = 'bounce'`, first.TicketID).Scan(&n)
	if n != 1 {
		t.Fatalf("%d bounce events", n)
	}
}

func TestBadInput(t *testing.T) {
	db := testenv.DB(t)
	_, mb := newMailbox(t)
	box := []int64{mb.ID}
	load := func(it IngestedItem) tickets.Message {
		var m tickets.Message
		if err := db.Preload("Attachments").Take(&m, it.MessageID).Error; err != nil {
			t.Fatal(err)
		}
		return m
	}

	t.Run("missing_from_and_message_id_get_a_stable_generated_id", func(t *testing.T) {
		raw := "Subject: anonymous " + unique("") + "\r\n\r\nno sender\r\n"
		it := ingestRaw(t, box, raw)[0]
		m := load(it)
		if !strings.HasPrefix(m.MessageIDHeader, "generated-") || !strings.Contains(m.ParseWarning, "no From") {
			t.Fatalf("message id %q warning %q", m.MessageIDHeader, m.ParseWarning)
		}
		again := ingestRaw(t, box, raw)[0]
		if !again.Duplicate {
			t.Fatalf("the same bytes again made another message: %+v", again)
		}
	})

	t.Run("bare_lf_invalid_header_lines_and_8bit_headers", func(t *testing.T) {
		raw := "From: J\xf6rg <j@customer.test>\nSubject: Gr\xc3\xbc\xc3\x9fe\nthis line is no header\nMessage-ID: <" + unique("lf") + "@c>\n\nbody with bare LF\n"
		m := load(ingestRaw(t, box, raw)[0])
		if m.Subject != "Grüße" || m.FromName != "Jörg" || !strings.Contains(m.BodyText, "bare LF") || m.ParseWarning == "" {
			t.Fatalf("subject %q name %q body %q warning %q", m.Subject, m.FromName, m.BodyText, m.ParseWarning)
		}
	})

	t.Run("deeply_nested_mime_is_cut_at_the_depth_limit", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("From: deep@customer.test\r\nMessage-ID: <" + unique("deep") + "@c>\r\n")
		for i := 0; i < 60; i++ {
			fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
		}
		b.WriteString("Content-Type: text/plain\r\n\r\ndeep down\r\n")
		it := ingestRaw(t, box, b.String())[0]
		if m := load(it); !strings.Contains(m.ParseWarning, "nesting deeper") {
			t.Fatalf("warning %q", m.ParseWarning)
		}
	})

	t.Run("broken_base64_keeps_what_decodes", func(t *testing.T) {
		raw := "From: b64@customer.test\r\nMessage-ID: <" + unique("b64") + "@c>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n" +
			"--X\r\nContent-Type: text/plain\r\n\r\nsee file\r\n--X\r\nContent-Type: application/pdf; name=\"f.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			"JVBERi0xLjQK!!!@@@###" + strings.Repeat("QUFB", 1000) + "=\r\n--X--\r\n"
		m := load(ingestRaw(t, box, raw)[0])
		if len(m.Attachments) != 1 || m.Attachments[0].Filename != "f.pdf" || m.Attachments[0].Size < 3000 {
			t.Fatalf("attachments %+v", m.Attachments)
		}
	})

	t.Run("thousands_of_header_recipients_make_one_message_with_the_first_500", func(t *testing.T) {
		list := make([]string, 5000)
		for i := range list {
			list[i] = fmt.Sprintf("\"Person %d\" <p%d@customer.test>", i, i)
		}
		raw := mailFrom("blast@customer.test", "to everyone", unique("blast")+"@c", "Cc: "+strings.Join(list, ",\r\n ")+"\r\n", "hello all")
		m := load(ingestRaw(t, box, raw)[0])
		if len(m.CcAddresses) != 499 || len(m.ToAddresses) != 1 || m.CcAddresses[0] != "p0@customer.test" ||
			!strings.Contains(m.ParseWarning, "5001 To and Cc addresses") || !strings.Contains(m.BodyText, "hello all") {
			t.Fatalf("to %d cc %d warning %q body %q", len(m.ToAddresses), len(m.CcAddresses), m.ParseWarning, m.BodyText)
		}
	})

	t.Run("nul_bytes_and_invalid_utf8_are_storable", func(t *testing.T) {
		raw := "From: nul@customer.test\r\nMessage-ID: <" + unique("nul") + "@c>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbad \x00 bytes \xff\xfe here\r\n"
		m := load(ingestRaw(t, box, raw)[0])
		if strings.Contains(m.BodyText, "\x00") || !strings.Contains(m.BodyText, "here") {
			t.Fatalf("body %q", m.BodyText)
		}
	})

	t.Run("inline_cid_image_is_rewritten_to_the_attachment_url", func(t *testing.T) {
		raw := "From: img@customer.test\r\nMessage-ID: <" + unique("img") + "@c>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=R\r\n\r\n" +
			"--R\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p onclick=\"x()\">Look <img src=\"cid:logo@x\"><script>alert(1)</script></p>\r\n" +
			"--R\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--R--\r\n"
		m := load(ingestRaw(t, box, raw)[0])
		if len(m.Attachments) != 1 {
			t.Fatalf("attachments %+v", m.Attachments)
		}
		want := fmt.Sprintf(`/api/v1/attachments/%d/content`, m.Attachments[0].ID)
		if !strings.Contains(m.BodyHTML, want) || strings.Contains(m.BodyHTML, "script") || strings.Contains(m.BodyHTML, "onclick") {
			t.Fatalf("html %q, want src %s and no script", m.BodyHTML, want)
		}
		if !strings.Contains(m.BodyText, "Look") {
			t.Fatalf("text from html %q", m.BodyText)
		}
	})
}
