package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// oversizeHeaderLimit is how much of an oversized message's header is fetched.
// Real headers are a few KB; a longer one is cut at its last complete line.
const oversizeHeaderLimit = 64 << 10

// keepHeaders handles the messages of a batch that the sink refused as too large.
// Leaving them unread would hide them from the agents (nobody reads the server's
// folder) and fetch them again on every fresh sync, so each becomes a header-only
// mail instead: committed with a warning that says what is missing and where the
// complete message is, then flagged or moved like any other. A message whose
// header alone is still too large stays unread in the folder and is named on the
// mailbox. It returns the first error that stops the batch: that UID and the ones
// after it are left for the next poll.
func (p *IMAPPoller) keepHeaders(ctx context.Context, c *imapclient.Client, st *imapSync, res *batchResult, batch []imap.UID) error {
	for _, uid := range batch {
		if !res.skipped[uid] {
			continue
		}
		err := p.keepHeader(ctx, c, st, uid)
		switch {
		case err == nil:
			delete(res.skipped, uid)
			res.accepted[uid] = true
			st.headerOnly = append(st.headerOnly, uid)
		case errors.Is(err, ErrMailTooLarge):
			st.skipped = append(st.skipped, uid)
			p.log().Warn("imap message over the size limit left in the folder", "mailbox_id", st.mailbox.ID, "uid", uid)
		default:
			// Not handled: the position must stop before it.
			delete(res.skipped, uid)
			return fmt.Errorf("keep header of oversized message uid %d: %w", uid, err)
		}
	}
	return nil
}

// keepHeader fetches one message's header and size and commits the header alone.
func (p *IMAPPoller) keepHeader(ctx context.Context, c *imapclient.Client, st *imapSync, uid imap.UID) error {
	msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{
		UID:        true,
		RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{{
			Specifier: imap.PartSpecifierHeader,
			Peek:      true,
			Partial:   &imap.SectionPartial{Offset: 0, Size: oversizeHeaderLimit},
		}},
	}).Collect()
	if err != nil {
		return fmt.Errorf("fetch header: %w", err)
	}
	if len(msgs) != 1 || len(msgs[0].BodySection) == 0 {
		return errors.New("server returned no header")
	}
	a := p.arrival(st, uid)
	where := fmt.Sprintf("folder %q, UID %d", st.mailbox.IMAPFolder, uid)
	if st.mailbox.IMAPAfter == "move" {
		where = fmt.Sprintf("moved from folder %q to %q", st.mailbox.IMAPFolder, st.mailbox.IMAPMoveFolder)
	}
	a.Warning = fmt.Sprintf("only the header was kept: the mail is %d bytes, over the size limit; "+
		"the complete mail stays on the IMAP server (%s)", msgs[0].RFC822Size, where)
	_, err = p.Sink.Accept(ctx, a, bytes.NewReader(headerOnlyMail(msgs[0].BodySection[0].Bytes)))
	return err
}

// headerOnlyMail turns a message header into a complete mail with an empty text
// body: the fields that describe the missing body (Content-Type and friends) are
// dropped, so the parser does not look for MIME parts that are not there, and a
// header cut at oversizeHeaderLimit ends at its last complete line.
func headerOnlyMail(header []byte) []byte {
	if end := bytes.Index(header, []byte("\r\n\r\n")); end >= 0 {
		header = header[:end+2]
	} else if end := bytes.Index(header, []byte("\n\n")); end >= 0 {
		header = header[:end+1]
	} else if nl := bytes.LastIndexByte(header, '\n'); nl >= 0 {
		header = header[:nl+1]
	} else {
		header = nil
	}
	var out bytes.Buffer
	dropping := false
	for _, line := range bytes.SplitAfter(header, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			name, _, _ := bytes.Cut(line, []byte(":"))
			dropping = strings.HasPrefix(strings.ToLower(strings.TrimSpace(string(name))), "content-")
		}
		if !dropping {
			out.Write(line)
		}
	}
	out.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
	return out.Bytes()
}
