package messengers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/messengers"
	"github.com/postdesk/postdesk/tasks"
	"github.com/postdesk/postdesk/tickets"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// env is the domain, blob store and receiver on the package database.
type env struct {
	t      *testing.T
	svc    *tickets.Service
	blobs  *tickets.Blobs
	recv   *messengers.Receiver
	admin  *tickets.Agent
	sender *tasks.Sender
}

var seq atomic.Int64

func uniq(prefix string) string { return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), seq.Add(1)) }

func newEnv(t *testing.T) *env {
	t.Helper()
	svc := tickets.NewService(testenv.DB(t))
	blobs := &tickets.Blobs{Dir: t.TempDir()}
	admin, err := svc.CreateAgent(t.Context(), tickets.NewAgent{Email: uniq("admin") + "@example.com", Name: "Admin",
		Password: "correct horse battery", Role: tickets.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, svc: svc, blobs: blobs, admin: admin}
	e.recv = &messengers.Receiver{Tickets: svc, Blobs: blobs, Registry: messengers.NewRegistry(&http.Client{})}
	e.sender = &tasks.Sender{Tickets: svc, Blobs: blobs, Messengers: e.recv, Log: slog.Default()}
	return e
}

// deliver runs one attempt of the send task for a message, as a worker would
// (first try: a temporary failure is retried, not final).
func (e *env) deliver(s *tasks.Sender, id int64) error {
	b, _ := json.Marshal(map[string]int64{"message_id": id})
	return s.Handler()(e.t.Context(), asynq.NewTask(tasks.TypeSend, b))
}

// worker runs the send task on a real asynq server with a short backoff, so a
// test can watch every retry up to the last one.
func (e *env) worker(s *tasks.Sender, maxRetry int) *tasks.SendQueue {
	opt := testenv.Asynq(e.t)
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: 2, Queues: map[string]int{tasks.QueueCritical: 1},
		RetryDelayFunc: func(n int, err error, t *asynq.Task) time.Duration {
			return time.Duration(10<<n) * time.Millisecond // exponential, as tasks.RetryDelay, but in ms
		},
		DelayedTaskCheckInterval: 20 * time.Millisecond, LogLevel: asynq.FatalLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc(tasks.TypeSend, s.Handler())
	if err := srv.Start(mux); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(srv.Shutdown)
	client := tasks.NewClient(opt)
	e.t.Cleanup(func() { client.Close() })
	return &tasks.SendQueue{Client: client, MaxRetry: maxRetry}
}

// waitFor polls until cond holds (the worker runs on its own goroutines).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) channel(kind string) *tickets.Channel {
	e.t.Helper()
	name := uniq("Chat")
	ch, err := e.svc.CreateChannel(e.t.Context(), e.admin, tickets.ChannelInput{Name: &name, Kind: &kind})
	if err != nil {
		e.t.Fatal(err)
	}
	return ch
}

