package mail

import (
	"regexp"
	"strings"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
)

// htmlToText renders HTML as plain text for mail that has no text part: block
// elements break lines, scripts and styles vanish, runs of spaces collapse.
func htmlToText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0
	newline := func() {
		str := b.String()
		if len(str) > 0 && !strings.HasSuffix(str, "\n") {
			b.WriteByte('\n')
		}
	}
	for {
		switch z.Next() {
		case html.ErrorToken:
			return tidyText(b.String())
		case html.TextToken:
			if skip == 0 {
				// Line breaks in HTML source are just spaces.
				b.WriteString(htmlSpace.Replace(string(z.Text())))
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style":
				if tt := z.Token(); tt.Type == html.StartTagToken {
					skip++
				}
			case "br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "hr", "pre":
				newline()
			case "td", "th":
				b.WriteByte(' ')
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style":
				if skip > 0 {
					skip--
				}
			case "title", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre":
				newline()
			}
		}
	}
}

var htmlSpace = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\t", " ")

var spaceRun = regexp.MustCompile(`[ \t\f\r\x{00A0}]+`)

func tidyText(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimSpace(spaceRun.ReplaceAllString(l, " "))
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

var (
	policyOnce sync.Once
	policy     *bluemonday.Policy
)

// sanitizeHTML makes inbound HTML safe to show: bluemonday's UGC policy (no
// scripts, handlers, forms or frames; links get rel="nofollow noopener") plus the
// inline styling mail relies on. cid: references are rewritten by cidURL first;
// anything still pointing at cid: is dropped by the policy.
func sanitizeHTML(s string, cidURL func(cid string) (string, bool)) string {
	policyOnce.Do(func() {
		p := bluemonday.UGCPolicy()
		// Styles are filtered property by property; url() and expressions never pass.
		p.AllowStyles("color", "background-color", "font-size", "font-weight", "font-style", "font-family",
			"text-align", "text-decoration", "margin", "padding", "border", "width", "height", "line-height").Globally()
		p.AllowAttrs("align", "valign", "bgcolor", "width", "height", "border", "cellpadding", "cellspacing").Globally()
		p.AllowElements("font", "center")
		p.AllowAttrs("color", "face", "size").OnElements("font")
		p.RequireNoReferrerOnLinks(true)
		p.AddTargetBlankToFullyQualifiedLinks(true)
		policy = p
	})
	if cidURL != nil {
		s = cidRef.ReplaceAllStringFunc(s, func(m string) string {
			sub := cidRef.FindStringSubmatch(m)
			if u, ok := cidURL(sub[2]); ok {
				return sub[1] + u
			}
			return m
		})
	}
	return policy.Sanitize(s)
}

var cidRef = regexp.MustCompile(`(?i)(["'=]\s*)cid:([^"'\s>]+)`)
