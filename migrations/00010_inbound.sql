-- +goose Up
-- Raw inbound mail, committed before the SMTP 250 (or before an IMAP message is
-- flagged), so nothing accepted is ever lost. The ingest task turns a row into
-- tickets and sets processed_at; a sweeper re-enqueues rows left unprocessed.
--
-- Storage of the raw bytes: mails up to 64 KiB live in raw (one Postgres commit, no
-- extra fsync); larger ones are streamed to the blob store (fsynced) and named by
-- raw_sha256. Exactly one of the two is set.
CREATE TABLE inbound_mails (
    id               bigserial PRIMARY KEY,
    -- The mailboxes the mail was addressed to (RCPT TO, or the polled mailbox).
    mailbox_ids      bigint[]    NOT NULL CHECK (cardinality(mailbox_ids) > 0),
    source           text        NOT NULL CHECK (source IN ('smtp', 'lmtp', 'imap')),
    envelope_from    text        NOT NULL DEFAULT '',
    raw              bytea,
    raw_sha256       text        CHECK (raw_sha256 IS NULL OR length(raw_sha256) = 64),
    size             bigint      NOT NULL CHECK (size >= 0),
    imap_mailbox_id  bigint      REFERENCES mailboxes (id) ON DELETE SET NULL,
    imap_uidvalidity bigint,
    imap_uid         bigint,
    received_at      timestamptz NOT NULL DEFAULT now(),
    processed_at     timestamptz,
    attempts         integer     NOT NULL DEFAULT 0,
    last_error       text        NOT NULL DEFAULT '',
    CHECK ((raw IS NULL) <> (raw_sha256 IS NULL))
);
-- An IMAP message (mailbox, UIDVALIDITY, UID) is stored once, however often it is fetched.
CREATE UNIQUE INDEX inbound_mails_imap_key ON inbound_mails (imap_mailbox_id, imap_uidvalidity, imap_uid)
    WHERE imap_uid IS NOT NULL;
-- The sweeper looks for committed but unprocessed rows, oldest first.
CREATE INDEX inbound_mails_unprocessed_idx ON inbound_mails (received_at, id) WHERE processed_at IS NULL;

-- +goose Down
DROP TABLE inbound_mails;
