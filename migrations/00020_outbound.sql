-- +goose Up
-- Outbound mail: undo/scheduling options, read tracking, per-channel agent signatures
-- and DKIM keys.

ALTER TABLE messages
    -- reply, forward or new (a conversation we start); empty for inbound mail and notes.
    ADD COLUMN outbound_kind   text        NOT NULL DEFAULT ''
                               CHECK (outbound_kind IN ('', 'reply', 'forward', 'new')),
    -- A scheduled reply with this set is canceled when the customer writes first.
    ADD COLUMN cancel_on_reply boolean     NOT NULL DEFAULT false,
    -- Unguessable token of the read-tracking pixel; empty when tracking is off.
    ADD COLUMN tracking_token  text        NOT NULL DEFAULT '',
    -- Opens by a person (prefetches by proxies and scanners are stored but not counted).
    ADD COLUMN opened_at       timestamptz,
    ADD COLUMN open_count      integer     NOT NULL DEFAULT 0,
    ADD COLUMN last_opened_at  timestamptz;
CREATE UNIQUE INDEX messages_tracking_token_key ON messages (tracking_token) WHERE tracking_token <> '';
-- "My scheduled messages" in the composer.
CREATE INDEX messages_author_status_idx ON messages (author_agent_id, status) WHERE direction = 'outbound';

-- Every fetch of a tracking pixel. flagged_reason says why a fetch is not counted as
-- a person reading (an image proxy, a scanner, a fetch seconds after delivery).
CREATE TABLE message_opens (
    id            bigserial PRIMARY KEY,
    message_id    bigint      NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    opened_at     timestamptz NOT NULL DEFAULT now(),
    ip            text        NOT NULL DEFAULT '',
    user_agent    text        NOT NULL DEFAULT '',
    flagged       boolean     NOT NULL DEFAULT false,
    flagged_reason text       NOT NULL DEFAULT ''
);
CREATE INDEX message_opens_message_id_idx ON message_opens (message_id, id);

-- An agent's signature for one channel; without a row the agent's own signature is used.
CREATE TABLE agent_signatures (
    agent_id   bigint      NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    channel_id bigint      NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    body       text        NOT NULL DEFAULT '' CHECK (length(body) <= 10000),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, channel_id)
);

-- DKIM private keys by sending domain. The private key is write-only in the API.
CREATE TABLE dkim_keys (
    domain      citext      PRIMARY KEY CHECK (length(domain) BETWEEN 1 AND 253),
    selector    text        NOT NULL CHECK (length(selector) BETWEEN 1 AND 63),
    private_key text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE dkim_keys, agent_signatures, message_opens;
DROP INDEX messages_author_status_idx;
DROP INDEX messages_tracking_token_key;
ALTER TABLE messages DROP COLUMN outbound_kind, DROP COLUMN cancel_on_reply, DROP COLUMN tracking_token,
    DROP COLUMN opened_at, DROP COLUMN open_count, DROP COLUMN last_opened_at;
