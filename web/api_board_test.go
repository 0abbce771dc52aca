package web

import (
	"net/url"
	"testing"

	"github.com/postdesk/postdesk/tickets"
)

type boardJSON struct {
	Columns []struct {
		Status string `json:"status"`
		Cards  []struct {
			ID       int64   `json:"id"`
			Position float64 `json:"position"`
		} `json:"cards"`
		More       bool   `json:"more"`
		NextCursor string `json:"next_cursor"`
	} `json:"columns"`
}

// A column of more than a page is read fully by following next_cursor, in board
// order, each card once; cards sharing a position are ordered by id.
func TestBoardColumnPages(t *testing.T) {
	h := newHarness(t)
	_, admin := h.agent("admin")
	anna, annaC := h.agent("agent")
	ch := admin.channel("Board pages", "tasks", anna.ID)
	if _, err := h.svc.CreateTask(t.Context(), anna, tickets.NewTask{ChannelID: ch, Subject: "Lone new card"}); err != nil {
		t.Fatal(err)
	}
	// 450 open cards, positions repeating so that the id breaks ties across pages.
	err := h.svc.DB.Exec(`INSERT INTO tickets (channel_id, kind, subject, status, position)
		SELECT ?, 'task', 'Card ' || g, 'open', (g % 7) * 1024 FROM generate_series(1, 450) g`, ch).Error
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	h.svc.DB.Raw(`SELECT id FROM tickets WHERE channel_id = ? AND status = 'open' ORDER BY position, id`, ch).Scan(&want)
	path := "/api/v1/channels/" + itoa(int(ch)) + "/board"

	var b boardJSON
	annaC.must(200, "GET", path, nil, &b)
	if len(b.Columns) != 5 || b.Columns[0].Status != "new" || len(b.Columns[0].Cards) != 1 || b.Columns[0].More {
		t.Fatalf("new column: %+v", b.Columns[0])
	}
	open := b.Columns[1]
	if open.Status != "open" || len(open.Cards) != tickets.BoardColumnLimit || !open.More || open.NextCursor == "" {
		t.Fatalf("open column: %d cards, more %v, cursor %q", len(open.Cards), open.More, open.NextCursor)
	}
	var got []int64
	for _, c := range open.Cards {
		got = append(got, c.ID)
	}
	for cursor, pages := open.NextCursor, 1; cursor != ""; pages++ {
		if pages > 5 {
			t.Fatal("the cursor does not advance")
		}
		var page boardJSON
		annaC.must(200, "GET", path+"?status=open&cursor="+url.QueryEscape(cursor), nil, &page)
		if len(page.Columns) != 1 || page.Columns[0].Status != "open" {
			t.Fatalf("a column page returned %+v", page.Columns)
		}
		for _, c := range page.Columns[0].Cards {
			got = append(got, c.ID)
		}
		cursor = page.Columns[0].NextCursor
		if page.Columns[0].More != (cursor != "") {
			t.Fatalf("more %v with cursor %q", page.Columns[0].More, cursor)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read %d cards of %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("card %d is %d, want %d (board order)", i, got[i], want[i])
		}
	}

	// A larger page reads the whole column at once.
	annaC.must(200, "GET", path+"?status=open&limit=500", nil, &b)
	if len(b.Columns[0].Cards) != 450 || b.Columns[0].More {
		t.Fatalf("limit 500: %d cards, more %v", len(b.Columns[0].Cards), b.Columns[0].More)
	}

	for _, bad := range []struct {
		query, field string
		status       int
	}{
		{"?cursor=" + url.QueryEscape(open.NextCursor), "cursor", 422}, // a cursor needs its column
		{"?status=open&cursor=not-a-cursor", "cursor", 422},
		{"?status=archived", "status", 422},
		{"?limit=501", "limit", 422},
		{"?limit=ten", "limit", 400},
	} {
		r := annaC.do("GET", path+bad.query, nil)
		if r.Status != bad.status || r.errFields(t)[bad.field] == "" {
			t.Errorf("%s: %d %s", bad.query, r.Status, r.Body)
		}
	}
	_, outsiderC := h.agent("agent")
	outsiderC.must(404, "GET", path+"?status=open&cursor="+url.QueryEscape(open.NextCursor), nil, nil)
}
