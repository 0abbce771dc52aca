-- +goose Up
-- Notifications tell one agent that something needs them: an assignment, a mention
-- in a note, a snooze running out, a due date coming or passing, a new ticket in a
-- channel they are responsible for. Rows are per agent; read_at marks them seen.
CREATE TABLE notifications (
    id         bigserial PRIMARY KEY,
    agent_id   bigint      NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    kind       text        NOT NULL CHECK (kind IN ('assignment', 'mention', 'snooze_wakeup', 'due_reminder',
                                                    'due_passed', 'new_ticket')),
    ticket_id  bigint      REFERENCES tickets (id) ON DELETE CASCADE,
    data       jsonb       NOT NULL DEFAULT '{}',
    read_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- "My notifications, newest first" pages by id.
CREATE INDEX notifications_agent_idx ON notifications (agent_id, id DESC);
-- "My unread" (the badge and its list) stays small however many were read.
CREATE INDEX notifications_agent_unread_idx ON notifications (agent_id, id DESC) WHERE read_at IS NULL;
CREATE INDEX notifications_ticket_idx ON notifications (ticket_id);

-- +goose Down
DROP TABLE notifications;
