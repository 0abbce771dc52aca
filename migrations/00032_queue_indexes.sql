-- +goose Up
-- Indexes found wanting by the scale benchmark (1M tickets, EXPLAIN in
-- tickets/testdata/bench_explain.txt).

-- Sidebar counts join unfinished tickets to ticket_reads by id, so id must be in
-- the index for an index-only scan; this replaces tickets_open_counts_idx.
CREATE INDEX tickets_sidebar_idx ON tickets (channel_id)
    INCLUDE (id, activity_seq, assignee_id, due_at, snoozed_until)
    WHERE status IN ('new', 'open', 'pending');
DROP INDEX tickets_open_counts_idx;

-- "Mine": the caller's default queue, in queue order, without reading the
-- assignee's finished history.
CREATE INDEX tickets_mine_queue_idx ON tickets (assignee_id, priority_rank DESC, last_customer_activity_at DESC, id DESC)
    WHERE snoozed_until IS NULL AND status IN ('new', 'open', 'pending');

-- The default queue in other orders across channels, without the finished history.
CREATE INDEX tickets_queue_activity_idx ON tickets (last_activity_at DESC, id DESC)
    WHERE snoozed_until IS NULL AND status IN ('new', 'open', 'pending');
CREATE INDEX tickets_queue_created_idx ON tickets (created_at DESC, id DESC)
    WHERE snoozed_until IS NULL AND status IN ('new', 'open', 'pending');

-- +goose Down
DROP INDEX tickets_queue_created_idx, tickets_queue_activity_idx, tickets_mine_queue_idx, tickets_sidebar_idx;
CREATE INDEX tickets_open_counts_idx ON tickets (channel_id)
    INCLUDE (activity_seq, assignee_id, due_at, snoozed_until)
    WHERE status IN ('new', 'open', 'pending');
