package mail

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
)

// Parse limits. Real mail nests a handful of levels; anything deeper is an attack
// or a loop, and is kept as an opaque attachment instead of being walked.
const (
	DefaultMaxDepth     = 20
	DefaultMaxParts     = 1000
	DefaultMaxTextBytes = 4 << 20
	maxHeaderBytes      = 1 << 20
	maxHeaderFields     = 5000
	// maxRecipients is how many To and Cc addresses are kept. A mail to thousands
	// (a list blast, a loop) keeps them all in its raw copy; the message needs few.
	maxRecipients = 500
)

// ParseOptions tune Parse. The zero value is usable.
type ParseOptions struct {
	// Store saves one decoded attachment and returns its SHA-256 and size. limit is
	// the largest size allowed (tickets.Blobs.Put semantics). Nil hashes and
	// discards, which is what tests and the fuzzer want.
	Store        func(r io.Reader, limit int64) (sum string, size int64, err error)
	MaxDepth     int
	MaxParts     int
	MaxTextBytes int64
	// MaxPartBytes is the largest attachment kept (the channel's limit); larger
	// ones are dropped with a warning. <= 0: no limit.
	MaxPartBytes int64
}

// Parsed is what a raw mail means to the helpdesk.
type Parsed struct {
	Header     textproto.Header
	Subject    string
	From       Address // zero when the mail has no usable From
	ReplyTo    []Address
	To, Cc     []Address
	MessageID  string   // without angle brackets; "" when absent
	InReplyTo  []string // nil when the header is absent
	References []string // nil when the header is absent
	Date       time.Time
	// Text is the main text body; TextFromHTML says it was derived from HTML.
	Text         string
	TextFromHTML bool
	// HTML is the decoded, *unsanitised* HTML body; ingest sanitises it after the
	// attachments have ids, so cid: links can point at them.
	HTML           string
	Attachments    []ParsedAttachment
	CalendarMethod string
	ListID         string
	// ReportType is the report-type of a top-level multipart/report.
	ReportType string
	// DSNActions are the Action fields of message/delivery-status parts.
	DSNActions []string
	// ReturnedMessageIDs are the Message-IDs of messages a report returns (the
	// message/rfc822 or text/rfc822-headers part), for matching bounces.
	ReturnedMessageIDs []string
	Warnings           []string

	opts   ParseOptions
	parts  int
	text   []string
	html   []string
	report bool // inside a multipart/report
	// dsnText is the first delivery-status part, the body of reports that carry
	// no human-readable part (or mislabel it).
	dsnText string
}

// ParsedAttachment is one stored, non-body part.
type ParsedAttachment struct {
	Filename    string
	ContentType string
	ContentID   string
	Inline      bool
	SHA256      string
	Size        int64
}

func (p *Parsed) warn(format string, args ...any) {
	if len(p.Warnings) < 50 {
		p.Warnings = append(p.Warnings, fmt.Sprintf(format, args...))
	}
}

// Warning is the parse warnings joined for messages.parse_warning.
func (p *Parsed) Warning() string { return strings.Join(p.Warnings, "; ") }

// Parse reads a raw mail. It does not fail on malformed mail: what cannot be
// understood becomes a warning and parsing goes on with what it has. An error is
// returned only when r fails or the header cannot be read at all.
func Parse(r io.Reader, opts ParseOptions) (*Parsed, error) {
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	if opts.MaxParts <= 0 {
		opts.MaxParts = DefaultMaxParts
	}
	if opts.MaxTextBytes <= 0 {
		opts.MaxTextBytes = DefaultMaxTextBytes
	}
	p := &Parsed{opts: opts}
	br := bufio.NewReaderSize(r, 64<<10)
	h, err := p.readHeader(br, true)
	if err != nil {
		return nil, err
	}
	p.Header = h
	p.readEnvelopeHeaders(h)
	if err := p.walk(h, br, 0, false); err != nil {
		return nil, err
	}
	p.finish()
	return p, nil
}