// conn creates a connection on a new chat channel pointing at base.
func (e *env) conn(provider, base string, creds map[string]string, settings tickets.JSONMap) *messengers.Conn {
	e.t.Helper()
	ch := e.channel(tickets.ChannelChat)
	cr := map[string]*string{}
	for k, v := range creds {
		cr[k] = &v
	}
	in := tickets.MessengerConnectionInput{Provider: &provider, Credentials: cr, APIBaseURL: &base}
	if settings != nil {
		in.Settings = &settings
	}
	mc, err := e.svc.CreateMessengerConnection(e.t.Context(), e.admin, ch.ID, in)
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := messengers.LoadConn(e.t.Context(), e.svc.DB, mc.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// webhook runs a request through the adapter and the receiver, as /hooks/ does.
func (e *env) webhook(c *messengers.Conn, r *http.Request) ([]messengers.Received, error) {
	e.t.Helper()
	a, err := e.recv.Registry.Get(c.Provider)
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	up, err := a.Webhook(r.Context(), c, r, body)
	if err != nil {
		return nil, err
	}
	return e.recv.Apply(r.Context(), c, up)
}

func (e *env) messages(c *messengers.Conn) []tickets.Message {
	e.t.Helper()
	var out []tickets.Message
	if err := e.svc.DB.Preload("Attachments").Where("messenger_connection_id = ?", c.ID).Order("id").
		Find(&out).Error; err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) ticket(id int64) *tickets.Ticket {
	e.t.Helper()
	var t tickets.Ticket
	if err := e.svc.DB.Take(&t, id).Error; err != nil {
		e.t.Fatal(err)
	}
	return &t
}

func (e *env) message(id int64) *tickets.Message {
	e.t.Helper()
	var m tickets.Message
	if err := e.svc.DB.Take(&m, id).Error; err != nil {
		e.t.Fatal(err)
	}
	return &m
}

// reply writes a queued outbound reply on ticket t, as the composer would.
func (e *env) reply(t *tickets.Ticket, c *messengers.Conn, text string, files ...tickets.Attachment) *tickets.Message {
	e.t.Helper()
	m := &tickets.Message{TicketID: t.ID, ChannelID: t.ChannelID, Direction: tickets.DirectionOutbound,
		Status: tickets.MessageQueued, AuthorAgentID: &e.admin.ID, ContactID: t.ContactID,
		MessengerConnectionID: &c.ID, BodyText: text}
	if err := e.svc.DB.Create(m).Error; err != nil {
		e.t.Fatal(err)
	}
	for _, f := range files {
		f.MessageID = &m.ID
		if err := e.svc.DB.Create(&f).Error; err != nil {
			e.t.Fatal(err)
		}
	}
	return m
}

// blob stores content and returns an attachment row (not yet saved).
func (e *env) blob(name, ct, content string) tickets.Attachment {
	sum, n, err := e.blobs.Put(strings.NewReader(content), 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return tickets.Attachment{SHA256: sum, Size: n, Filename: name, ContentType: ct}
}

func (e *env) readBlob(sum string) string {
	f, err := e.blobs.Open(sum)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	return string(b)
}

// call is one request the fake provider received.
type call struct {
	Method, Path string
	Header       http.Header
	JSON         map[string]any
	Form         map[string]string
	Files        map[string]string // form field -> file content
	Query        map[string]string
}

// fake is a provider API on a local port: handlers by path, every call recorded.
type fake struct {
	srv      *httptest.Server
	mu       sync.Mutex
	calls    []call
	handlers map[string]http.HandlerFunc
}

func newFake(t *testing.T) *fake {
	f := &fake{handlers: map[string]http.HandlerFunc{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := call{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Query: map[string]string{}}
		for k := range r.URL.Query() {
			c.Query[k] = r.URL.Query().Get(k)
		}
		body, _ := io.ReadAll(r.Body)
		ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch {
		case ct == "application/json":
			json.Unmarshal(body, &c.JSON)
		case ct == "application/x-www-form-urlencoded":
			c.Form = map[string]string{}
			vals, _ := url.ParseQuery(string(body))
			for k := range vals {
				c.Form[k] = vals.Get(k)
			}
		case strings.HasPrefix(ct, "multipart/"):
			c.Form, c.Files = map[string]string{}, map[string]string{}
			mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
			for {
				p, err := mr.NextPart()
				if err != nil {
					break
				}
				b, _ := io.ReadAll(p)
				if p.FileName() != "" {
					c.Files[p.FormName()] = string(b)
					c.Form[p.FormName()+".filename"] = p.FileName()
				} else {
					c.Form[p.FormName()] = string(b)
				}
			}
		}
		f.mu.Lock()
		f.calls = append(f.calls, c)
		h := f.handlers[r.URL.Path]
		f.mu.Unlock()
		if h == nil {
			http.Error(w, `{"ok":false,"description":"Not Found"}`, http.StatusNotFound)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) handle(path string, h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handlers[path] = h
}

func (f *fake) json(path string, v any) {
	f.handle(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	})
}

func (f *fake) bytes(path, ct, content string) {
	f.handle(path, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ct)
		io.WriteString(w, content)
	})
}

// callsTo returns the calls whose path ends with suffix.
func (f *fake) callsTo(suffix string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if strings.HasSuffix(c.Path, suffix) {
			out = append(out, c)
		}
	}
	return out
}

func post(t *testing.T, body any, header map[string]string) *http.Request {
	var b []byte
	switch v := body.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		b, _ = json.Marshal(v)
	}
	r := httptest.NewRequestWithContext(context.Background(), "POST", "/hooks/x/1", bytes.NewReader(b))
	r.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		r.Header.Set(k, v)
	}
	return r
}

var jsonMarshal = json.Marshal
