package tickets

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// IMAPStatus is the IMAP poller's state of a mailbox, shown in the API so an admin
// sees at once whether polling works. Only the poller writes it (the columns are
// read-only to gorm, so saving mailbox settings never rewinds it).
type IMAPStatus struct {
	IMAPUIDValidity int64      `json:"imap_uidvalidity" gorm:"column:imap_uidvalidity;<-:false"`
	IMAPLastUID     int64      `json:"last_uid" gorm:"column:imap_last_uid;<-:false"`
	IMAPSyncKey     string     `json:"-" gorm:"column:imap_sync_key;<-:false"`
	IMAPFailures    int        `json:"imap_failures" gorm:"column:imap_failures;<-:false"`
	LastError       string     `json:"last_error" gorm:"column:last_error;<-:false"`
	LastSuccessAt   *time.Time `json:"last_success_at" gorm:"column:last_success_at;<-:false"`
	LastPolledAt    *time.Time `json:"last_polled_at" gorm:"column:last_polled_at;<-:false"`
}

// IMAPSyncKey names the server, account and folder a mailbox polls. UIDs are only
// meaningful within one folder of one account, so a stored last UID whose key differs
// from the current settings is stale and the next poll starts a fresh sync.
func (m *Mailbox) CurrentIMAPSyncKey() string {
	return strings.ToLower(m.IMAPHost) + "|" + m.IMAPUsername + "|" + m.IMAPFolder
}

// IMAPMailboxes lists the mailboxes whose inbound mail is polled over IMAP.
func (s *Service) IMAPMailboxes(ctx context.Context) ([]Mailbox, error) {
	var out []Mailbox
	if err := s.DB.WithContext(ctx).Where("inbound = 'imap'").Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list imap mailboxes: %w", err)
	}
	return out, nil
}

// MailboxDraft returns mailbox id of a channel with the input applied but not
// saved, so an admin can test settings before keeping them. Fields left out of in
// keep their stored values, the password included.
func (s *Service) MailboxDraft(ctx context.Context, a *Agent, channelID, id int64, in MailboxInput) (*Mailbox, error) {
	if err := s.CanManageChannel(ctx, a, channelID); err != nil {
		return nil, err
	}
	var m Mailbox
	if err := s.DB.WithContext(ctx).Where("channel_id = ? AND id = ?", channelID, id).Take(&m).Error; err != nil {
		return nil, notFound(err, "mailbox %d", id)
	}
	var v Validator
	in.apply(&m, &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	m.AfterFind(nil)
	return &m, nil
}

// MarkIMAPPolled records that a poll session of mailbox id started.
func (s *Service) MarkIMAPPolled(ctx context.Context, id int64) error {
	return s.imapExec(ctx, id, `UPDATE mailboxes SET last_polled_at = ? WHERE id = ?`, s.now(), id)
}

// SaveIMAPProgress records that every message up to lastUID of the folder with
// uidValidity has been stored and flagged. Within one folder generation the last UID
// only moves forward; a new generation (UIDVALIDITY or settings changed) replaces it.
func (s *Service) SaveIMAPProgress(ctx context.Context, id int64, syncKey string, uidValidity, lastUID int64) error {
	return s.imapExec(ctx, id, `UPDATE mailboxes SET
			imap_last_uid = CASE WHEN imap_uidvalidity = @v AND imap_sync_key = @k
			                     THEN GREATEST(imap_last_uid, @uid) ELSE @uid END,
			imap_uidvalidity = @v,
			imap_sync_key = @k
		WHERE id = @id`,
		map[string]any{"v": uidValidity, "k": syncKey, "uid": lastUID, "id": id})
}

// RecordIMAPSuccess clears the error state after a poll that worked.
func (s *Service) RecordIMAPSuccess(ctx context.Context, id int64) error {
	return s.imapExec(ctx, id, `UPDATE mailboxes SET last_success_at = ?, last_error = '', imap_failures = 0
		WHERE id = ?`, s.now(), id)
}

// RecordIMAPNote shows a problem with single messages in last_error without
// counting it as a failed poll (no backoff).
func (s *Service) RecordIMAPNote(ctx context.Context, id int64, note string) error {
	return s.imapExec(ctx, id, `UPDATE mailboxes SET last_error = ? WHERE id = ?`, note, id)
}

// RecordIMAPFailure makes a failed poll visible on the mailbox and counts it for
// the backoff.
func (s *Service) RecordIMAPFailure(ctx context.Context, id int64, pollErr error) error {
	msg := pollErr.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	return s.imapExec(ctx, id, `UPDATE mailboxes SET last_error = ?, imap_failures = imap_failures + 1
		WHERE id = ?`, msg, id)
}

func (s *Service) imapExec(ctx context.Context, id int64, sql string, args ...any) error {
	err := s.DB.WithContext(ctx).Session(&gorm.Session{}).Exec(sql, args...).Error
	if err != nil {
		return fmt.Errorf("update imap state of mailbox %d: %w", id, err)
	}
	return nil
}