var errReadFailed = errors.New("read mail")

// readHeader reads header fields up to the blank line. Unlike a strict reader it
// skips an mbox "From " line and leading blank lines (top level only), accepts bare
// LF, and skips lines that are not fields with a warning instead of giving up.
func (p *Parsed) readHeader(br *bufio.Reader, top bool) (textproto.Header, error) {
	var h textproto.Header
	var key string
	var val []byte
	total, fields := 0, 0
	flush := func() {
		if key != "" {
			if fields < maxHeaderFields {
				h.Add(key, strings.TrimSpace(string(val)))
			}
			fields++
		}
		key, val = "", nil
	}
	first := true
	for {
		line, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return h, fmt.Errorf("%w: %v", errReadFailed, err)
		}
		total += len(line)
		if total > maxHeaderBytes {
			p.warn("header larger than %d bytes; rest skipped", maxHeaderBytes)
			flush()
			skipToBlankLine(br)
			return h, nil
		}
		if top && first && (bytes.HasPrefix(line, []byte("From ")) || len(bytes.TrimSpace(line)) == 0) && err == nil {
			// mbox separator, or blank lines some stores put before the header.
			if len(bytes.TrimSpace(line)) != 0 || peekIsHeaderLine(br) {
				continue
			}
		}
		first = false
		if len(line) == 0 {
			flush()
			return h, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			if key != "" {
				val = append(val, line...) // RFC 5322 2.2.3: unfolding removes only the line break
			}
		} else if i := bytes.IndexByte(line, ':'); i > 0 && validKey(bytes.TrimRight(line[:i], " \t")) {
			flush()
			key = string(bytes.TrimRight(line[:i], " \t"))
			val = append([]byte(nil), line[i+1:]...)
		} else {
			p.warn("malformed header line skipped: %.60q", line)
		}
		if errors.Is(err, io.EOF) {
			flush()
			return h, nil
		}
	}
}

