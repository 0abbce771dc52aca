package mail

import (
	"html"
	"strings"

	xhtml "golang.org/x/net/html"
)

// composeHTML renders an agent's plain text as HTML: escaped, blank lines make
// paragraphs, single newlines make line breaks.
func composeHTML(text string) string {
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n")
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if strings.TrimSpace(para) == "" {
			continue
		}
		lines := strings.Split(para, "\n")
		for i, l := range lines {
			lines[i] = html.EscapeString(l)
		}
		b.WriteString("<p>")
		b.WriteString(strings.Join(lines, "<br>\n"))
		b.WriteString("</p>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

// blockTags end a line of text.
var blockTags = map[string]bool{"p": true, "div": true, "br": true, "li": true, "tr": true, "h1": true, "h2": true,
	"h3": true, "h4": true, "h5": true, "h6": true, "blockquote": true, "pre": true, "table": true, "ul": true, "ol": true}

// composeText renders composer HTML as plain text for the text/plain part: text
// nodes in order, a line break per block, links as "text (url)", nothing of
// scripts, styles or the head.
func composeText(src string) string {
	z := xhtml.NewTokenizer(strings.NewReader(src))
	var b strings.Builder
	skip := 0
	var href string
	for {
		switch z.Next() {
		case xhtml.ErrorToken:
			return tidyLines(b.String())
		case xhtml.TextToken:
			if skip == 0 {
				// Whitespace in HTML is one space wherever it is; tidyLines trims it.
				t := string(z.Text())
				if strings.TrimSpace(t) == "" {
					b.WriteString(" ")
					break
				}
				if t[0] <= ' ' {
					b.WriteString(" ")
				}
				b.WriteString(strings.Join(strings.Fields(t), " "))
				if t[len(t)-1] <= ' ' {
					b.WriteString(" ")
				}
			}
		case xhtml.StartTagToken, xhtml.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			switch {
			case tag == "script" || tag == "style" || tag == "head" || tag == "title":
				skip++
			case tag == "a" && hasAttr:
				href = ""
				for {
					k, v, more := z.TagAttr()
					if string(k) == "href" {
						href = string(v)
					}
					if !more {
						break
					}
				}
			case tag == "li":
				b.WriteString("\n- ")
			case blockTags[tag]:
				b.WriteString("\n")
			}
		case xhtml.EndTagToken:
			name, _ := z.TagName()
			tag := string(name)
			switch {
			case tag == "script" || tag == "style" || tag == "head" || tag == "title":
				if skip > 0 {
					skip--
				}
			case tag == "a":
				if href != "" && strings.HasPrefix(href, "http") {
					b.WriteString(" (" + href + ")")
				}
				href = ""
			case tag == "p":
				b.WriteString("\n\n")
			case blockTags[tag]:
				b.WriteString("\n")
			}
		}
	}
}

// tidyLines trims each line and collapses runs of blank lines to one.
func tidyLines(s string) string {
	var out []string
	blank := false
	for _, l := range strings.Split(s, "\n") {
		l = strings.Join(strings.Fields(l), " ")
		if l == "" {
			if !blank && len(out) > 0 {
				out = append(out, "")
			}
			blank = true
			continue
		}
		blank = false
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n")) + "\n"
}

func escapeAttr(s string) string { return html.EscapeString(s) }
