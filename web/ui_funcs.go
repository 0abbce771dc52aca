package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/postdesk/postdesk/tickets"
)

// uiFuncs are the helpers templates may call. They format; they decide nothing.
var uiFuncs = template.FuncMap{
	"t":         translate,
	"tk":        func(prefix, key string) string { return translate(prefix + "." + key) },
	"ago":       ago,
	"clock":     func(t time.Time) string { return t.Local().Format("15:04") },
	"stamp":     stamp,
	"iso":       func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"local":     func(t *time.Time) string { return localInput(t) },
	"pct":       pct,
	"deref":     func(p *int64) int64 { return derefID(p) },
	"isset":     func(p *int64) bool { return p != nil },
	"eqid":      func(p *int64, id int64) bool { return p != nil && *p == id },
	"join":      strings.Join,
	"short":     short,
	"now":       func() time.Time { return time.Now() },
	"before":    func(a *time.Time, b time.Time) bool { return a != nil && a.Before(b) },
	"add":       func(a, b int) int { return a + b },
	"hasPrefix": strings.HasPrefix,
	"bytes":     byteSize,
	"opens":     opens,
	"frameCSP":  func() string { return frameCSP },
	"list":      func(v ...string) []string { return v },
	"json":      func(v any) string { b, _ := json.Marshal(v); return string(b) },
	"has":       func(v []string, s string) bool { return slices.Contains(v, s) },
	"pair":      func(a, b any) []any { return []any{a, b} },
	"pd":        func(d any) pageData { return pageData{Data: d} },
	"jsStrings": func() template.JS {
		return jsStrings
	},
}

func derefID(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// ago is a compact relative time for lists: "now", "5m", "3h", "2d", then a date.
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "now"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d < 7*24*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	return t.Local().Format("2 Jan")
}

// stamp is an absolute time for a thread: the clock today, a date otherwise.
func stamp(t time.Time) string {
	l := t.Local()
	if y, m, d := l.Date(); y == time.Now().Year() && m == time.Now().Month() && d == time.Now().Day() {
		return l.Format("15:04")
	}
	return l.Format("2 Jan 15:04")
}

// localInput formats a time for <input type="datetime-local"> (browser-local time
// is not known server-side; the scripts convert to and from UTC).
func localInput(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04")
}

func pct(done, total int) int {
	if total == 0 {
		return 0
	}
	return done * 100 / total
}

func short(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// opens summarises read tracking as "opened 2× · first 14:02" ("" before any open
// by a person; prefetches by mail proxies are not counted by the domain).
func opens(m tickets.Message) string {
	if m.OpenCount == 0 || m.OpenedAt == nil {
		return ""
	}
	return fmt.Sprintf("%s %d× · %s %s", translate("msg.opened"), m.OpenCount, translate("msg.first"), stamp(*m.OpenedAt))
}
