package tickets

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// Read state per agent.
//
// A ticket counts arrivals in tickets.activity_seq: AddInboundMessage bumps it in
// the same UPDATE that moves last_activity_at, under the ticket's row lock, so it only
// ever grows and every committed message is counted. An agent's ticket_reads row
// keeps seen_seq, the counter they have seen. A ticket is unread for them when
// activity_seq > COALESCE(seen_seq, 0): tickets no customer ever wrote on (a task an
// agent created) start read, and a message that commits while someone is reading
// leaves the ticket unread because the reader stored the counter from before it.
//
// Opening a ticket (GET /api/v1/tickets/{id}) marks it read, as in Help Scout; the
// API can mark it unread again.

// unreadSQL is the condition "t is unread for the agent joined as r".
const unreadSQL = "t.activity_seq > COALESCE(r.seen_seq, 0)"

// MarkRead records that agent a has seen ticket ticketID as it is now.
func (s *Service) MarkRead(ctx context.Context, a *Agent, ticketID int64) error {
	if _, err := s.VisibleTicket(ctx, a, ticketID); err != nil {
		return err
	}
	var seq int64
	if err := s.DB.WithContext(ctx).Raw(`SELECT activity_seq FROM tickets WHERE id = ?`, ticketID).Scan(&seq).Error; err != nil {
		return fmt.Errorf("ticket %d activity: %w", ticketID, err)
	}
	return s.markSeen(s.DB.WithContext(ctx), a.ID, ticketID, seq)
}

// markSeen stores seq as what agentID has seen of the ticket. It never moves
// backwards, so a slow request carrying an older snapshot cannot undo a newer read.
func (s *Service) markSeen(tx *gorm.DB, agentID, ticketID, seq int64) error {
	err := tx.Exec(`INSERT INTO ticket_reads (ticket_id, agent_id, read_at, seen_seq) VALUES (?, ?, ?, ?)
		ON CONFLICT (agent_id, ticket_id)
		DO UPDATE SET read_at = EXCLUDED.read_at, seen_seq = GREATEST(ticket_reads.seen_seq, EXCLUDED.seen_seq)`,
		ticketID, agentID, s.now(), seq).Error
	if err != nil {
		return fmt.Errorf("mark ticket %d read: %w", ticketID, err)
	}
	return nil
}

// MarkUnread makes ticket ticketID unread for agent a until they open it again.
func (s *Service) MarkUnread(ctx context.Context, a *Agent, ticketID int64) error {
	if _, err := s.VisibleTicket(ctx, a, ticketID); err != nil {
		return err
	}
	// -1 is below every activity_seq, even 0 of a ticket nobody wrote on.
	err := s.DB.WithContext(ctx).Exec(`INSERT INTO ticket_reads (ticket_id, agent_id, read_at, seen_seq) VALUES (?, ?, ?, -1)
		ON CONFLICT (agent_id, ticket_id) DO UPDATE SET read_at = EXCLUDED.read_at, seen_seq = -1`,
		ticketID, a.ID, s.now()).Error
	if err != nil {
		return fmt.Errorf("mark ticket %d unread: %w", ticketID, err)
	}
	return nil
}

// ChannelCount is a channel's line in the sidebar.
type ChannelCount struct {
	ChannelID   int64 `json:"channel_id"`
	OpenCount   int64 `json:"open_count"`
	UnreadCount int64 `json:"unread_count"`
}

// ViewCounts are the sidebar's saved views over every channel the agent sees. All
// but snoozed count the default queue (unfinished, not snoozed).
type ViewCounts struct {
	Mine       int64 `json:"mine"`
	Unassigned int64 `json:"unassigned"`
	AllOpen    int64 `json:"all_open"`
	Unread     int64 `json:"unread"`
	Snoozed    int64 `json:"snoozed"`
	Overdue    int64 `json:"overdue"`
}

// ChannelCounts is the per-channel part of Sidebar.
func (s *Service) ChannelCounts(ctx context.Context, a *Agent) (map[int64]ChannelCount, error) {
	_, chans, err := s.Sidebar(ctx, a)
	return chans, err
}
