-- +goose Up
-- Due-date reminders already sent, one row per ticket, kind and due date, so a
-- reminder is sent once however often the task and the sweeper run. A new due date
-- gets reminders of its own.
CREATE TABLE ticket_reminders (
    ticket_id bigint      NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    kind      text        NOT NULL CHECK (kind IN ('due_reminder', 'due_passed')),
    due_at    timestamptz NOT NULL,
    sent_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, kind, due_at)
);

-- +goose Down
DROP TABLE ticket_reminders;
