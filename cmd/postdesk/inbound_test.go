package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tickets"
)

// inboundMailbox creates a channel with one SMTP mailbox directly in the database.
func inboundMailbox(t *testing.T, name string) (channelID int64, address string) {
	t.Helper()
	db := testenv.DB(t)
	ch := &tickets.Channel{Name: name, Kind: tickets.ChannelEmail, AssignmentMode: "default", FromNameFormat: "{agent}",
		MaxAttachmentBytes: 25 << 20}
	if err := db.Create(ch).Error; err != nil {
		t.Fatal(err)
	}
	address = strings.ToLower(name) + "@support.test"
	mb := &tickets.Mailbox{ChannelID: ch.ID, Address: address, Inbound: "smtp", IMAPPort: 993, IMAPSecurity: "tls",
		IMAPFolder: "INBOX", IMAPAfter: "seen", SMTPPort: 587, SMTPSecurity: "starttls"}
	if err := db.Create(mb).Error; err != nil {
		t.Fatal(err)
	}
	return ch.ID, address
}

// inboundAdmin creates the admin the inbound tests log in with, so `serve` finds an
// agent and creates no first admin of its own, and deletes it afterwards: other
// tests of this package expect to start on a database without agents.
func inboundAdmin(t *testing.T) {
	t.Helper()
	db := testenv.DB(t)
	a, err := tickets.NewService(db).CreateAgent(t.Context(), tickets.NewAgent{Email: "admin@inbound.test",
		Name: "Inbound admin", Password: "inbound-admin-pass", Role: tickets.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Exec(`DELETE FROM agents WHERE id = ?`, a.ID) })
}

