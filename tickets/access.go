package tickets

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// Access control lives here and only here. Every query for channel-scoped data goes
// through one of these scopes or checks; an agent outside a channel gets ErrNotFound,
// never ErrForbidden, so ids of other channels' tickets leak nothing.

// memberChannels is the sub-select of channel ids an agent belongs to.
const memberChannels = "SELECT channel_id FROM channel_members WHERE agent_id = ?"

// ChannelScope restricts a query whose table has a channel_id column (named by
// column, e.g. "tickets.channel_id") to the channels agent a may see.
func ChannelScope(a *Agent, column string) func(*gorm.DB) *gorm.DB {
	return func(db *gorm.DB) *gorm.DB {
		if a.IsAdmin() {
			return db
		}
		if a == nil {
			return db.Where("false")
		}
		return db.Where(column+" IN ("+memberChannels+")", a.ID)
	}
}

// VisibleChannelIDs returns the ids of channels agent a may see.
func (s *Service) VisibleChannelIDs(ctx context.Context, a *Agent) ([]int64, error) {
	var ids []int64
	q := s.DB.WithContext(ctx).Model(&Channel{})
	if !a.IsAdmin() {
		q = q.Where("id IN ("+memberChannels+")", a.ID)
	}
	if err := q.Order("id").Pluck("id", &ids).Error; err != nil {
		return nil, fmt.Errorf("visible channels: %w", err)
	}
	return ids, nil
}

// CanSeeChannel returns ErrNotFound unless agent a may see the channel.
func (s *Service) CanSeeChannel(ctx context.Context, a *Agent, channelID int64) error {
	var n int64
	q := s.DB.WithContext(ctx).Model(&Channel{}).Where("id = ?", channelID)
	if !a.IsAdmin() {
		q = q.Where("id IN ("+memberChannels+")", a.ID)
	}
	if err := q.Count(&n).Error; err != nil {
		return fmt.Errorf("channel access: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// CanManageChannel returns ErrNotFound for channels a cannot see and ErrForbidden
// for channels a can see but may not configure (only admins change settings).
func (s *Service) CanManageChannel(ctx context.Context, a *Agent, channelID int64) error {
	if err := s.CanSeeChannel(ctx, a, channelID); err != nil {
		return err
	}
	if !a.IsAdmin() {
		return ErrForbidden
	}
	return nil
}

// VisibleTicket loads a ticket agent a may see, or returns ErrNotFound.
func (s *Service) VisibleTicket(ctx context.Context, a *Agent, ticketID int64) (*Ticket, error) {
	var t Ticket
	err := s.DB.WithContext(ctx).Scopes(ChannelScope(a, "tickets.channel_id")).Where("tickets.id = ?", ticketID).Take(&t).Error
	if err != nil {
		return nil, notFound(err, "ticket %d", ticketID)
	}
	return &t, nil
}

// VisibleMessage loads a message agent a may see, or returns ErrNotFound.
func (s *Service) VisibleMessage(ctx context.Context, a *Agent, messageID int64) (*Message, error) {
	var m Message
	err := s.DB.WithContext(ctx).Scopes(ChannelScope(a, "messages.channel_id")).Where("messages.id = ?", messageID).Take(&m).Error
	if err != nil {
		return nil, notFound(err, "message %d", messageID)
	}
	return &m, nil
}

// ChannelScopeSQL is ChannelScope for hand-written SQL: a condition on column (e.g.
// "t.channel_id") and its arguments, for the hot listing and counting queries.
func ChannelScopeSQL(a *Agent, column string) (string, []any) {
	switch {
	case a.IsAdmin():
		return "true", nil
	case a == nil:
		return "false", nil
	}
	return column + " IN (" + memberChannels + ")", []any{a.ID}
}
