package mail

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// imapLockClass is the first key of the two-key advisory locks the IMAP poller
// takes ("IMAP" in ASCII), so they cannot collide with other advisory locks.
const imapLockClass int32 = 0x494d4150

// lockMailbox takes the session-level advisory lock of one mailbox on a connection
// of its own. The lock, not the task queue, is what guarantees one poller per
// mailbox across all processes: if the process dies, Postgres closes the connection
// and the lock goes with it. The connection is outside the pool on purpose: an IDLE
// session holds it for many minutes and must not starve the pool the intake needs.
// ok is false when another session holds the lock.
func lockMailbox(ctx context.Context, dsn string, mailboxID int64) (unlock func(), ok bool, err error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, false, fmt.Errorf("lock mailbox %d: connect: %w", mailboxID, err)
	}
	// Mailbox ids fit the int4 key for any realistic install; wrapping would at
	// worst make two mailboxes share a lock, never let two sessions poll one.
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, imapLockClass, int32(mailboxID)).Scan(&ok); err != nil {
		conn.Close(context.Background())
		return nil, false, fmt.Errorf("lock mailbox %d: %w", mailboxID, err)
	}
	if !ok {
		conn.Close(context.Background())
		return nil, false, nil
	}
	// Closing the session releases its advisory locks.
	return func() { conn.Close(context.Background()) }, true, nil
}
