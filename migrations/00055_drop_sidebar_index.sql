-- +goose Up
-- The sidebar reads its counts from queue_counts (migration 00050) and no longer
-- scans unfinished tickets, so the index built for that scan only cost every
-- ticket insert and update one more index entry.
DROP INDEX tickets_sidebar_idx;

-- +goose Down
CREATE INDEX tickets_sidebar_idx ON tickets (channel_id)
    INCLUDE (id, activity_seq, assignee_id, due_at, snoozed_until)
    WHERE status IN ('new', 'open', 'pending');
