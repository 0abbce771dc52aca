package web

import (
	"context"
	"encoding/json"
	"io/fs"
	"net"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/postdesk/postdesk/internal/testenv"
	pdmail "github.com/postdesk/postdesk/mail"
	"github.com/postdesk/postdesk/tasks"
	"github.com/postdesk/postdesk/tickets"
)

// Browser tests drive Debian's chromium headless against a real server (web.New on
// httptest, a real tasks worker, the package's Postgres and Redis). Screenshots
// land in testdata-out/ at the repository root (not committed).

const screenshotDir = "../testdata-out"

// startChromium starts a fresh headless chromium for the test. Without chromium the
// test is skipped locally and fails under CI=true, where .ci/run installs it.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed; .ci/run installs it with apt-get")
		}
		t.Skip("chromium is not installed (apt-get install -y chromium)")
	}
	for _, f := range []string{"static/vendor/htmx.min.js", "static/vendor/Sortable.min.js"} {
		if _, err := fs.Stat(staticFS, f); err != nil {
			t.Fatalf("%s is not embedded: run `make web-deps` before testing", f)
		}
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 860))
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// An uncaught script error fails the test; other console errors are logged.
	var mu sync.Mutex
	var exceptions []string
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			mu.Lock()
			if m.IsException() {
				exceptions = append(exceptions, m.Text+" "+m.URL+":"+strconv.FormatInt(m.Line, 10))
			} else if m.Type == chromedp.ConsoleError && !strings.Contains(m.Text, "Content Security Policy") {
				t.Log("browser console:", m.Text)
			}
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, x := range exceptions {
			t.Errorf("script error: %s", x)
		}
	})
	return ctx
}

// page is one browser tab on the test server; its helpers fail the test on error.
type page struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func (p *page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.failShot()
		p.t.Fatalf("browser: %v (at %s)", err, p.url())
	}
}

func (p *page) url() string {
	u, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string]("location.href"))
	return u
}

