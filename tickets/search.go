package tickets

import (
	"context"
	"fmt"
	"html"
	"net/mail"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Search matches a query against ticket subjects, message bodies (notes included:
// only agents search), contact names and contact identities (addresses, phone
// numbers, messenger ids).
//
// Matches use ILIKE, answered by the pg_trgm GIN indexes of migration 00031;
// that works for scripts without spaces between words (Thai, Japanese, Chinese) as
// well as Arabic and Russian. A query of several words finds bodies holding each
// word anywhere (see matcher.body). Relevance adds a `simple` tsvector rank,
// computed for the candidates only: there is no tsvector index, because building
// it cost every inbound mail more than any other part of storing it (migration
// 00054). Queries shorter than three characters have no trigram to look up and
// scan instead: correct, but slow on a large install.

// searchCap bounds the candidates each source (messages, subjects, contacts)
// contributes to a relevance search: the most recent ones win.
const searchCap = 200

// bodyExpr is the indexed form of a message body (see migration 00031); queries
// must spell it the same way for the planner to use the indexes.
const bodyExpr = "left(m.body_text, 20000)"

// matcher holds the SQL conditions for one query.
type matcher struct {
	q    string
	like string // %q% with LIKE's wildcards escaped
	// op is ILIKE, or LIKE when q has no letter case (Thai, Japanese, Chinese,
	// digits): the same matches without folding case, several times faster when the
	// planner tests row by row.
	op string
}

func newMatcher(q string) matcher {
	m := matcher{q: q, like: likePattern(q), op: "ILIKE"}
	if strings.ToLower(q) == strings.ToUpper(q) {
		m.op = "LIKE"
	}
	return m
}

// text is "column contains q".
func (m matcher) text(column string) (string, []any) {
	return column + " " + m.op + " ?", []any{m.like}
}

// body is "message m matches q". A query of several words matches a body that
// holds each of them, apart or together, as a word or inside one: the trigram
// index answers each ILIKE and their AND, and the phrase itself implies it. Words
// shorter than three characters have no trigram to look up and would make the
// index read all of itself, so they only count towards ranking.
func (m matcher) body() (string, []any) {
	var conds []string
	var args []any
	seen := map[string]bool{}
	for _, w := range strings.Fields(m.q) {
		if utf8.RuneCountInString(w) < 3 || seen[strings.ToLower(w)] || len(conds) == maxSearchWords {
			continue
		}
		seen[strings.ToLower(w)] = true
		conds = append(conds, bodyExpr+" "+m.op+" ?")
		args = append(args, likePattern(w))
	}
	if len(conds) < 2 {
		return m.text(bodyExpr) // one word, or the phrase when its words are too short
	}
	return "(" + strings.Join(conds, " AND ") + ")", args
}

// maxSearchWords bounds the words of a query that each filter message bodies.
const maxSearchWords = 8

// contacts is a sub-select of ids of contacts whose name or identity matches. A
// whole e-mail address is looked up by equality: its common trigrams ("com",
// "exa") would make the trigram index read most of the table.
func (m matcher) contacts() (string, []any) {
	name, args := m.text("name")
	ident, iargs := m.text("value")
	if a, err := mail.ParseAddress(m.q); err == nil && a.Address == m.q {
		// With kind, the unique (kind, value) index answers it.
		ident, iargs = "kind = 'email' AND value = ?", []any{strings.ToLower(m.q)}
	}
	return "SELECT id FROM contacts WHERE " + name + " UNION SELECT contact_id FROM contact_identities WHERE " + ident,
		append(args, iargs...)
}

func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(q) + "%"
}

// searchMatchSQL is a sub-select of the ids of tickets matching q, for use as a
// filter ("t.id IN (...)").
func searchMatchSQL(q string) (string, []any) {
	m := newMatcher(q)
	subj, args := m.text("subject")
	body, bargs := m.body()
	who, wargs := m.contacts()
	args = append(append(args, bargs...), wargs...)
	return `SELECT id FROM tickets WHERE ` + subj + `
  UNION SELECT m.ticket_id FROM messages m WHERE ` + body + `
  UNION SELECT tc.id FROM tickets tc WHERE tc.contact_id IN (` + who + `)`, args
}

// search returns a page of tickets matching f.Query ordered by relevance: a subject
// hit weighs 3, a contact hit 2, each matching message 1 plus its tsvector rank;
// ties go to the most recent activity. Pages are offsets (relevance has no stable
// keyset); each item carries a snippet of the best match.
func (s *Service) search(ctx context.Context, a *Agent, f TicketFilter, q *query) (*TicketPage, error) {
	offset := 0
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, err
		}
		if c.Sort != "relevance" || len(c.Values) != 1 {
			return nil, Invalid("cursor", "belongs to another sort order")
		}
		offset, err = strconv.Atoi(c.Values[0])
		if err != nil || offset < 0 || offset > 10000 {
			return nil, Invalid("cursor", "is not a cursor of this listing")
		}
	}
	m := newMatcher(f.Query)
	match, matchArgs := m.body()
	subj, subjArgs := m.text("tk.subject")
	who, whoArgs := m.contacts()
	mScope, mArgs := ChannelScopeSQL(a, "m.channel_id")
	tScope, tArgs := ChannelScopeSQL(a, "tk.channel_id")
	// Each source contributes at most searchCap of its most recent matches, so a
	// word in every tenth message costs a short walk down the primary key (the
	// planner's choice when the trigram statistics say the match is common), while a
	// rare one is a bitmap scan of the trigram index. Relevance is computed over
	// those candidates only.
	var args []any
	sql := `WITH msg AS (
  SELECT m.ticket_id, m.id AS message_id, 1 + ts_rank(to_tsvector('simple', ` + bodyExpr + `), plainto_tsquery('simple', ?)) AS score
    FROM messages m
   WHERE ` + match + `
     AND ` + mScope + `
   ORDER BY m.id DESC LIMIT ` + strconv.Itoa(searchCap) + `
), subj AS (
  SELECT tk.id AS ticket_id, 3.0 AS score FROM tickets tk
   WHERE ` + subj + ` AND ` + tScope + `
   ORDER BY tk.id DESC LIMIT ` + strconv.Itoa(searchCap) + `
), who AS (
  -- A lateral per matching contact keeps this an index lookup by contact_id
  -- even when the planner overestimates how many contacts match.
  SELECT tk.id AS ticket_id, 2.0 AS score
    FROM (SELECT id FROM (` + who + `) wc LIMIT ` + strconv.Itoa(5*searchCap) + `) wc
    CROSS JOIN LATERAL (SELECT tk.id FROM tickets tk WHERE tk.contact_id = wc.id AND ` + tScope + `
                         ORDER BY tk.id DESC LIMIT 20) tk
   ORDER BY tk.id DESC LIMIT ` + strconv.Itoa(searchCap) + `
), hits AS (
  SELECT ticket_id, score, message_id FROM msg
  UNION ALL SELECT ticket_id, score, NULL FROM subj
  UNION ALL SELECT ticket_id, score, NULL FROM who
), best AS (
  SELECT ticket_id, sum(score) AS score, max(message_id) AS message_id FROM hits GROUP BY ticket_id
)
SELECT t.*, t.activity_seq > COALESCE(r.seen_seq, 0) AS unread, COALESCE(c.name, '') AS contact_name,
       b.score AS rank, b.message_id AS match_message_id
FROM best b
JOIN tickets t ON t.id = b.ticket_id
LEFT JOIN ticket_reads r ON r.agent_id = ? AND r.ticket_id = t.id
LEFT JOIN contacts c ON c.id = t.contact_id
WHERE ` + q.sql() + `
ORDER BY b.score DESC, t.last_activity_at DESC, t.id DESC
LIMIT ? OFFSET ?`
	args = append(args, f.Query)
	args = append(args, matchArgs...)
	args = append(args, mArgs...)
	args = append(args, subjArgs...)
	args = append(args, tArgs...)
	args = append(args, whoArgs...)
	args = append(args, tArgs...)
	args = append(args, a.ID)
	args = append(args, q.args...)
	args = append(args, f.Limit+1, offset)
	var rows []struct {
		TicketListItem `gorm:"embedded"`
		Rank           float64
		MatchMessageID *int64
	}
	if err := s.DB.WithContext(ctx).Raw(sql, args...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("search tickets: %w", err)
	}
	page := &TicketPage{}
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		page.NextCursor = encodeCursor(cursor{Sort: "relevance", Values: []string{strconv.Itoa(offset + f.Limit)}})
	}
	var msgIDs []int64
	for _, r := range rows {
		if r.MatchMessageID != nil {
			msgIDs = append(msgIDs, *r.MatchMessageID)
		}
	}
	bodies := map[int64]string{}
	if len(msgIDs) > 0 {
		var ms []struct {
			ID   int64
			Body string
		}
		err := s.DB.WithContext(ctx).Raw(`SELECT m.id, `+bodyExpr+` AS body FROM messages m WHERE m.id IN ?`, msgIDs).
			Scan(&ms).Error
		if err != nil {
			return nil, fmt.Errorf("search snippets: %w", err)
		}
		for _, m := range ms {
			bodies[m.ID] = m.Body
		}
	}
	page.Items = make([]TicketListItem, len(rows))
	for i, r := range rows {
		it := r.TicketListItem
		rank := r.Rank
		it.Rank = &rank
		// The snippet comes from the first source that contains the query itself.
		for _, src := range []string{it.Subject, bodies[ptrVal(r.MatchMessageID)], it.ContactName} {
			if sn, ok := Snippet(src, f.Query, 60); ok {
				it.Snippet = sn
				break
			}
		}
		if it.Snippet == "" && r.MatchMessageID != nil {
			// A word match whose words are apart: show the start of the message.
			it.Snippet, _ = Snippet(bodies[*r.MatchMessageID], firstWord(f.Query), 60)
		}
		page.Items[i] = it
	}
	if err := s.decorate(ctx, page.Items); err != nil {
		return nil, err
	}
	return page, nil
}

