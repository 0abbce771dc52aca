package tickets

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// Sidebar counts come from counters, not from counting tickets on every request
// (migrations/00050_queue_counts.sql): triggers on tickets and ticket_reads insert
// a delta row into queue_counts (per channel and assignee: open, open with an
// arrival, snoozed) and unread_adjustments (per agent and channel) for every change
// that moves a count, in the transaction that makes the change. Unread for an agent
// is the channel's open tickets with an arrival plus the agent's adjustments (minus
// the ones they have read since, plus tickets without arrivals marked unread).
// Overdue depends on the clock, so it is counted, from tickets_overdue_idx.

// compactAbove is how many delta rows a sidebar may sum before it folds the
// counters into one row per key.
const compactAbove = 2000

// Sidebar returns the view counts and, per channel agent a may see, the tickets in
// its default queue and how many of those are unread for a (channels with none are
// absent). It reads a few rows per channel, however many tickets there are.
func (s *Service) Sidebar(ctx context.Context, a *Agent) (*ViewCounts, map[int64]ChannelCount, error) {
	scope, scopeArgs := ChannelScopeSQL(a, "channel_id")
	var rows []struct {
		ChannelID  int64
		Open       int64
		Unread     int64
		Mine       int64
		Unassigned int64
		Snoozed    int64
		Overdue    int64
		DeltaRows  int64
	}
	args := []any{a.ID}
	args = append(args, scopeArgs...)
	args = append(args, a.ID, s.now())
	args = append(args, scopeArgs...)
	err := s.DB.WithContext(ctx).Raw(`SELECT q.channel_id, q.open, q.active + COALESCE(u.delta, 0) AS unread, q.mine,
       q.unassigned, q.snoozed, COALESCE(o.overdue, 0) AS overdue, q.n + COALESCE(u.n, 0) AS delta_rows
FROM (SELECT channel_id,
             sum(open_count) AS open,
             sum(active_count) AS active,
             COALESCE(sum(open_count) FILTER (WHERE assignee_id = ?), 0) AS mine,
             COALESCE(sum(open_count) FILTER (WHERE assignee_id IS NULL), 0) AS unassigned,
             sum(snoozed_count) AS snoozed,
             count(*) AS n
        FROM queue_counts
       WHERE `+scope+`
       GROUP BY channel_id) q
LEFT JOIN (SELECT channel_id, sum(delta) AS delta, count(*) AS n
             FROM unread_adjustments WHERE agent_id = ? GROUP BY channel_id) u ON u.channel_id = q.channel_id
LEFT JOIN (SELECT channel_id, count(*) AS overdue
             FROM tickets
            WHERE due_at < ? AND snoozed_until IS NULL AND status IN ('new', 'open', 'pending') AND `+scope+`
            GROUP BY channel_id) o ON o.channel_id = q.channel_id`, args...).Scan(&rows).Error
	if err != nil {
		return nil, nil, fmt.Errorf("sidebar counts: %w", err)
	}
	v := &ViewCounts{}
	chans := make(map[int64]ChannelCount, len(rows))
	var deltaRows int64
	for _, r := range rows {
		v.Mine += r.Mine
		v.Unassigned += r.Unassigned
		v.AllOpen += r.Open
		v.Unread += r.Unread
		v.Snoozed += r.Snoozed
		v.Overdue += r.Overdue
		if r.Open > 0 {
			chans[r.ChannelID] = ChannelCount{ChannelID: r.ChannelID, OpenCount: r.Open, UnreadCount: r.Unread}
		}
		deltaRows += r.DeltaRows
	}
	if deltaRows > compactAbove {
		if err := s.compactQueueCounts(ctx); err != nil {
			return nil, nil, err
		}
	}
	return v, chans, nil
}

// compactQueueCounts folds the counters' delta rows into one row per key (rows
// summing to zero go). Triggers keep inserting meanwhile: rows they add after the
// DELETE's snapshot stay as they are. A second compaction running at the same time
// would only wait for this one, so it steps aside instead.
func (s *Service) compactQueueCounts(ctx context.Context) error {
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var got bool
		if err := tx.Raw(`SELECT pg_try_advisory_xact_lock(hashtext('queue_counts_compact'))`).Scan(&got).Error; err != nil || !got {
			return err
		}
		err := tx.Exec(`WITH gone AS (DELETE FROM queue_counts RETURNING *)
INSERT INTO queue_counts (channel_id, assignee_id, open_count, active_count, snoozed_count)
SELECT channel_id, assignee_id, sum(open_count), sum(active_count), sum(snoozed_count)
  FROM gone
 GROUP BY channel_id, assignee_id
HAVING sum(open_count) <> 0 OR sum(active_count) <> 0 OR sum(snoozed_count) <> 0`).Error
		if err != nil {
			return err
		}
		return tx.Exec(`WITH gone AS (DELETE FROM unread_adjustments RETURNING *)
INSERT INTO unread_adjustments (agent_id, channel_id, delta)
SELECT agent_id, channel_id, sum(delta) FROM gone GROUP BY agent_id, channel_id HAVING sum(delta) <> 0`).Error
	})
	if err != nil {
		return fmt.Errorf("compact queue counts: %w", err)
	}
	return nil
}