func validKey(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	for _, c := range k {
		if c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

func peekIsHeaderLine(br *bufio.Reader) bool {
	b, _ := br.Peek(256)
	i := bytes.IndexByte(b, ':')
	return i > 0 && validKey(b[:i])
}

// readLine returns one line without its line break (CRLF or bare LF). Lines longer
// than the buffer are returned whole but capped, so a header made of one endless
// line cannot exhaust memory.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line) < maxHeaderBytes {
			line = append(line, chunk...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if err != nil && len(line) > 0 && errors.Is(err, io.EOF) {
			return line, nil
		}
		return line, err
	}
}

func skipToBlankLine(br *bufio.Reader) {
	for {
		line, err := readLine(br)
		if err != nil || len(line) == 0 {
			return
		}
	}
}

func (p *Parsed) readEnvelopeHeaders(h textproto.Header) {
	p.Subject = strings.TrimSpace(decodeHeader(h.Get("Subject")))
	if from := parseAddressList(h.Get("From")); len(from) > 0 {
		p.From = from[0]
	} else if h.Get("Sender") != "" {
		if s := parseAddressList(h.Get("Sender")); len(s) > 0 {
			p.From = s[0]
		}
	}
	if p.From.Address == "" {
		p.warn("no From address")
	}
	p.ReplyTo = parseAddressList(h.Get("Reply-To"))
	p.To = parseAddressList(strings.Join(h.Values("To"), ","))
	p.Cc = parseAddressList(strings.Join(h.Values("Cc"), ","))
	if n := len(p.To) + len(p.Cc); n > maxRecipients {
		p.warn("%d To and Cc addresses; the first %d kept", n, maxRecipients)
		p.To = p.To[:min(len(p.To), maxRecipients)]
		p.Cc = p.Cc[:maxRecipients-len(p.To)]
	}
	if ids := parseMsgIDs(h.Get("Message-Id")); len(ids) > 0 {
		p.MessageID = ids[0]
	}
	if h.Has("In-Reply-To") {
		p.InReplyTo = parseMsgIDs(h.Get("In-Reply-To"))
	}
	if h.Has("References") {
		for _, v := range h.Values("References") {
			p.References = append(p.References, parseMsgIDs(v)...)
		}
		if p.References == nil {
			p.References = []string{}
		}
	}
	if d, err := mail.ParseDate(h.Get("Date")); err == nil {
		p.Date = d
	}
	p.ListID = strings.Join(strings.Fields(decodeHeader(h.Get("List-Id"))), " ")
}

// walk visits one entity: multiparts are descended into, leaves become body text
// or attachments.
func (p *Parsed) walk(h textproto.Header, body io.Reader, depth int, inMessage bool) error {
	p.parts++
	mt, params := parseMediaType(h.Get("Content-Type"))
	if mt == "" {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		boundary := params["boundary"]
		switch {
		case boundary == "":
			p.warn("%s without boundary read as text", mt)
			mt = "text/plain"
		case depth >= p.opts.MaxDepth:
			p.warn("MIME nesting deeper than %d kept as one attachment", p.opts.MaxDepth)
			return p.storeAttachment(h, "application/octet-stream", params, body)
		default:
			return p.walkMultipart(mt, params, boundary, body, depth, inMessage)
		}
	}
	return p.leaf(h, mt, params, body, inMessage)
}

func (p *Parsed) walkMultipart(mt string, params map[string]string, boundary string, body io.Reader, depth int, inMessage bool) error {
	if mt == "multipart/report" && depth == 0 {
		p.ReportType = strings.ToLower(params["report-type"])
		p.report = true
	}
	mr := textproto.NewMultipartReader(body, boundary)
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if p.parts == 1 || !strings.Contains(err.Error(), "EOF") {
				p.warn("multipart: %v", err)
			} else {
				p.warn("multipart: closing boundary missing")
			}
			return nil
		}
		if p.parts >= p.opts.MaxParts {
			p.warn("more than %d MIME parts; the rest is skipped", p.opts.MaxParts)
			return nil
		}
		if err := p.walk(part.Header, part, depth+1, inMessage); err != nil {
			return err
		}
	}
}

func (p *Parsed) leaf(h textproto.Header, mt string, params map[string]string, body io.Reader, inMessage bool) error {
	cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
	switch cte {
	case "", "7bit", "8bit", "binary", "base64", "quoted-printable":
	default:
		p.warn("unknown Content-Transfer-Encoding %q read as 8bit", cte)
	}
	decoded := transferDecoder(cte, body)
	disp, _ := parseMediaType(h.Get("Content-Disposition"))
	name := partFilename(h, params)
	isBody := (mt == "text/plain" || mt == "text/html") && disp != "attachment" && name == "" && !inMessage
	if isBody {
		data, err := readLimited(decoded, p.opts.MaxTextBytes)
		if err != nil {
			p.warn("%s part: %v", mt, err)
		}
		if int64(len(data)) > p.opts.MaxTextBytes {
			p.warn("%s part longer than %d bytes truncated", mt, p.opts.MaxTextBytes)
			data = data[:p.opts.MaxTextBytes]
		}
		cs := params["charset"]
		if cs == "" && mt == "text/html" {
			cs = metaCharset(data)
		}
		text, ok := decodeCharset(cs, data)
		if !ok {
			p.warn("charset %q of %s part unknown or invalid; guessed", cs, mt)
		}
		if mt == "text/plain" {
			p.text = append(p.text, text)
		} else {
			p.html = append(p.html, text)
		}
		return nil
	}
	if mt == "text/calendar" && p.CalendarMethod == "" {
		p.CalendarMethod = strings.ToUpper(params["method"])
	}
	// application/ms-tnef (Outlook's winmail.dat) is kept as it came, one
	// attachment: the Go module proxy serves no TNEF decoder (the known Go one,
	// github.com/teamwork/tnef, is not available from it), and a home-made decoder
	// of Microsoft's MAPI property format is not worth its risk. Agents download the
	// file and open it with a TNEF viewer; nothing is lost.
	return p.storeAttachment(h, mt, params, decoded)
}

