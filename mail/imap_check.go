package mail

import (
	"context"
	"crypto/tls"
	"fmt"

	"github.com/emersion/go-imap/v2"

	"github.com/postdesk/postdesk/tickets"
)

// CheckIMAP tries mailbox m's IMAP settings the way a poll would use them: connect
// with its security, log in, open the folder read-only and, when mail is to be moved
// after storing, make sure the target folder exists. It reads and changes nothing.
func CheckIMAP(ctx context.Context, m *tickets.Mailbox, tlsConfig *tls.Config) error {
	c, err := dialIMAP(m, tlsConfig, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if _, err := c.Select(m.IMAPFolder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return fmt.Errorf("open folder %q: %w", m.IMAPFolder, err)
	}
	if m.IMAPAfter == "move" {
		if _, err := c.Status(m.IMAPMoveFolder, &imap.StatusOptions{NumMessages: true}).Wait(); err != nil {
			return fmt.Errorf("folder to move mail to %q: %w", m.IMAPMoveFolder, err)
		}
	}
	return c.Logout().Wait()
}
