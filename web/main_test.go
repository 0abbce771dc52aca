package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/postdesk/postdesk/internal/testenv"
	"github.com/postdesk/postdesk/tasks"
	"github.com/postdesk/postdesk/tickets"
)

func TestMain(m *testing.M) {
	// Pub/sub is server-wide in Redis: without a topic of its own, a test run would
	// see the live events of another run on the machine (tickets with the same ids)
	// and its browser pages would refresh under the test's hands.
	liveTopic = fmt.Sprintf("postdesk:live:test:%d", os.Getpid())
	os.Exit(testenv.Run(m))
}

// harness is a running API on the package's database.
type harness struct {
	t   testing.TB
	srv *httptest.Server
	svc *tickets.Service
	web *Server
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	db := testenv.DB(t)
	svc := tickets.NewService(db)
	client := tasks.NewClient(testenv.Asynq(t))
	t.Cleanup(func() { client.Close() })
	client.Redis().FlushDB(t.Context())
	s := New(Config{BaseURL: "http://localhost", LoginLimit: 5}, Deps{Tickets: svc, Tasks: client,
		Blobs: &tickets.Blobs{Dir: t.TempDir()}})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &harness{t: t, srv: srv, svc: svc, web: s}
}

var agentSeq int

// agent creates an agent and returns a client logged in as them with a bearer token.
func (h *harness) agent(role string) (*tickets.Agent, *apiClient) {
	h.t.Helper()
	agentSeq++
	a, err := h.svc.CreateAgent(h.t.Context(), tickets.NewAgent{
		Email: "agent" + itoa(agentSeq) + "@example.com", Name: "Agent " + itoa(agentSeq),
		Password: "correct horse battery", Role: role})
	if err != nil {
		h.t.Fatal(err)
	}
	token, _, err := h.svc.CreateAPIToken(h.t.Context(), a.ID, "test")
	if err != nil {
		h.t.Fatal(err)
	}
	return a, &apiClient{t: h.t, base: h.srv.URL, token: token, http: h.srv.Client()}
}

// anon returns a client with a cookie jar and no credentials.
func (h *harness) anon() *apiClient {
	jar, _ := cookiejar.New(nil)
	return &apiClient{t: h.t, base: h.srv.URL, http: &http.Client{Jar: jar}}
}

type apiClient struct {
	t     testing.TB
	base  string
	token string
	csrf  string
	http  *http.Client
}

type response struct {
	Status int
	Body   []byte
	Header http.Header
}

func (r *response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// errCode returns error.code of an error response.
func (r *response) errCode(t testing.TB) string {
	var e struct {
		Error apiError `json:"error"`
	}
	r.json(t, &e)
	return e.Error.Code
}

func (r *response) errFields(t testing.TB) map[string]string {
	var e struct {
		Error apiError `json:"error"`
	}
	r.json(t, &e)
	return e.Error.Fields
}

// do sends body (a string is sent as is, anything else as JSON).
func (c *apiClient) do(method, path string, body any) *response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &response{Status: res.StatusCode, Body: b, Header: res.Header}
}

// must sends a request and fails the test unless the status matches.
func (c *apiClient) must(status int, method, path string, body any, out any) *response {
	c.t.Helper()
	r := c.do(method, path, body)
	if r.Status != status {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, status, r.Body)
	}
	if out != nil {
		r.json(c.t, out)
	}
	return r
}

// channel creates a channel with the given members through the API (as an admin).
func (c *apiClient) channel(name, kind string, members ...int64) int64 {
	c.t.Helper()
	ms := []map[string]any{}
	for _, id := range members {
		ms = append(ms, map[string]any{"agent_id": id, "role": "member"})
	}
	var ch struct{ ID int64 }
	c.must(201, "POST", "/api/v1/channels", map[string]any{"name": name, "kind": kind, "members": ms}, &ch)
	return ch.ID
}