// text is the visible text of the first element matching sel (read in the page, so
// a swap of the element between query and read cannot fail it).
func (p *page) text(sel string) string {
	p.t.Helper()
	p.do(chromedp.WaitVisible(chromedp.CSS(sel)))
	return evalJS[string](p, `document.querySelector(`+jsString(sel)+`).innerText.trim()`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func evalJS[T any](p *page, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// typeInto types text into the field with id, as a user would, into a pane that
// live updates may re-render at any moment: it focuses the field in the page (the
// pane then holds its refresh while the field has focus), types into whatever has
// focus, and starts over if a re-render replaced the field on the way.
func (p *page) typeInto(id, text string) {
	p.t.Helper()
	field := `document.getElementById(` + jsString(id) + `)`
	for attempt := 0; attempt < 5; attempt++ {
		if !evalJS[bool](p, `(() => { const f = `+field+`; if (!f) return false; f.value = ''; f.focus();
			return document.activeElement === f })()`) {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		p.do(chromedp.KeyEvent(text))
		if evalJS[bool](p, `(() => { const f = `+field+`; return !!f && document.activeElement === f && f.value === `+jsString(text)+` })()`) {
			return
		}
	}
	p.failShot()
	p.t.Fatalf("could not type %q into #%s", text, id)
}

// waitJS polls a boolean expression until it is true.
func (p *page) waitJS(expr, what string) {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](expr)); err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.failShot()
	p.t.Fatalf("timed out waiting for %s", what)
}

// failShot saves what the page looked like when a step failed.
func (p *page) failShot() {
	p.shot("failed-" + strings.NewReplacer("/", "-").Replace(p.t.Name()))
}

func (p *page) shot(name string) {
	p.t.Helper()
	b, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir, name+".png"), b, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// in returns the page for use inside subtest t.
func (p *page) in(t *testing.T) *page {
	c := *p
	c.t = t
	return &c
}

// widest names the elements that stick out to the right of the viewport.
const widest = `Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > innerWidth + 0.5).map(e => e.tagName + '.' + e.className + '#' + e.id + ':' + Math.round(e.getBoundingClientRect().right)).slice(0, 8).join(' ')`

func (p *page) login(email, password string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.base+"/login"), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-form button")), chromedp.WaitVisible(chromedp.CSS("#queue")))
}

func (p *page) logout() {
	p.t.Helper()
	p.do(chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
}

// uiEnv is a running server with a worker, an admin, and a shop channel with one
// member (anna) and one agent outside it (bob).
type uiEnv struct {
	h          *harness
	admin      *apiClient
	adminAgent *tickets.Agent
	anna, bob  *tickets.Agent
	shop       int64
	tasks      int64 // a task channel anna is in
	mailbox    int64
	sink       *testenv.SMTPSink
	smtpAddr   string // our inbound SMTP server
	mailAddr   string // the shop mailbox's address
}

const uiPassword = "correct horse battery"

func newUIEnv(t *testing.T) *uiEnv {
	t.Helper()
	h := messengerHarness(t)
	recv := h.web.messengers
	h.svc.Publisher = h.web.Live()
	h.svc.Sends = &tasks.SendQueue{Client: h.web.tasks, MaxRetry: 2}
	h.web.smtpCheck = &tasks.Sender{Tickets: h.svc}
	sink := testenv.NewSMTPSink(t, testenv.SinkOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	// Inbound: our SMTP server stores mail durably, the worker's ingest task turns
	// it into tickets and publishes the live event.
	intake := &pdmail.Intake{DB: h.svc.DB, Blobs: h.web.blobs, Enqueue: h.web.tasks.EnqueueIngest, Log: h.web.log}
	ingester := &pdmail.Ingester{Tickets: h.svc, Intake: intake, Log: h.web.log}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	smtpDone := make(chan struct{})
	go func() {
		defer close(smtpDone)
		_ = pdmail.NewSMTPServer(pdmail.SMTPConfig{Hostname: "desk.test"}, intake, h.web.log).Serve(ctx, ln, time.Second)
	}()
	w := tasks.NewWorker(testenv.Asynq(t), h.web.log)
	tasks.Register(w, tasks.Deps{Tickets: h.svc, Client: h.web.tasks, Log: h.web.log, Blobs: h.web.blobs,
		Ingester: ingester, Messengers: recv, Send: tasks.SendConfig{BaseURL: h.srv.URL, Hostname: "desk.test", MaxRetry: 2}})
	done := make(chan struct{})
	go func() { defer close(done); _ = w.RunWorker(ctx) }()
	t.Cleanup(func() { cancel(); <-done; <-smtpDone })

	adminAgent, admin := h.agent("admin")
	anna, _ := h.agent("agent")
	bob, _ := h.agent("agent")
	// A short undo window keeps the test quick; the composer reads it from the reply.
	h.svc.DB.Model(anna).Update("undo_seconds", 3)
	e := &uiEnv{h: h, admin: admin, adminAgent: adminAgent, anna: anna, bob: bob, sink: sink, smtpAddr: ln.Addr().String()}
	e.shop = admin.channel("Flower Shop "+itoa(int(anna.ID)), "email", anna.ID)
	var mb struct{ ID int64 }
	admin.must(201, "POST", "/api/v1/channels/"+itoa(int(e.shop))+"/mailboxes",
		map[string]any{"address": "shop" + itoa(int(anna.ID)) + "@example.com", "smtp_host": sink.Host,
			"smtp_port": sink.Port, "smtp_security": "plain"}, &mb)
	e.mailbox = mb.ID
	e.mailAddr = "shop" + itoa(int(anna.ID)) + "@example.com"
	e.tasks = admin.channel("Shop tasks "+itoa(int(anna.ID)), "tasks", anna.ID)
	return e
}

// mailIn sends a customer's mail to our SMTP server and returns the ticket it
// became (waiting for the worker's ingest).
func (e *uiEnv) mailIn(t *testing.T, from, name, subject, text, html string) *tickets.Ticket {
	t.Helper()
	boundary := "b-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	msg := "From: " + name + " <" + from + ">\r\nTo: " + e.mailAddr + "\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + boundary + "@customer.test>\r\nDate: " + time.Now().Format(time.RFC1123Z) +
		"\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=" + boundary + "\r\n\r\n" +
		"--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.ReplaceAll(text, "\n", "\r\n") +
		"\r\n--" + boundary + "\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n--" + boundary + "--\r\n"
	if err := smtp.SendMail(e.smtpAddr, nil, from, []string{e.mailAddr}, []byte(msg)); err != nil {
		t.Fatalf("send mail to our SMTP server: %v", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var tk tickets.Ticket
		if err := e.h.svc.DB.Where("channel_id = ? AND subject = ?", e.shop, subject).Take(&tk).Error; err == nil {
			return &tk
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("mail %q did not become a ticket", subject)
	return nil
}

func TestBrowserInbox(t *testing.T) {
	e := newUIEnv(t)
	ctx := startChromium(t)
	p := &page{t: t, ctx: ctx, base: e.h.srv.URL}

	t.Run("anonymous_is_sent_to_login", func(t *testing.T) {
		p := p.in(t)
		p.do(chromedp.Navigate(p.base+"/"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
		p.shot("login")
	})
	t.Run("wrong_password_shows_error", func(t *testing.T) {
		p := p.in(t)
		p.do(chromedp.SendKeys(chromedp.CSS("#email"), e.anna.Email), chromedp.SendKeys(chromedp.CSS("#password"), "not the password"),
			chromedp.Click(chromedp.CSS("#login-form button")), chromedp.WaitVisible(chromedp.CSS("#login-error")))
	})

	p.login(e.anna.Email, uiPassword)
	if got := p.text(".who"); got != e.anna.Name {
		t.Fatalf("header shows %q, want %q", got, e.anna.Name)
	}

	var tk *tickets.Ticket
	t.Run("new_mail_appears_without_reload", func(t *testing.T) {
		p := p.in(t)
		// A marker on window survives only if the page is not reloaded.
		evalJS[bool](p, "window.__sameDocument = true")
		p.waitJS(`document.querySelector('.side a[data-channel]') !== null`, "the channel in the sidebar")
		// Wait until the live stream is connected, so the event is not published before.
		p.waitJS(`document.body.dataset.live === "open"`, "the event stream")
		tk = e.mailIn(t, "rosa@example.net", "Rosa Diaz", "Peonies for Saturday?",
			"Hello,\nDo you have white peonies for a wedding on Saturday?\nRosa",
			`<p>Hello,</p><p>Do you have <b>white peonies</b> for a wedding on Saturday?</p><p>Rosa</p>`+
				`<script>parent.document.title='pwned'</script><img src=x onerror="parent.document.title='pwned'">`)
		p.do(chromedp.WaitVisible(chromedp.CSS(`#rows li[data-ticket-id="` + itoa(int(tk.ID)) + `"]`)))
		if !evalJS[bool](p, "window.__sameDocument === true") {
			t.Fatal("the page was reloaded")
		}
		row := p.text(`#rows li[data-ticket-id="` + itoa(int(tk.ID)) + `"]`)
		for _, want := range []string{"Peonies for Saturday?", "Rosa Diaz", "New"} {
			if !strings.Contains(row, want) {
				t.Fatalf("queue row %q lacks %q", row, want)
			}
		}
		p.shot("inbox")
	})

	t.Run("open_ticket_shows_thread", func(t *testing.T) {
		p := p.in(t)
		p.do(chromedp.Click(chromedp.CSS(`#rows li[data-ticket-id="`+itoa(int(tk.ID))+`"] a`)),
			chromedp.WaitVisible(chromedp.CSS("#ticket-"+itoa(int(tk.ID)))))
		if s := p.text(".ticket-subject"); s != "Peonies for Saturday?" {
			t.Fatalf("subject %q", s)
		}
		// Inbound HTML is shown sanitised in a sandboxed frame without scripts.
		p.waitJS(`(() => { const f = document.querySelector('.msg-inbound iframe.mail-html');
			return f && f.contentDocument && f.contentDocument.body.innerText.includes('white peonies') })()`, "the mail in its frame")
		frame := evalJS[map[string]string](p, `(() => { const f = document.querySelector('.msg-inbound iframe.mail-html');
			return {sandbox: f.getAttribute('sandbox'), doc: f.getAttribute('srcdoc')} })()`)
		if strings.Contains(frame["sandbox"], "allow-scripts") || strings.Contains(frame["doc"], "<script") ||
			strings.Contains(frame["doc"], "onerror") || !strings.Contains(frame["doc"], "Content-Security-Policy") {
			t.Fatalf("mail frame not locked down: %v", frame)
		}
		if title := evalJS[string](p, "document.title"); strings.Contains(title, "pwned") {
			t.Fatal("a script in the mail ran")
		}
		if u := p.url(); !strings.HasSuffix(strings.SplitN(u, "?", 2)[0], "/tickets/"+itoa(int(tk.ID))) {
			t.Fatalf("url %s does not name the ticket", u)
		}
		// The original mail is one link away, served with the agent's session.
		evalJS[bool](p, `(() => { fetch(document.querySelector('.msg-inbound a[href$="/original"]').href)
			.then(r => r.text()).then(t => { window.__original = t }); return true })()`)
		p.waitJS(`typeof window.__original === 'string' && window.__original.includes('Subject: Peonies for Saturday?')`,
			"the original mail")
		p.shot("ticket")
	})

	var tpl struct{ ID int64 }
	e.admin.must(201, "POST", "/api/v1/templates", map[string]any{"name": "Peonies in stock", "channel_id": e.shop,
		"body": "Hello {{contact.first_name}},\nyes, we have white peonies for Saturday."}, &tpl)
	msgState := `Array.from(document.querySelectorAll('.msg-outbound .msg-state')).map(e => e.dataset.status).join(',')`

	t.Run("reply_with_template_undo_and_reply_again", func(t *testing.T) {
		p := p.in(t)
		p.do(chromedp.Navigate(p.base+"/tickets/"+itoa(int(tk.ID))), chromedp.WaitVisible(chromedp.CSS("#composer")))
		p.waitJS(`document.querySelector('#composer-template option[value="`+itoa(int(tpl.ID))+`"]') !== null`, "the template in the picker")
		evalJS[bool](p, `(() => { const s = document.getElementById('composer-template'); s.value = '`+itoa(int(tpl.ID))+`';
			s.dispatchEvent(new Event('change', {bubbles: true})); return true })()`)
		p.waitJS(`document.getElementById('composer-body').value.startsWith('Hello Rosa,')`, "the template filled for Rosa")
		p.do(chromedp.Click(chromedp.CSS("#composer-send")), chromedp.WaitVisible(chromedp.CSS(".toast button")))
		p.shot("undo-toast")
		p.do(chromedp.Click(chromedp.CSS(".toast button")))
		p.waitJS(msgState+` === 'canceled'`, "the reply to show as canceled")
		p.waitJS(`document.getElementById('composer-body').value.startsWith('Hello Rosa,')`, "the text back in the composer")
		p.do(chromedp.Click(chromedp.CSS("#composer-send")))
		p.waitJS(msgState+` === 'canceled,scheduled' || `+msgState+` === 'canceled,queued' || `+msgState+` === 'canceled,sent'`, "the second reply")
		got := e.sink.WaitFor(1, 15*time.Second)
		if len(got) != 1 || !strings.Contains(string(got[0].Data), "white peonies") {
			t.Fatalf("sink received %d messages", len(got))
		}
		// The canceled reply never left.
		time.Sleep(500 * time.Millisecond)
		if n := len(e.sink.Messages()); n != 1 {
			t.Fatalf("sink received %d messages, want 1", n)
		}
		p.waitJS(msgState+` === 'canceled,sent'`, "the reply to show as sent without reload")
		p.shot("ticket-sent")
	})

	t.Run("checklist_add_and_tick", func(t *testing.T) {
		p := p.in(t)
		for _, item := range []string{"Check peony stock", "Confirm delivery time"} {
			p.typeInto("cl-new", item)
			p.do(chromedp.Click(chromedp.CSS("#checklist-add button")))
			p.waitJS(`Array.from(document.querySelectorAll('#checklist li')).some(li => li.innerText.includes(`+jsString(item)+`))`, "item "+item)
		}
		p.do(chromedp.Click(chromedp.CSS(`#checklist li:first-child input[type=checkbox]`)))
		p.waitJS(`(document.getElementById('cl-progress') || {}).innerText === '1/2'`, "progress 1/2")
		var done int
		e.h.svc.DB.Raw("SELECT checklist_done FROM tickets WHERE id = ?", tk.ID).Scan(&done)
		if done != 1 {
			t.Fatalf("checklist_done = %d", done)
		}
	})

	t.Run("set_due_date", func(t *testing.T) {
		p := p.in(t)
		evalJS[bool](p, `(() => { const f = document.getElementById('f-due'); f.value = '2030-05-04T10:30';
			f.dispatchEvent(new Event('change', {bubbles: true})); return true })()`)
		p.waitJS(`document.getElementById('f-due').value === '2030-05-04T10:30' && document.getElementById('f-due').dataset.utc !== ''`, "the due date to be saved")
		var due *time.Time
		e.h.svc.DB.Raw("SELECT due_at FROM tickets WHERE id = ?", tk.ID).Scan(&due)
		if due == nil || due.Year() != 2030 {
			t.Fatalf("due_at = %v", due)
		}
		p.shot("ticket-details")
	})

	t.Run("keyboard_help_and_navigation", func(t *testing.T) {
		p := p.in(t)
		p.do(chromedp.Click(chromedp.CSS(".brand")), chromedp.WaitVisible(chromedp.CSS("#rows")))
		p.do(chromedp.KeyEvent("?"), chromedp.WaitVisible(chromedp.CSS("#keys-help")))
		p.do(chromedp.KeyEvent("\x1b"), chromedp.WaitNotVisible(chromedp.CSS("#keys-help")))
		p.do(chromedp.KeyEvent("j"))
		p.waitJS(`document.querySelector('#rows .row.selected') !== null`, "j to select a row")
		p.do(chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("#ticket .ticket")))
	})

	t.Run("phone_width", func(t *testing.T) {
		p := p.in(t)
		p.do(chromedp.EmulateViewport(360, 740), chromedp.Navigate(p.base+"/"), chromedp.WaitVisible(chromedp.CSS("#rows")))
		if w := evalJS[int](p, "document.documentElement.scrollWidth"); w > 360 {
			t.Fatalf("inbox is %d px wide at 360", w)
		}
		p.shot("inbox-phone")
		p.do(chromedp.Click(chromedp.CSS(`#rows li[data-ticket-id="`+itoa(int(tk.ID))+`"] a`)),
			chromedp.WaitVisible(chromedp.CSS(".ticket-subject")))
		p.shot("ticket-phone")
		if w := evalJS[int](p, "document.documentElement.scrollWidth"); w > 360 {
			t.Fatalf("ticket is %d px wide at 360: %s", w, evalJS[string](p, widest))
		}
		p.do(chromedp.EmulateViewport(1280, 860))
	})

	t.Run("spawn_task_and_drag_it_to_done", func(t *testing.T) {
		p := p.in(t)
		p.do(chromedp.Navigate(p.base+"/tickets/"+itoa(int(tk.ID))), chromedp.WaitVisible(chromedp.CSS(".msg-inbound")))
		p.do(chromedp.Click(chromedp.CSS(`.msg-inbound [data-action="spawn-task"]`)), chromedp.WaitVisible(chromedp.CSS("#spawn-form")))
		p.do(chromedp.SetValue(chromedp.CSS("#spawn-subject"), "Order white peonies for Rosa"),
			chromedp.Click(chromedp.CSS(`#spawn-form button[type=submit]`)))
		p.waitJS(`Array.from(document.querySelectorAll('#spawned li')).some(li => li.innerText.includes('Order white peonies'))`, "the task link on the ticket")
		var task tickets.Ticket
		if err := e.h.svc.DB.Where("channel_id = ? AND kind = 'task'", e.tasks).Take(&task).Error; err != nil {
			t.Fatalf("no task in the task channel: %v", err)
		}
		var originTicket int64
		e.h.svc.DB.Raw("SELECT ticket_id FROM messages WHERE id = ?", task.OriginMessageID).Scan(&originTicket)
		if task.OriginMessageID == nil || originTicket != tk.ID {
			t.Fatalf("task origin %v is not a message of ticket %d", task.OriginMessageID, tk.ID)
		}

		card := `.card[data-id="` + itoa(int(task.ID)) + `"]`
		p.do(chromedp.Navigate(p.base+"/board/"+itoa(int(e.tasks))), chromedp.WaitVisible(chromedp.CSS(`.cards[data-status="new"] `+card)))
		p.shot("board")
		p.do(chromedp.DragAndDrop(chromedp.CSS(card), chromedp.CSS(`.cards[data-status="resolved"]`)))
		p.waitJS(`document.querySelector('.cards[data-status="resolved"] `+card+`') !== null`, "the card in Resolved")
		var status string
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) && status != "resolved" {
			e.h.svc.DB.Raw("SELECT status FROM tickets WHERE id = ?", task.ID).Scan(&status)
			time.Sleep(100 * time.Millisecond)
		}
		if status != "resolved" {
			t.Fatalf("task status %q after the drag, want resolved", status)
		}
		// The move survives a reload: it was saved, not only drawn.
		p.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`.cards[data-status="resolved"] `+card)))
	})

	t.Run("board_column_shows_more", func(t *testing.T) {
		p := p.in(t)
		// 230 pending cards: the column shows its first 200 and reads the rest on "Show more".
		err := e.h.svc.DB.Exec(`INSERT INTO tickets (channel_id, kind, subject, status, position)
			SELECT ?, 'task', 'Bulk card ' || g, 'pending', g FROM generate_series(1, 230) g`, e.tasks).Error
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			e.h.svc.DB.Exec(`DELETE FROM tickets WHERE channel_id = ? AND subject LIKE 'Bulk card %'`, e.tasks)
		})
		pending := `.cards[data-status="pending"]`
		p.do(chromedp.Navigate(p.base+"/board/"+itoa(int(e.tasks))),
			chromedp.WaitVisible(chromedp.CSS(`[data-more="pending"]`)))
		if n := p.text(`[data-count="pending"]`); n != "200+" {
			t.Fatalf("pending count shows %q, want 200+", n)
		}
		p.do(chromedp.ScrollIntoView(chromedp.CSS(`[data-more="pending"]`)), chromedp.Click(chromedp.CSS(`[data-more="pending"]`)))
		p.waitJS(`document.querySelectorAll('`+pending+` .card').length === 230`, "all 230 pending cards")
		p.waitJS(`document.querySelector('[data-more="pending"]').hidden`, "the more button gone")
		if last := p.text(pending + ` .card:last-child a`); !strings.HasSuffix(last, "Bulk card 230") {
			t.Fatalf("last pending card %q, want Bulk card 230", last)
		}
		p.shot("board-more")
	})

	t.Run("contacts_search_and_page", func(t *testing.T) {
		p := p.in(t)
		p.do(chromedp.Navigate(p.base+"/contacts?q=rosa"), chromedp.WaitVisible(chromedp.CSS(".contact-rows a")))
		if got := p.text(".contact-rows"); !strings.Contains(got, "Rosa Diaz") || !strings.Contains(got, "rosa@example.net") {
			t.Fatalf("contact search shows %q", got)
		}
		p.do(chromedp.Click(chromedp.CSS(".contact-rows a")), chromedp.WaitVisible(chromedp.CSS("#contact-tickets a")))
		if got := p.text("#contact-tickets"); !strings.Contains(got, "Peonies for Saturday?") {
			t.Fatalf("contact page lists %q", got)
		}
		p.shot("contact")
	})

	t.Run("snooze_leaves_the_queue", func(t *testing.T) {
		p := p.in(t)
		row := `#rows li[data-ticket-id="` + itoa(int(tk.ID)) + `"]`
		p.do(chromedp.Navigate(p.base+"/tickets/"+itoa(int(tk.ID))), chromedp.WaitVisible(chromedp.CSS(row)))
		p.do(chromedp.Click(chromedp.CSS(`[data-snooze="tomorrow"]`)), chromedp.WaitNotPresent(chromedp.CSS(row)))
		p.do(chromedp.Navigate(p.base+"/?view=snoozed"), chromedp.WaitVisible(chromedp.CSS(row)))
	})

	t.Run("profile_settings", func(t *testing.T) {
		p := p.in(t)
		p.do(chromedp.Navigate(p.base+"/settings"), chromedp.WaitVisible(chromedp.CSS("#profile-form")))
		p.do(chromedp.SetValue(chromedp.CSS(`#profile-form [name=undo_seconds]`), "7"),
			chromedp.Click(chromedp.CSS(`#profile-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(".toast")))
		var undo int
		e.h.svc.DB.Raw("SELECT undo_seconds FROM agents WHERE id = ?", e.anna.ID).Scan(&undo)
		if undo != 7 {
			t.Fatalf("undo_seconds = %d after saving the profile", undo)
		}
		if n := evalJS[int](p, `document.querySelectorAll('#channel-new').length`); n != 0 {
			t.Fatal("an agent sees the admin settings")
		}
	})

	t.Run("agent_outside_the_channel_sees_nothing", func(t *testing.T) {
		p := p.in(t)
		p.do(chromedp.Navigate(p.base + "/"))
		p.logout()
		p.login(e.bob.Email, uiPassword)
		if n := evalJS[int](p, `document.querySelectorAll('#rows li[data-ticket-id="`+itoa(int(tk.ID))+`"]').length`); n != 0 {
			t.Fatal("bob sees the shop's ticket in his queue")
		}
		p.do(chromedp.Navigate(p.base+"/tickets/"+itoa(int(tk.ID))), chromedp.WaitVisible(chromedp.CSS("main h1")))
		if h := p.text("main h1"); h != translate("error.not_found") {
			t.Fatalf("bob opening the ticket sees %q", h)
		}
	})

	t.Run("admin_settings_test_connection", func(t *testing.T) {
		p := p.in(t)
		p.logout()
		p.login(e.adminAgent.Email, uiPassword)
		p.do(chromedp.Navigate(p.base+"/settings"), chromedp.WaitVisible(chromedp.CSS("#channel-new")))
		box := "#channel-" + itoa(int(e.shop))
		p.do(chromedp.Click(chromedp.CSS(box+" summary")), chromedp.WaitVisible(chromedp.CSS(box+" button[data-test]")))
		p.do(chromedp.Click(chromedp.CSS(box + " button[data-test]")))
		p.waitJS(`document.querySelector('`+box+` .test-result').innerText === `+jsString(uiStrings["js.test_ok"]), "the SMTP test to pass")
		p.shot("settings")
	})
}