// storeAttachment stores a non-body part. Parts that carry facts (a delivery
// status, a returned message's headers, a calendar's METHOD) are peeked at first.
func (p *Parsed) storeAttachment(h textproto.Header, mt string, params map[string]string, r io.Reader) error {
	name := partFilename(h, params)
	disp, _ := parseMediaType(h.Get("Content-Disposition"))
	cid := strings.Trim(strings.TrimSpace(h.Get("Content-Id")), "<>")
	if peek := peekSize(mt); peek > 0 {
		head, err := readLimited(r, peek)
		if err != nil {
			p.warn("%s part: %v", mt, err)
		}
		p.inspect(mt, head)
		r = io.MultiReader(bytes.NewReader(head), r)
	}
	var sum string
	var size int64
	var err error
	if p.opts.Store != nil {
		sum, size, err = p.opts.Store(r, p.opts.MaxPartBytes)
	} else {
		sum, size, err = hashOnly(r, p.opts.MaxPartBytes)
	}
	if err != nil {
		if errors.Is(err, errPartTooLarge) || strings.Contains(err.Error(), "too large") {
			p.warn("attachment %q larger than %d bytes not stored; it is in the original mail", name, p.opts.MaxPartBytes)
			io.Copy(io.Discard, r)
			return nil
		}
		if errors.Is(err, errReadFailed) {
			return err
		}
		// A decoding error (broken base64, truncated part): keep what was stored.
		p.warn("attachment %q: %v", name, err)
		return nil
	}
	p.Attachments = append(p.Attachments, ParsedAttachment{Filename: name, ContentType: mt, ContentID: cid,
		Inline: disp == "inline" || (disp == "" && cid != ""), SHA256: sum, Size: size})
	return nil
}

func peekSize(mt string) int64 {
	switch mt {
	case "message/delivery-status", "message/global-delivery-status", "text/rfc822-headers",
		"message/rfc822", "message/global", "message/global-headers", "text/calendar":
		return 256 << 10
	}
	return 0
}

var dsnAction = regexp.MustCompile(`(?im)^action:\s*([a-z]+)`)
var icsMethod = regexp.MustCompile(`(?m)^METHOD:\s*([A-Za-z-]+)`)

func (p *Parsed) inspect(mt string, head []byte) {
	switch mt {
	case "message/delivery-status", "message/global-delivery-status":
		if p.dsnText == "" {
			p.dsnText, _ = decodeCharset("", head)
		}
		for _, m := range dsnAction.FindAllSubmatch(head, -1) {
			p.DSNActions = append(p.DSNActions, strings.ToLower(string(m[1])))
		}
	case "text/calendar":
		if p.CalendarMethod == "" {
			if m := icsMethod.FindSubmatch(head); m != nil {
				p.CalendarMethod = strings.ToUpper(string(m[1]))
			}
		}
	default: // a returned or forwarded message: its Message-ID matches a bounce to what we sent
		if !p.report {
			return
		}
		inner := &Parsed{}
		h, err := inner.readHeader(bufio.NewReader(bytes.NewReader(head)), false)
		if err == nil {
			if ids := parseMsgIDs(h.Get("Message-Id")); len(ids) > 0 {
				p.ReturnedMessageIDs = append(p.ReturnedMessageIDs, ids[0])
			}
		}
	}
}

var errPartTooLarge = errors.New("part too large")

