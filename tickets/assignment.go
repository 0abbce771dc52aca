package tickets

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Assignment of new tickets, per channel (channels.assignment_mode):
//   - none: tickets stay unassigned.
//   - default: the channel's default assignee gets every ticket, available or not
//     (the Events channel gives everything to Anna); the cap does not apply.
//   - round_robin: the next available member after the one assigned last, by agent id.
//   - least_open: the available member with the fewest unfinished tickets in the
//     channel (ties: lowest agent id).
//
// Available means agents.status = 'online' and not disabled; away and offline
// members are skipped. With channels.assignment_cap set, members holding that many
// unfinished tickets in the channel are skipped too. When nobody qualifies the
// ticket stays unassigned for the team to pick up.

var lockForUpdate = clause.Locking{Strength: "UPDATE"}

// AssignOpened applies the assignment rules OpenTicket left for later
// (NewTicket.AssignLater) to tickets opened in tx, one channel after another in
// id order, so two transactions opening tickets in the same channels lock them
// in the same order.
func (s *Service) AssignOpened(ctx context.Context, tx *gorm.DB, ts []*Ticket) error {
	pending := make([]*Ticket, 0, len(ts))
	for _, t := range ts {
		if t != nil && t.assignLater != nil {
			pending = append(pending, t)
		}
	}
	slices.SortFunc(pending, func(a, b *Ticket) int { return cmp.Compare(a.ChannelID, b.ChannelID) })
	for _, t := range pending {
		ch := *t.assignLater
		t.assignLater = nil
		if err := s.autoAssign(ctx, tx.WithContext(ctx), t, ch); err != nil {
			return err
		}
	}
	return nil
}

// autoAssign applies the round_robin and least_open modes to new ticket t inside
// tx; the default assignee is set by the insert itself (insertTicket).
//
// Concurrent arrivals in the channel take turns on its row lock, held until the
// commit, so each sees the previous one's choice (round robin position, open
// counts). Between taking the lock and the commit there is one statement
// (assignAgentSQL), two with open counts: every round trip under the lock is
// one that each arrival in the channel waits for. The lock is FOR NO KEY
// UPDATE, not FOR UPDATE: each arrival already holds a key-share lock on the
// row from inserting its ticket, and two of them waiting to turn that into an
// exclusive lock would deadlock.
func (s *Service) autoAssign(ctx context.Context, tx *gorm.DB, t *Ticket, ch Channel) error {
	if ch.AssignmentMode != "round_robin" && ch.AssignmentMode != "least_open" {
		return nil
	}
	// Open counts need the lock in a statement of its own: the next one then reads
	// them with a snapshot taken after the previous holder committed. Plain round
	// robin needs only the position, which assignAgentSQL reads from the row it
	// locks, as the previous holder left it.
	if ch.AssignmentMode == "least_open" || ch.AssignmentCap != nil {
		if err := tx.Exec(`SELECT 1 FROM channels WHERE id = ? FOR NO KEY UPDATE`, t.ChannelID).Error; err != nil {
			return fmt.Errorf("lock channel %d: %w", t.ChannelID, err)
		}
	}
	now := s.now()
	n := Notification{Kind: NotifyAssignment, TicketID: &t.ID, Data: JSONMap{"auto": true, "subject": t.Subject},
		CreatedAt: now}
	var row struct {
		AgentID        int64
		NotificationID int64
		EmailStatus    *string
	}
	res := tx.Raw(assignAgentSQL, sql.Named("channel", t.ChannelID), sql.Named("mode", ch.AssignmentMode),
		sql.Named("cap", ch.AssignmentCap), sql.Named("ticket", t.ID), sql.Named("now", now),
		sql.Named("event", JSONMap{"auto": true, "mode": ch.AssignmentMode}), sql.Named("data", n.Data),
		sql.Named("kind", NotifyAssignment), sql.Named("pending", EmailPending)).Scan(&row)
	if res.Error != nil {
		return fmt.Errorf("assign ticket %d: %w", t.ID, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil // nobody available: the ticket waits for the team
	}
	t.AssigneeID = &row.AgentID
	n.ID, n.AgentID, n.EmailStatus = row.NotificationID, row.AgentID, row.EmailStatus
	s.notified(ctx, n)
	return nil
}

// assignAgentSQL picks the agent for a new ticket under the channel lock and
// records the choice: the ticket's assignee, the channel's round robin position,
// the "assigned" event and the agent's notification (as Notify stores it).
//
// Candidates are the channel's members who are online and not disabled, under
// the cap when the channel has one. Round robin takes the first candidate after
// the agent assigned last (by id), wrapping around; least open the one with the
// fewest unfinished tickets in the channel (ties: lowest id). Unfinished counts
// come from the queue counters (open plus snoozed), a handful of rows per agent,
// not from counting the agents' tickets, thousands each in a busy channel.
const assignAgentSQL = `WITH ch AS (
		SELECT last_assigned_agent_id AS last FROM channels WHERE id = @channel FOR NO KEY UPDATE),
	unfinished AS (
		SELECT assignee_id, sum(open_count + snoozed_count) AS n FROM queue_counts
		WHERE channel_id = @channel AND assignee_id IS NOT NULL
			AND (@mode = 'least_open' OR CAST(@cap AS int) IS NOT NULL)
		GROUP BY assignee_id),
	pick AS (
		SELECT ag.id FROM channel_members cm
		JOIN agents ag ON ag.id = cm.agent_id
		LEFT JOIN unfinished u ON u.assignee_id = ag.id
		CROSS JOIN ch
		WHERE cm.channel_id = @channel AND ag.status = 'online' AND ag.disabled_at IS NULL
			AND (CAST(@cap AS int) IS NULL OR COALESCE(u.n, 0) < CAST(@cap AS int))
		ORDER BY CASE WHEN @mode = 'least_open' THEN COALESCE(u.n, 0) END,
			CASE WHEN @mode = 'round_robin' THEN COALESCE(ag.id <= ch.last, false) END,
			ag.id
		LIMIT 1),
	assigned AS (
		UPDATE tickets SET assignee_id = pick.id, updated_at = @now FROM pick
		WHERE tickets.id = @ticket
		RETURNING pick.id AS agent_id),
	position AS (
		UPDATE channels SET last_assigned_agent_id = assigned.agent_id FROM assigned
		WHERE channels.id = @channel AND @mode = 'round_robin'),
	event AS (
		INSERT INTO ticket_events (ticket_id, kind, old_value, new_value, data, created_at)
		SELECT @ticket, 'assigned', '', assigned.agent_id::text, @event, @now FROM assigned),
	notified AS (
		INSERT INTO notifications (agent_id, kind, ticket_id, data, created_at, email_status)
		SELECT assigned.agent_id, @kind, @ticket, @data, @now,
			(SELECT CAST(@pending AS text) FROM agents WHERE id = assigned.agent_id AND notify_email AND disabled_at IS NULL)
		FROM assigned
		RETURNING agent_id, id, email_status)
	SELECT agent_id, id AS notification_id, email_status FROM notified`
