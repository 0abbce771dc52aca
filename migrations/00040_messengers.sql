-- +goose Up
-- Messenger connections: long-polling offset (Telegram getUpdates) and a per-connection
-- secret for signing web chat visitor cookies. The secret defaults to 256 random bits
-- so every connection has one without the API having to generate it.
ALTER TABLE messenger_connections
    ADD COLUMN poll_offset    bigint NOT NULL DEFAULT 0,
    ADD COLUMN webhook_secret text   NOT NULL
        DEFAULT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');

-- First-message menu state per conversation: a ticket opened by a connection with a
-- menu waits for the customer's choice; one unclear answer sends it to the fallback.
CREATE TABLE messenger_menu_states (
    ticket_id     bigint      PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    connection_id bigint      NOT NULL REFERENCES messenger_connections (id) ON DELETE CASCADE,
    state         text        NOT NULL DEFAULT 'awaiting' CHECK (state IN ('awaiting', 'done')),
    unclear       integer     NOT NULL DEFAULT 0,
    choice        text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- A provider template to send instead of free text (WhatsApp outside the 24-hour
-- window): {"name": "...", "language": "en", "params": ["..."]}; '{}' for none.
ALTER TABLE messages ADD COLUMN messenger_template jsonb NOT NULL DEFAULT '{}';

-- Threading looks up a contact's latest conversation on a connection.
CREATE INDEX tickets_connection_contact_idx ON tickets (messenger_connection_id, contact_id, id DESC)
    WHERE messenger_connection_id IS NOT NULL;

-- +goose Down
ALTER TABLE messages DROP COLUMN messenger_template;
DROP INDEX tickets_connection_contact_idx;
DROP TABLE messenger_menu_states;
ALTER TABLE messenger_connections DROP COLUMN webhook_secret, DROP COLUMN poll_offset;
