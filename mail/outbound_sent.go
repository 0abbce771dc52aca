package mail

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/postdesk/postdesk/tickets"
)

// AppendSent stores a copy of a mail we sent in the mailbox's Sent folder (flagged
// \Seen), so people who also read the mailbox in a mail client see the answer
// there. The folder is created when missing.
func AppendSent(ctx context.Context, m *tickets.Mailbox, tlsConfig *tls.Config, raw []byte) error {
	if m.IMAPSentFolder == "" {
		return nil
	}
	c, err := dialIMAP(m, tlsConfig, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	appendOnce := func() error {
		cmd := c.Append(m.IMAPSentFolder, int64(len(raw)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen},
			Time: time.Now()})
		if _, err := cmd.Write(raw); err != nil {
			cmd.Close()
			return err
		}
		if err := cmd.Close(); err != nil {
			return err
		}
		_, err := cmd.Wait()
		return err
	}
	if err := appendOnce(); err != nil {
		// Most servers answer [TRYCREATE] for a missing folder; create it and try once more.
		if cerr := c.Create(m.IMAPSentFolder, nil).Wait(); cerr != nil {
			return fmt.Errorf("append to %q: %w", m.IMAPSentFolder, err)
		}
		if err := appendOnce(); err != nil {
			return fmt.Errorf("append to %q: %w", m.IMAPSentFolder, err)
		}
	}
	return c.Logout().Wait()
}