func hashOnly(r io.Reader, limit int64) (string, int64, error) {
	h := sha256.New()
	src := r
	if limit > 0 {
		src = io.LimitReader(r, limit+1)
	}
	n, err := io.Copy(h, src)
	if err != nil {
		return "", n, err
	}
	if limit > 0 && n > limit {
		return "", n, errPartTooLarge
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// readLimited reads up to limit+1 bytes, so callers can tell "exactly limit" from
// "more". Decoding errors are returned with the data decoded so far.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, limit+1))
}

var metaCharsetRe = regexp.MustCompile(`(?i)<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)`)

func metaCharset(html []byte) string {
	if len(html) > 4096 {
		html = html[:4096]
	}
	if m := metaCharsetRe.FindSubmatch(html); m != nil {
		return string(m[1])
	}
	return ""
}

// partFilename is the decoded name of a part: Content-Disposition filename, else
// Content-Type name (RFC 2231 continuations and charsets, RFC 2047 words, raw 8-bit).
func partFilename(h textproto.Header, ctParams map[string]string) string {
	_, dp := parseMediaType(h.Get("Content-Disposition"))
	name := dp["filename"]
	if name == "" {
		name = ctParams["name"]
	}
	name = strings.TrimSpace(decodeHeader(name))
	// Never let a name carry a path.
	if i := strings.LastIndexAny(name, `/\`); i >= 0 && i < len(name)-1 {
		name = name[i+1:]
	}
	return name
}

// parseMediaType parses a Content-Type or Content-Disposition value. The standard
// parser handles RFC 2231; when it rejects a value (unquoted tspecials, stray
// semicolons), a lenient split keeps the type and what parameters it can.
func parseMediaType(v string) (string, map[string]string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", map[string]string{}
	}
	mt, params, err := mime.ParseMediaType(v)
	if err == nil && !strings.Contains(v, "*=") {
		return strings.ToLower(mt), params
	}
	// RFC 2231 values in charsets other than UTF-8 and Latin-1 are dropped by the
	// standard parser; the lenient one below decodes every charset we know.
	lmt, lparams := parseMediaTypeLenient(v)
	if err == nil {
		for k, val := range lparams {
			if params[k] == "" {
				params[k] = val
			}
		}
		return strings.ToLower(mt), params
	}
	return lmt, lparams
}

func parseMediaTypeLenient(v string) (string, map[string]string) {
	parts := strings.Split(v, ";")
	mt := strings.ToLower(strings.TrimSpace(parts[0]))
	if i := strings.IndexAny(mt, " \t"); i >= 0 {
		mt = mt[:i]
	}
	params := map[string]string{}
	ext := map[string][]string{}
	for _, kv := range parts[1:] {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' {
			if end := strings.LastIndexByte(val, '"'); end > 0 {
				val = val[1:end]
			}
		}
		if base, _, isExt := strings.Cut(k, "*"); isExt {
			ext[base] = append(ext[base], val)
			continue
		}
		if _, seen := params[k]; !seen {
			params[k] = val
		}
	}
	for k, vals := range ext {
		if _, seen := params[k]; !seen {
			params[k] = decode2231(strings.Join(vals, ""))
		}
	}
	return mt, params
}

// decode2231 decodes charset'lang'%XX text.
func decode2231(v string) string {
	parts := strings.SplitN(v, "'", 3)
	if len(parts) != 3 {
		return v
	}
	var raw []byte
	s := parts[2]
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			raw = append(raw, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		raw = append(raw, s[i])
	}
	text, _ := decodeCharset(parts[0], raw)
	return text
}

// finish picks the bodies: the text parts outside attachments joined in MIME
// order, the HTML parts likewise, and text derived from HTML when no plain part
// says anything.
func (p *Parsed) finish() {
	p.Text = strings.Join(p.text, "\n")
	p.HTML = strings.Join(p.html, "\n")
	if strings.TrimSpace(p.Text) == "" && p.HTML != "" {
		p.Text = htmlToText(p.HTML)
		p.TextFromHTML = true
	}
	if strings.TrimSpace(p.Text) == "" && p.dsnText != "" {
		p.Text = p.dsnText
	}
	p.text, p.html = nil, nil
}
