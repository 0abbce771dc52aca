package tickets

import (
	"context"
	"fmt"

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

// lockNoKeyUpdate locks a row against other writers without blocking inserts
// that reference it: a foreign key check takes FOR KEY SHARE, which only FOR
// UPDATE conflicts with.
var lockNoKeyUpdate = clause.Locking{Strength: "NO KEY UPDATE"}

// autoAssign applies the round_robin and least_open modes to new ticket t inside
// tx; the default assignee is set by the insert itself (insertTicket).
func (s *Service) autoAssign(ctx context.Context, tx *gorm.DB, t *Ticket, ch Channel) error {
	var pick *int64
	switch ch.AssignmentMode {
	case "round_robin", "least_open":
		// Lock the channel row so concurrent arrivals take turns: each sees the
		// previous one's choice (round robin position, open counts for the cap).
		// NO KEY UPDATE, not UPDATE: every arrival already holds a key-share lock
		// on the row from inserting its ticket, and two of them each waiting to
		// turn that into an exclusive lock would deadlock.
		if err := tx.Clauses(lockNoKeyUpdate).Take(&ch, t.ChannelID).Error; err != nil {
			return fmt.Errorf("lock channel %d: %w", t.ChannelID, err)
		}
		var err error
		if pick, err = pickAvailable(tx, &ch); err != nil {
			return err
		}
	}
	if pick == nil {
		return nil
	}
	if err := tx.Model(&Ticket{}).Where("id = ?", t.ID).Update("assignee_id", *pick).Error; err != nil {
		return fmt.Errorf("assign ticket %d: %w", t.ID, err)
	}
	if ch.AssignmentMode == "round_robin" {
		if err := tx.Exec(`UPDATE channels SET last_assigned_agent_id = ? WHERE id = ?`, *pick, ch.ID).Error; err != nil {
			return fmt.Errorf("round robin position of channel %d: %w", ch.ID, err)
		}
	}
	t.AssigneeID = pick
	if err := RecordEvent(tx, t.ID, nil, "assigned", "", idString(pick), JSONMap{"auto": true, "mode": ch.AssignmentMode}); err != nil {
		return err
	}
	return s.Notify(ctx, tx, Notification{AgentID: *pick, Kind: NotifyAssignment, TicketID: &t.ID,
		Data: JSONMap{"auto": true, "subject": t.Subject}})
}

// pickAvailable chooses among available members for round_robin and least_open.
func pickAvailable(tx *gorm.DB, ch *Channel) (*int64, error) {
	var cands []struct {
		ID        int64
		OpenCount int64
	}
	err := tx.Raw(`SELECT ag.id,
       (SELECT count(*) FROM tickets o
         WHERE o.assignee_id = ag.id AND o.channel_id = cm.channel_id
           AND o.status IN ('new', 'open', 'pending')) AS open_count
FROM channel_members cm
JOIN agents ag ON ag.id = cm.agent_id
WHERE cm.channel_id = ? AND ag.status = 'online' AND ag.disabled_at IS NULL
ORDER BY ag.id`, ch.ID).Scan(&cands).Error
	if err != nil {
		return nil, fmt.Errorf("assignment candidates of channel %d: %w", ch.ID, err)
	}
	var last *int64
	if err := tx.Raw(`SELECT last_assigned_agent_id FROM channels WHERE id = ?`, ch.ID).Scan(&last).Error; err != nil {
		return nil, fmt.Errorf("round robin position of channel %d: %w", ch.ID, err)
	}
	var pick *int64
	for i := range cands {
		c := &cands[i]
		if ch.AssignmentCap != nil && c.OpenCount >= int64(*ch.AssignmentCap) {
			continue
		}
		switch ch.AssignmentMode {
		case "least_open":
			if pick == nil || c.OpenCount < openOf(cands, *pick) {
				pick = &c.ID
			}
		case "round_robin":
			// The first eligible after the last one assigned; else wrap to the first eligible.
			if pick == nil || (last != nil && *pick <= *last && c.ID > *last) {
				pick = &c.ID
			}
		}
	}
	return pick, nil
}

func openOf(cands []struct {
	ID        int64
	OpenCount int64
}, id int64) int64 {
	for _, c := range cands {
		if c.ID == id {
			return c.OpenCount
		}
	}
	return 0
}
