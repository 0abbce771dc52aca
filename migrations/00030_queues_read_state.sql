-- +goose Up
-- Queues, read state and assignment state for the ticket workflow.

-- activity_seq counts arrivals on a ticket (bumped in the same UPDATE that stores an
-- inbound message, under the row lock), and ticket_reads.seen_seq is the value the
-- agent saw when they opened it. Comparing counters instead of timestamps keeps
-- unread state right when an arrival commits after a reader took its snapshot:
-- the reader stored the older counter, so the ticket turns unread on commit.
ALTER TABLE tickets ADD COLUMN activity_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE ticket_reads ADD COLUMN seen_seq bigint NOT NULL DEFAULT 0;

-- Round robin remembers whom a channel assigned last.
ALTER TABLE channels ADD COLUMN last_assigned_agent_id bigint REFERENCES agents (id) ON DELETE SET NULL;

-- The default queue across several channels ("all open" for an agent in most
-- channels): walk this index in order and filter by channel.
CREATE INDEX tickets_queue_all_idx ON tickets (priority_rank DESC, last_customer_activity_at DESC, id DESC)
    WHERE snoozed_until IS NULL AND status IN ('new', 'open', 'pending');

-- Sidebar counts (open, unread, mine, unassigned, snoozed, overdue) read only
-- unfinished tickets; the INCLUDE columns make them index-only scans.
CREATE INDEX tickets_open_counts_idx ON tickets (channel_id)
    INCLUDE (activity_seq, assignee_id, due_at, snoozed_until)
    WHERE status IN ('new', 'open', 'pending');

-- Unread checks join ticket_reads by (agent, ticket) and need seen_seq.
CREATE INDEX ticket_reads_seen_idx ON ticket_reads (agent_id, ticket_id) INCLUDE (seen_seq);

-- Other orderings of listings.
CREATE INDEX tickets_channel_activity_idx ON tickets (channel_id, last_activity_at DESC, id DESC);
CREATE INDEX tickets_channel_created_idx ON tickets (channel_id, created_at DESC, id DESC);

-- +goose Down
DROP INDEX tickets_channel_created_idx, tickets_channel_activity_idx, ticket_reads_seen_idx,
    tickets_open_counts_idx, tickets_queue_all_idx;
ALTER TABLE channels DROP COLUMN last_assigned_agent_id;
ALTER TABLE ticket_reads DROP COLUMN seen_seq;
ALTER TABLE tickets DROP COLUMN activity_seq;
