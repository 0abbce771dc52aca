package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// imapBufferLimit is the largest message read into memory so it can be committed
// while the next ones are fetched; larger ones are streamed to the sink alone.
const imapBufferLimit = 1 << 20

// batchResult collects what became of each UID of a fetched batch; the sink calls
// run concurrently.
type batchResult struct {
	mu       sync.Mutex
	accepted map[imap.UID]bool
	skipped  map[imap.UID]bool
	err      error
}

func (r *batchResult) record(p *IMAPPoller, st *imapSync, uid imap.UID, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err == nil:
		r.accepted[uid] = true
	case errors.Is(err, ErrMailTooLarge):
		// One oversized mail must not stall the mailbox: keepHeaders stores its
		// header once the batch is fetched.
		r.skipped[uid] = true
	case r.err == nil:
		r.err = fmt.Errorf("store message uid %d: %w", uid, err)
	}
}

func (r *batchResult) failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err != nil
}

// fetchBatch fetches the UIDs of batch (ascending) and hands each message to the
// sink, then flags or moves the accepted ones. Messages are read from the
// connection one after another but committed by up to Parallel sink calls at once,
// since each commit waits for the database's disk flush. It returns the highest
// UID up to which everything is stored and flagged (or, when even its header is
// over the size limit, passed over).
func (p *IMAPPoller) fetchBatch(ctx context.Context, c *imapclient.Client, st *imapSync, batch []imap.UID) (imap.UID, error) {
	res := &batchResult{accepted: make(map[imap.UID]bool, len(batch)), skipped: make(map[imap.UID]bool)}
	fetch, err := p.withinLimit(c, batch, res)
	if err != nil {
		return 0, err
	}
	acceptErr := p.fetchBodies(ctx, c, st, fetch, res)

	// A cancelled session is a dying process: it must not flag what it may not
	// have finished; the next session re-fetches, and the sink deduplicates.
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if acceptErr == nil {
		acceptErr = p.keepHeaders(ctx, c, st, res, batch)
	} else {
		clear(res.skipped) // not handled yet: the next poll fetches them again
	}
	done := make([]imap.UID, 0, len(res.accepted))
	for u := range res.accepted {
		done = append(done, u)
	}
	slices.Sort(done)
	if len(done) > 0 {
		if err := p.after(c, st.mailbox, done); err != nil {
			return 0, errors.Join(acceptErr, err)
		}
	}

	// After a failure only the unbroken run of handled UIDs counts; otherwise a UID
	// the server did not return was expunged meanwhile and is passed over.
	var progress imap.UID
	for _, u := range batch {
		if !res.accepted[u] && !res.skipped[u] && acceptErr != nil {
			break
		}
		progress = u
	}
	return progress, acceptErr
}

// fetchBodies fetches the mails of uids and hands each to the sink, recording
// the outcome in res. It returns the first error that stops the batch.
func (p *IMAPPoller) fetchBodies(ctx context.Context, c *imapclient.Client, st *imapSync, uids []imap.UID,
	res *batchResult) error {
	if len(uids) == 0 {
		return nil // every one of them is over the size limit
	}
	cmd := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{
		UID:         true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	var wg sync.WaitGroup
	slots := make(chan struct{}, p.parallel())
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		if res.failed() || ctx.Err() != nil {
			continue // Next discards the rest of the response
		}
		uid, body, err := p.readMessage(msg, func(uid imap.UID, r io.Reader) error {
			// Too large to hold: commit it alone, after everything before it.
			wg.Wait()
			_, err := p.Sink.Accept(ctx, p.arrival(st, uid), r)
			res.record(p, st, uid, err)
			return nil
		})
		if err != nil {
			res.record(p, st, uid, err)
			continue
		}
		if body == nil {
			continue // streamed above
		}
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			_, err := p.Sink.Accept(ctx, p.arrival(st, uid), bytes.NewReader(body))
			res.record(p, st, uid, err)
		}()
	}
	wg.Wait()
	if err := cmd.Close(); err != nil && res.err == nil {
		return fmt.Errorf("fetch: %w", err)
	}
	return res.err
}

// withinLimit asks the server for the sizes of batch and returns the UIDs whose
// mail the sink takes; the larger ones are marked skipped in res, for keepHeaders,
// without their bodies ever crossing the wire. Without a size limit it returns
// batch as it is.
func (p *IMAPPoller) withinLimit(c *imapclient.Client, batch []imap.UID, res *batchResult) ([]imap.UID, error) {
	limit := p.Sink.MaxMailBytes()
	if limit <= 0 {
		return batch, nil
	}
	msgs, err := c.Fetch(imap.UIDSetNum(batch...), &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return nil, fmt.Errorf("fetch sizes: %w", err)
	}
	for _, m := range msgs {
		if m.RFC822Size > limit {
			res.skipped[m.UID] = true
		}
	}
	fetch := make([]imap.UID, 0, len(batch))
	for _, u := range batch {
		if !res.skipped[u] {
			fetch = append(fetch, u)
		}
	}
	return fetch, nil
}

// readMessage reads one fetched message: its UID and, when it fits in
// imapBufferLimit, its body. A larger body is handed to stream while still on the
// connection, and body is nil.
func (p *IMAPPoller) readMessage(msg *imapclient.FetchMessageData, stream func(imap.UID, io.Reader) error) (uid imap.UID, body []byte, err error) {
	for item := msg.Next(); item != nil; item = msg.Next() {
		switch it := item.(type) {
		case imapclient.FetchItemDataUID:
			uid = it.UID
		case imapclient.FetchItemDataBodySection:
			if it.Literal == nil {
				continue
			}
			// A body the server sends before the UID is held whatever its size.
			if uid != 0 && it.Literal.Size() > imapBufferLimit {
				return uid, nil, stream(uid, it.Literal)
			}
			if body, err = io.ReadAll(it.Literal); err != nil {
				return uid, nil, fmt.Errorf("read message: %w", err)
			}
		}
	}
	if uid == 0 || body == nil {
		return uid, nil, errors.New("server returned no message body")
	}
	return uid, body, nil
}

func (p *IMAPPoller) parallel() int {
	if p.Parallel > 0 {
		return p.Parallel
	}
	return 4
}