func ptrVal(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func firstWord(q string) string {
	if f := strings.Fields(q); len(f) > 0 {
		return f[0]
	}
	return q
}

// Snippet returns up to width characters of text on each side of the first
// case-insensitive occurrence of q, HTML-escaped, with the match in <mark>. It
// compares rune by rune (not byte offsets of a lower-cased copy) so the cut is right
// for any script.
func Snippet(text, q string, width int) (string, bool) {
	if q == "" || text == "" {
		return "", false
	}
	tr, qr := []rune(text), []rune(q)
	fold := func(r rune) rune { return unicode.ToLower(r) }
	at := -1
	for i := 0; i+len(qr) <= len(tr) && at < 0; i++ {
		j := 0
		for j < len(qr) && fold(tr[i+j]) == fold(qr[j]) {
			j++
		}
		if j == len(qr) {
			at = i
		}
	}
	if at < 0 {
		return "", false
	}
	from, to := max(0, at-width), min(len(tr), at+len(qr)+width)
	var b strings.Builder
	if from > 0 {
		b.WriteString("…")
	}
	b.WriteString(html.EscapeString(collapse(string(tr[from:at]))))
	b.WriteString("<mark>")
	b.WriteString(html.EscapeString(string(tr[at : at+len(qr)])))
	b.WriteString("</mark>")
	b.WriteString(html.EscapeString(collapse(string(tr[at+len(qr) : to]))))
	if to < len(tr) {
		b.WriteString("…")
	}
	return b.String(), true
}

// collapse folds runs of white space (line breaks of a mail body) into one space.
func collapse(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}