// startServe runs `postdesk serve` with the given roles and waits for its SMTP port.
func startServe(t *testing.T, smtpAddr, dataDir string, roles string, extra ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), "serve", "--roles", roles)
	cmd.Env = append(env(t, extra...), "POSTDESK_SMTP_ADDR="+smtpAddr, "POSTDESK_DATA_DIR="+dataDir,
		"POSTDESK_SMTP_MAX_CONNS_PER_IP=50")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", smtpAddr, time.Second)
		if err == nil {
			c.Close()
			return cmd, &stderr
		}
		if time.Now().After(deadline) {
			t.Fatalf("smtp did not come up:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func crashMail(i int, to string) (string, string) {
	id := fmt.Sprintf("crash-%d@customer.test", i)
	return id, fmt.Sprintf("From: Customer %d <c%d@customer.test>\r\nTo: %s\r\nSubject: Crash test %d\r\nMessage-ID: <%s>\r\n\r\nMail number %d.\r\n",
		i, i%50, to, i, id, i)
}

// TestInboundCrashLosesNothing delivers 1,000 mails over 4 connections to a real
// `postdesk serve --roles smtp,worker`, SIGKILLs it midway, restarts it, retries what
// was not acknowledged (as any MTA would), and checks that every mail that got a
// 250 is exactly one message, and no mail is stored twice.
func TestInboundCrashLosesNothing(t *testing.T) {
	inboundAdmin(t)
	channelID, addr := inboundMailbox(t, fmt.Sprintf("Crash%d", time.Now().UnixNano()))
	smtpAddr, dataDir := freePort(t), t.TempDir()
	cmd, stderr := startServe(t, smtpAddr, dataDir, "smtp,worker")

	const total, conns = 1000, 4
	var mu sync.Mutex
	acked := map[int]bool{}
	var killOnce sync.Once
	kill := func() {
		killOnce.Do(func() { cmd.Process.Signal(syscall.SIGKILL) })
	}
	var wg sync.WaitGroup
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c, err := smtp.Dial(smtpAddr)
			if err != nil {
				return
			}
			defer c.Close()
			for i := w; i < total; i += conns {
				_, body := crashMail(i, addr)
				if err := c.SendMail(fmt.Sprintf("c%d@customer.test", i), []string{addr}, strings.NewReader(body)); err != nil {
					return // the server died: the rest is unacknowledged
				}
				mu.Lock()
				acked[i] = true
				if len(acked) == total*2/5 {
					go kill()
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	cmd.Wait()
	if len(acked) >= total {
		t.Fatalf("the server was not killed midway (all %d acknowledged)", len(acked))
	}
	t.Logf("%d of %d mails acknowledged before SIGKILL", len(acked), total)

	// Restart with the scheduler too, so the sweeper re-enqueues anything whose
	// task was lost with the process.
	startServe(t, smtpAddr, dataDir, "smtp,worker,scheduler")
	for i := 0; i < total; i++ {
		if acked[i] {
			continue
		}
		_, body := crashMail(i, addr)
		var err error
		for try := 0; try < 3; try++ {
			if err = sendOne(smtpAddr, addr, body); err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("retry of mail %d: %v", i, err)
		}
	}

	db := testenv.DB(t)
	deadline := time.Now().Add(4 * time.Minute)
	for {
		var pending int64
		db.Raw(`SELECT count(*) FROM inbound_mails WHERE processed_at IS NULL`).Scan(&pending)
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d inbound mails still unprocessed:\n%s", pending, stderr.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	var rows []struct {
		MessageIDHeader string
		N               int
	}
	db.Raw(`SELECT message_id_header, count(*) AS n FROM messages WHERE channel_id = ? GROUP BY 1`, channelID).Scan(&rows)
	counts := map[string]int{}
	for _, r := range rows {
		counts[r.MessageIDHeader] = r.N
	}
	for i := 0; i < total; i++ {
		id, _ := crashMail(i, addr)
		if counts[id] != 1 {
			t.Errorf("mail %d (acknowledged %v) stored %d times", i, acked[i], counts[id])
		}
	}
	if len(counts) != total {
		t.Errorf("%d distinct messages, want %d", len(counts), total)
	}
}

func sendOne(smtpAddr, to, body string) error {
	c, err := smtp.Dial(smtpAddr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendMail("retry@customer.test", []string{to}, strings.NewReader(body)); err != nil {
		return err
	}
	return c.Quit()
}

// TestInboundSMTPToAPI sends mail with a real SMTP client to the running server
// and finds the ticket, and the reply threaded onto it, through the API.
func TestInboundSMTPToAPI(t *testing.T) {
	inboundAdmin(t)
	channelID, addr := inboundMailbox(t, fmt.Sprintf("E2e%d", time.Now().UnixNano()))
	smtpAddr, httpAddr := freePort(t), freePort(t)
	startServe(t, smtpAddr, t.TempDir(), "web,smtp,worker", "POSTDESK_HTTP_ADDR="+httpAddr)
	base := "http://" + httpAddr
	if !waitHealthy(base, 30*time.Second) {
		t.Fatal("web did not come up")
	}
	first := "From: Ann Customer <ann@customer.test>\r\nTo: " + addr + "\r\nSubject: Printer on fire\r\n" +
		"Message-ID: <e2e-1@customer.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nIt is burning. Grüße\r\n"
	reply := "From: Ann Customer <ann@customer.test>\r\nTo: " + addr + "\r\nSubject: Re: Printer on fire\r\n" +
		"Message-ID: <e2e-2@customer.test>\r\nIn-Reply-To: <e2e-1@customer.test>\r\n\r\nStill burning.\r\n\r\n" +
		"On Monday Ann wrote:\r\n> It is burning.\r\n"
	if err := sendOne(smtpAddr, addr, first); err != nil {
		t.Fatal(err)
	}
	jar := &cookieJar{}
	if res := post(t, base+"/api/v1/auth/login", `{"email":"admin@inbound.test","password":"inbound-admin-pass"}`, jar); res.StatusCode != 200 {
		t.Fatalf("login: %d", res.StatusCode)
	}
	get := func(path string, into any) {
		req, _ := http.NewRequest("GET", base+path, nil)
		jar.add(req)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, res.StatusCode)
		}
		json.NewDecoder(res.Body).Decode(into)
	}
	var list struct {
		Items []struct {
			ID      int64  `json:"id"`
			Subject string `json:"subject"`
		} `json:"items"`
	}
	// The reply goes out once the first mail is a ticket, as a customer's would:
	// its order on the ticket is then the order of sending. (Two mails ingested at
	// once end on one ticket too; mail/ingest_test.go covers that.)
	for deadline := time.Now().Add(30 * time.Second); len(list.Items) == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first mail did not become a ticket")
		}
		get(fmt.Sprintf("/api/v1/tickets?channel_id=%d", channelID), &list)
	}
	if err := sendOne(smtpAddr, addr, reply); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var detail struct {
		Messages []struct {
			BodyText    string `json:"body_text"`
			FromAddress string `json:"from_address"`
			QuoteOffset int    `json:"quote_offset"`
		} `json:"messages"`
	}
	for {
		get(fmt.Sprintf("/api/v1/tickets?channel_id=%d", channelID), &list)
		if len(list.Items) == 1 {
			get(fmt.Sprintf("/api/v1/tickets/%d?mark_read=false", list.Items[0].ID), &detail)
			if len(detail.Messages) == 2 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("tickets %+v, messages %d; want one ticket with two messages", list.Items, len(detail.Messages))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if list.Items[0].Subject != "Printer on fire" {
		t.Fatalf("subject %q", list.Items[0].Subject)
	}
	if !strings.Contains(detail.Messages[0].BodyText, "Grüße") || detail.Messages[0].FromAddress != "ann@customer.test" {
		t.Fatalf("first message %+v", detail.Messages[0])
	}
	if q := detail.Messages[1].QuoteOffset; q <= 0 || !strings.HasPrefix(detail.Messages[1].BodyText[q:], "On Monday Ann wrote:") {
		t.Fatalf("quote offset %d in %q", q, detail.Messages[1].BodyText)
	}
}
