package tickets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Channel kinds.
const (
	ChannelEmail = "email"
	ChannelChat  = "chat"
	ChannelTasks = "tasks"
)

// Member roles within a channel.
const (
	MemberRole      = "member"
	ResponsibleRole = "responsible"
)

// Channel is a queue with its own members, default assignee and sources.
type Channel struct {
	ID                 int64     `json:"id"`
	Name               string    `json:"name"`
	Kind               string    `json:"kind"`
	DefaultAssigneeID  *int64    `json:"default_assignee_id"`
	AssignmentMode     string    `json:"assignment_mode"`
	AssignmentCap      *int      `json:"assignment_cap"`
	FromNameFormat     string    `json:"from_name_format"`
	Signature          string    `json:"signature"`
	SubjectTag         bool      `json:"subject_tag"`
	ReadTracking       bool      `json:"read_tracking"`
	MaxAttachmentBytes int64     `json:"max_attachment_bytes"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
}

// ChannelMember is an agent's membership of a channel.
type ChannelMember struct {
	ChannelID int64     `json:"channel_id" gorm:"primaryKey"`
	AgentID   int64     `json:"agent_id" gorm:"primaryKey"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// ChannelInput is the writable part of a channel; nil fields are left unchanged on update.
type ChannelInput struct {
	Name               *string
	Kind               *string
	DefaultAssigneeID  **int64
	AssignmentMode     *string
	AssignmentCap      **int
	FromNameFormat     *string
	Signature          *string
	SubjectTag         *bool
	ReadTracking       *bool
	MaxAttachmentBytes *int64
	// Members replaces the member list when not nil.
	Members *[]ChannelMember
}

var assignmentModes = map[string]bool{"none": true, "default": true, "round_robin": true, "least_open": true}

func (in *ChannelInput) apply(c *Channel, v *Validator) {
	if in.Name != nil {
		c.Name = strings.TrimSpace(*in.Name)
	}
	v.Check(c.Name != "", "name", "is required")
	v.MaxLen(c.Name, 200, "name")
	if in.Kind != nil {
		c.Kind = *in.Kind
	}
	v.Check(c.Kind == ChannelEmail || c.Kind == ChannelChat || c.Kind == ChannelTasks, "kind", "must be email, chat or tasks")
	if in.DefaultAssigneeID != nil {
		c.DefaultAssigneeID = *in.DefaultAssigneeID
	}
	if in.AssignmentMode != nil {
		c.AssignmentMode = *in.AssignmentMode
	}
	v.Check(assignmentModes[c.AssignmentMode], "assignment_mode", "must be none, default, round_robin or least_open")
	if in.AssignmentCap != nil {
		c.AssignmentCap = *in.AssignmentCap
	}
	v.Check(c.AssignmentCap == nil || *c.AssignmentCap > 0, "assignment_cap", "must be positive")
	if in.FromNameFormat != nil {
		c.FromNameFormat = *in.FromNameFormat
	}
	v.MaxLen(c.FromNameFormat, 200, "from_name_format")
	if in.Signature != nil {
		c.Signature = *in.Signature
	}
	v.MaxLen(c.Signature, 10000, "signature")
	if in.SubjectTag != nil {
		c.SubjectTag = *in.SubjectTag
	}
	if in.ReadTracking != nil {
		c.ReadTracking = *in.ReadTracking
	}
	if in.MaxAttachmentBytes != nil {
		c.MaxAttachmentBytes = *in.MaxAttachmentBytes
	}
	v.Check(c.MaxAttachmentBytes > 0, "max_attachment_bytes", "must be positive")
	if in.Members != nil {
		for i, m := range *in.Members {
			if m.Role == "" {
				(*in.Members)[i].Role = MemberRole
				m.Role = MemberRole
			}
			v.Check(m.Role == MemberRole || m.Role == ResponsibleRole, fmt.Sprintf("members[%d].role", i), "must be member or responsible")
			v.Check(m.AgentID > 0, fmt.Sprintf("members[%d].agent_id", i), "is required")
		}
	}
}

// Channels lists the channels agent a may see.
func (s *Service) Channels(ctx context.Context, a *Agent) ([]Channel, error) {
	var out []Channel
	err := s.DB.WithContext(ctx).Scopes(ChannelScope(a, "channels.id")).Order("name, id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	return out, nil
}

// Channel returns one channel agent a may see.
func (s *Service) Channel(ctx context.Context, a *Agent, id int64) (*Channel, error) {
	var c Channel
	err := s.DB.WithContext(ctx).Scopes(ChannelScope(a, "channels.id")).Where("id = ?", id).Take(&c).Error
	if err != nil {
		return nil, notFound(err, "channel %d", id)
	}
	return &c, nil
}

// ChannelByID returns a channel without an access check, for background work.
func (s *Service) ChannelByID(ctx context.Context, id int64) (*Channel, error) {
	var c Channel
	if err := s.DB.WithContext(ctx).Take(&c, id).Error; err != nil {
		return nil, notFound(err, "channel %d", id)
	}
	return &c, nil
}

// Members lists a channel's members.
func (s *Service) Members(ctx context.Context, channelID int64) ([]ChannelMember, error) {
	var out []ChannelMember
	err := s.DB.WithContext(ctx).Where("channel_id = ?", channelID).Order("agent_id").Find(&out).Error
	return out, err
}

// IsMember reports whether agent agentID belongs to the channel.
func (s *Service) IsMember(ctx context.Context, channelID, agentID int64) (bool, error) {
	var n int64
	err := s.DB.WithContext(ctx).Model(&ChannelMember{}).Where("channel_id = ? AND agent_id = ?", channelID, agentID).Count(&n).Error
	return n > 0, err
}

// CreateChannel creates a channel (admins only) with its members.
func (s *Service) CreateChannel(ctx context.Context, a *Agent, in ChannelInput) (*Channel, error) {
	if !a.IsAdmin() {
		return nil, ErrForbidden
	}
	c := &Channel{AssignmentMode: "default", FromNameFormat: "{agent} from {channel}", SubjectTag: true,
		ReadTracking: true, MaxAttachmentBytes: 25 << 20}
	var v Validator
	in.apply(c, &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(c).Error; err != nil {
			return channelWriteError(err)
		}
		return s.writeMembers(tx, c, in.Members)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// UpdateChannel changes a channel's settings (admins only).
func (s *Service) UpdateChannel(ctx context.Context, a *Agent, id int64, in ChannelInput) (*Channel, error) {
	if err := s.CanManageChannel(ctx, a, id); err != nil {
		return nil, err
	}
	var c Channel
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Set("gorm:query_option", "FOR UPDATE").Take(&c, id).Error; err != nil {
			return notFound(err, "channel %d", id)
		}
		var v Validator
		in.apply(&c, &v)
		if err := v.Err(); err != nil {
			return err
		}
		c.UpdatedAt = s.now()
		if err := tx.Save(&c).Error; err != nil {
			return channelWriteError(err)
		}
		return s.writeMembers(tx, &c, in.Members)
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// DeleteChannel removes a channel that holds no tickets (admins only).
func (s *Service) DeleteChannel(ctx context.Context, a *Agent, id int64) error {
	if err := s.CanManageChannel(ctx, a, id); err != nil {
		return err
	}
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&Ticket{}).Where("channel_id = ?", id).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return &ValidationError{Message: "channel still holds tickets",
				Fields: map[string]string{"id": fmt.Sprintf("channel holds %d tickets; move or delete them first", n)}}
		}
		for _, q := range []string{
			"DELETE FROM mailboxes WHERE channel_id = ?",
			"DELETE FROM messenger_connections WHERE channel_id = ?",
			"DELETE FROM channels WHERE id = ?",
		} {
			if err := tx.Exec(q, id).Error; err != nil {
				return fmt.Errorf("delete channel %d: %w", id, err)
			}
		}
		return nil
	})
}

// SetMember adds an agent to a channel or changes their role (admins only).
func (s *Service) SetMember(ctx context.Context, a *Agent, channelID, agentID int64, role string) error {
	if err := s.CanManageChannel(ctx, a, channelID); err != nil {
		return err
	}
	if role == "" {
		role = MemberRole
	}
	if role != MemberRole && role != ResponsibleRole {
		return Invalid("role", "must be member or responsible")
	}
	if _, err := s.Agent(ctx, agentID); err != nil {
		if errors.Is(err, ErrNotFound) {
			return Invalid("agent_id", "no such agent")
		}
		return err
	}
	return s.DB.WithContext(ctx).Exec(`INSERT INTO channel_members (channel_id, agent_id, role) VALUES (?, ?, ?)
		ON CONFLICT (channel_id, agent_id) DO UPDATE SET role = EXCLUDED.role`, channelID, agentID, role).Error
}

// RemoveMember takes an agent out of a channel (admins only).
func (s *Service) RemoveMember(ctx context.Context, a *Agent, channelID, agentID int64) error {
	if err := s.CanManageChannel(ctx, a, channelID); err != nil {
		return err
	}
	res := s.DB.WithContext(ctx).Where("channel_id = ? AND agent_id = ?", channelID, agentID).Delete(&ChannelMember{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *Service) writeMembers(tx *gorm.DB, c *Channel, members *[]ChannelMember) error {
	if members != nil {
		if err := tx.Where("channel_id = ?", c.ID).Delete(&ChannelMember{}).Error; err != nil {
			return err
		}
		for i, m := range *members {
			m.ChannelID = c.ID
			if err := tx.Create(&m).Error; err != nil {
				if errors.Is(err, gorm.ErrForeignKeyViolated) {
					return Invalid(fmt.Sprintf("members[%d].agent_id", i), "no such agent")
				}
				if errors.Is(err, gorm.ErrDuplicatedKey) {
					return Invalid(fmt.Sprintf("members[%d].agent_id", i), "listed twice")
				}
				return err
			}
		}
	}
	// The default assignee must be able to see the channel's tickets.
	if c.DefaultAssigneeID != nil {
		var n int64
		if err := tx.Model(&ChannelMember{}).Where("channel_id = ? AND agent_id = ?", c.ID, *c.DefaultAssigneeID).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return Invalid("default_assignee_id", "must be a member of the channel")
		}
	}
	return nil
}

func channelWriteError(err error) error {
	switch {
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return Invalid("name", "a channel with this name exists")
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return Invalid("default_assignee_id", "no such agent")
	}
	return fmt.Errorf("write channel: %w", err)
}

// MembersOf returns the members of several channels in one query, keyed by channel.
func (s *Service) MembersOf(ctx context.Context, channelIDs []int64) (map[int64][]ChannelMember, error) {
	out := make(map[int64][]ChannelMember, len(channelIDs))
	if len(channelIDs) == 0 {
		return out, nil
	}
	var ms []ChannelMember
	if err := s.DB.WithContext(ctx).Where("channel_id IN ?", channelIDs).Order("channel_id, agent_id").Find(&ms).Error; err != nil {
		return nil, fmt.Errorf("channel members: %w", err)
	}
	for _, m := range ms {
		out[m.ChannelID] = append(out[m.ChannelID], m)
	}
	return out, nil
}
