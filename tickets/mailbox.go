package tickets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Mailbox is an address through which mail enters (and leaves) a channel.
// Passwords are write-only: they never appear in JSON.
type Mailbox struct {
	ID             int64     `json:"id"`
	ChannelID      int64     `json:"channel_id"`
	Address        string    `json:"address"`
	DisplayName    string    `json:"display_name"`
	Inbound        string    `json:"inbound"`
	IMAPHost       string    `json:"imap_host" gorm:"column:imap_host"`
	IMAPPort       int       `json:"imap_port" gorm:"column:imap_port"`
	IMAPSecurity   string    `json:"imap_security" gorm:"column:imap_security"`
	IMAPUsername   string    `json:"imap_username" gorm:"column:imap_username"`
	IMAPPassword   string    `json:"-" gorm:"column:imap_password"`
	IMAPFolder     string    `json:"imap_folder" gorm:"column:imap_folder"`
	IMAPAfter      string    `json:"imap_after" gorm:"column:imap_after"`
	IMAPMoveFolder string    `json:"imap_move_folder" gorm:"column:imap_move_folder"`
	IMAPSentFolder string    `json:"imap_sent_folder" gorm:"column:imap_sent_folder"`
	SMTPHost       string    `json:"smtp_host" gorm:"column:smtp_host"`
	SMTPPort       int       `json:"smtp_port" gorm:"column:smtp_port"`
	SMTPSecurity   string    `json:"smtp_security" gorm:"column:smtp_security"`
	SMTPUsername   string    `json:"smtp_username" gorm:"column:smtp_username"`
	SMTPPassword   string    `json:"-" gorm:"column:smtp_password"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	HasIMAPPasswd  bool      `json:"imap_password_set" gorm:"-"`
	HasSMTPPasswd  bool      `json:"smtp_password_set" gorm:"-"`
	IMAPStatus
}

// AfterFind fills the password-set flags so clients know a secret exists.
func (m *Mailbox) AfterFind(*gorm.DB) error {
	m.HasIMAPPasswd = m.IMAPPassword != ""
	m.HasSMTPPasswd = m.SMTPPassword != ""
	return nil
}

// MailboxInput is the writable part of a mailbox; nil fields are left unchanged.
type MailboxInput struct {
	Address        *string
	DisplayName    *string
	Inbound        *string
	IMAPHost       *string
	IMAPPort       *int
	IMAPSecurity   *string
	IMAPUsername   *string
	IMAPPassword   *string
	IMAPFolder     *string
	IMAPAfter      *string
	IMAPMoveFolder *string
	IMAPSentFolder *string
	SMTPHost       *string
	SMTPPort       *int
	SMTPSecurity   *string
	SMTPUsername   *string
	SMTPPassword   *string
}

func setStr(dst *string, src *string, field string, max int, v *Validator) {
	if src != nil {
		*dst = strings.TrimSpace(*src)
	}
	v.MaxLen(*dst, max, field)
}

var securities = map[string]bool{"tls": true, "starttls": true, "plain": true}

func (in *MailboxInput) apply(m *Mailbox, v *Validator) {
	if in.Address != nil {
		addr, err := normaliseEmail(*in.Address)
		if err != nil {
			v.Add("address", err.Error())
		}
		m.Address = addr
	}
	v.Check(m.Address != "", "address", "is required")
	setStr(&m.DisplayName, in.DisplayName, "display_name", 200, v)
	setStr(&m.Inbound, in.Inbound, "inbound", 10, v)
	v.Check(m.Inbound == "smtp" || m.Inbound == "imap", "inbound", "must be smtp or imap")
	setStr(&m.IMAPHost, in.IMAPHost, "imap_host", 255, v)
	if in.IMAPPort != nil {
		m.IMAPPort = *in.IMAPPort
	}
	v.Check(m.IMAPPort >= 0 && m.IMAPPort <= 65535, "imap_port", "must be a port number")
	setStr(&m.IMAPSecurity, in.IMAPSecurity, "imap_security", 10, v)
	v.Check(securities[m.IMAPSecurity], "imap_security", "must be tls, starttls or plain")
	setStr(&m.IMAPUsername, in.IMAPUsername, "imap_username", 255, v)
	if in.IMAPPassword != nil {
		m.IMAPPassword = *in.IMAPPassword
	}
	v.MaxLen(m.IMAPPassword, 1024, "imap_password")
	setStr(&m.IMAPFolder, in.IMAPFolder, "imap_folder", 255, v)
	if m.IMAPFolder == "" {
		m.IMAPFolder = "INBOX"
	}
	setStr(&m.IMAPAfter, in.IMAPAfter, "imap_after", 10, v)
	v.Check(m.IMAPAfter == "seen" || m.IMAPAfter == "move", "imap_after", "must be seen or move")
	setStr(&m.IMAPMoveFolder, in.IMAPMoveFolder, "imap_move_folder", 255, v)
	v.Check(m.IMAPAfter != "move" || m.IMAPMoveFolder != "", "imap_move_folder", "is required when imap_after is move")
	setStr(&m.IMAPSentFolder, in.IMAPSentFolder, "imap_sent_folder", 255, v)
	if m.Inbound == "imap" {
		v.Check(m.IMAPHost != "", "imap_host", "is required for IMAP mailboxes")
		v.Check(m.IMAPUsername != "", "imap_username", "is required for IMAP mailboxes")
	}
	setStr(&m.SMTPHost, in.SMTPHost, "smtp_host", 255, v)
	if in.SMTPPort != nil {
		m.SMTPPort = *in.SMTPPort
	}
	v.Check(m.SMTPPort >= 0 && m.SMTPPort <= 65535, "smtp_port", "must be a port number")
	setStr(&m.SMTPSecurity, in.SMTPSecurity, "smtp_security", 10, v)
	v.Check(securities[m.SMTPSecurity], "smtp_security", "must be tls, starttls or plain")
	setStr(&m.SMTPUsername, in.SMTPUsername, "smtp_username", 255, v)
	if in.SMTPPassword != nil {
		m.SMTPPassword = *in.SMTPPassword
	}
	v.MaxLen(m.SMTPPassword, 1024, "smtp_password")
}

// Mailboxes lists a channel's mailboxes.
func (s *Service) Mailboxes(ctx context.Context, a *Agent, channelID int64) ([]Mailbox, error) {
	if err := s.CanSeeChannel(ctx, a, channelID); err != nil {
		return nil, err
	}
	var out []Mailbox
	err := s.DB.WithContext(ctx).Where("channel_id = ?", channelID).Order("id").Find(&out).Error
	return out, err
}

// Mailbox returns one mailbox of a channel agent a may see.
func (s *Service) Mailbox(ctx context.Context, a *Agent, channelID, id int64) (*Mailbox, error) {
	if err := s.CanSeeChannel(ctx, a, channelID); err != nil {
		return nil, err
	}
	var m Mailbox
	if err := s.DB.WithContext(ctx).Where("channel_id = ? AND id = ?", channelID, id).Take(&m).Error; err != nil {
		return nil, notFound(err, "mailbox %d", id)
	}
	return &m, nil
}

// MailboxByID returns a mailbox without an access check, for background work.
func (s *Service) MailboxByID(ctx context.Context, id int64) (*Mailbox, error) {
	var m Mailbox
	if err := s.DB.WithContext(ctx).Take(&m, id).Error; err != nil {
		return nil, notFound(err, "mailbox %d", id)
	}
	return &m, nil
}

// CreateMailbox adds a mailbox to a channel (admins only).
func (s *Service) CreateMailbox(ctx context.Context, a *Agent, channelID int64, in MailboxInput) (*Mailbox, error) {
	if err := s.CanManageChannel(ctx, a, channelID); err != nil {
		return nil, err
	}
	m := &Mailbox{ChannelID: channelID, Inbound: "smtp", IMAPPort: 993, IMAPSecurity: "tls", IMAPFolder: "INBOX",
		IMAPAfter: "seen", SMTPPort: 587, SMTPSecurity: "starttls"}
	var v Validator
	in.apply(m, &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.DB.WithContext(ctx).Create(m).Error; err != nil {
		return nil, mailboxWriteError(err)
	}
	m.AfterFind(nil)
	return m, nil
}

// UpdateMailbox changes a mailbox (admins only).
func (s *Service) UpdateMailbox(ctx context.Context, a *Agent, channelID, id int64, in MailboxInput) (*Mailbox, error) {
	if err := s.CanManageChannel(ctx, a, channelID); err != nil {
		return nil, err
	}
	var m Mailbox
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Set("gorm:query_option", "FOR UPDATE").Where("channel_id = ? AND id = ?", channelID, id).Take(&m).Error; err != nil {
			return notFound(err, "mailbox %d", id)
		}
		var v Validator
		in.apply(&m, &v)
		if err := v.Err(); err != nil {
			return err
		}
		m.UpdatedAt = s.now()
		return mailboxWriteError(tx.Save(&m).Error)
	})
	if err != nil {
		return nil, err
	}
	m.AfterFind(nil)
	return &m, nil
}

// DeleteMailbox removes a mailbox (admins only). Tickets and messages keep their
// history; their mailbox reference is cleared.
func (s *Service) DeleteMailbox(ctx context.Context, a *Agent, channelID, id int64) error {
	if err := s.CanManageChannel(ctx, a, channelID); err != nil {
		return err
	}
	res := s.DB.WithContext(ctx).Where("channel_id = ? AND id = ?", channelID, id).Delete(&Mailbox{})
	if res.Error != nil {
		return fmt.Errorf("delete mailbox %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

func mailboxWriteError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return Invalid("address", "another mailbox already uses this address")
	}
	return fmt.Errorf("write mailbox: %w", err)
}
