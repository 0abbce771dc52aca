-- +goose Up
-- The default-queue indexes carry the columns queue filters read (channel for
-- access, assignee, activity_seq for unread), so ListTickets can pick a page's ids
-- with an index-only scan and read only that page from the table.

DROP INDEX tickets_queue_idx;
CREATE INDEX tickets_queue_idx ON tickets (channel_id, priority_rank DESC, last_customer_activity_at DESC, id DESC)
    INCLUDE (assignee_id, activity_seq)
    WHERE snoozed_until IS NULL AND status IN ('new', 'open', 'pending');

DROP INDEX tickets_queue_all_idx;
CREATE INDEX tickets_queue_all_idx ON tickets (priority_rank DESC, last_customer_activity_at DESC, id DESC)
    INCLUDE (channel_id, assignee_id, activity_seq)
    WHERE snoozed_until IS NULL AND status IN ('new', 'open', 'pending');

DROP INDEX tickets_mine_queue_idx;
CREATE INDEX tickets_mine_queue_idx ON tickets (assignee_id, priority_rank DESC, last_customer_activity_at DESC, id DESC)
    INCLUDE (channel_id, activity_seq)
    WHERE snoozed_until IS NULL AND status IN ('new', 'open', 'pending');

DROP INDEX tickets_queue_activity_idx;
CREATE INDEX tickets_queue_activity_idx ON tickets (last_activity_at DESC, id DESC)
    INCLUDE (channel_id, assignee_id, activity_seq)
    WHERE snoozed_until IS NULL AND status IN ('new', 'open', 'pending');

DROP INDEX tickets_queue_created_idx;
CREATE INDEX tickets_queue_created_idx ON tickets (created_at DESC, id DESC)
    INCLUDE (channel_id, assignee_id, activity_seq)
    WHERE snoozed_until IS NULL AND status IN ('new', 'open', 'pending');

-- +goose Down
DROP INDEX tickets_queue_created_idx, tickets_queue_activity_idx, tickets_mine_queue_idx, tickets_queue_all_idx,
    tickets_queue_idx;
CREATE INDEX tickets_queue_idx ON tickets (channel_id, priority_rank DESC, last_customer_activity_at DESC, id DESC)
    WHERE snoozed_until IS NULL AND status IN ('new', 'open', 'pending');
CREATE INDEX tickets_queue_all_idx ON tickets (priority_rank DESC, last_customer_activity_at DESC, id DESC)
    WHERE snoozed_until IS NULL AND status IN ('new', 'open', 'pending');
CREATE INDEX tickets_mine_queue_idx ON tickets (assignee_id, priority_rank DESC, last_customer_activity_at DESC, id DESC)
    WHERE snoozed_until IS NULL AND status IN ('new', 'open', 'pending');
CREATE INDEX tickets_queue_activity_idx ON tickets (last_activity_at DESC, id DESC)
    WHERE snoozed_until IS NULL AND status IN ('new', 'open', 'pending');
CREATE INDEX tickets_queue_created_idx ON tickets (created_at DESC, id DESC)
    WHERE snoozed_until IS NULL AND status IN ('new', 'open', 'pending');
