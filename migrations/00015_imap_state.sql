-- +goose Up
-- IMAP polling state per mailbox. The poller fetches only UIDs above imap_last_uid
-- while the folder's UIDVALIDITY is unchanged; imap_sync_key records which server,
-- account and folder that state belongs to, so changing the settings starts a fresh
-- sync instead of skipping or re-reading mail. last_error, last_success_at and
-- imap_failures make a failing mailbox visible and drive its backoff.
ALTER TABLE mailboxes
    ADD COLUMN imap_uidvalidity bigint      NOT NULL DEFAULT 0,
    ADD COLUMN imap_last_uid    bigint      NOT NULL DEFAULT 0,
    ADD COLUMN imap_sync_key    text        NOT NULL DEFAULT '',
    ADD COLUMN imap_failures    integer     NOT NULL DEFAULT 0,
    ADD COLUMN last_error       text        NOT NULL DEFAULT '',
    ADD COLUMN last_success_at  timestamptz,
    ADD COLUMN last_polled_at   timestamptz;

-- +goose Down
ALTER TABLE mailboxes
    DROP COLUMN imap_uidvalidity,
    DROP COLUMN imap_last_uid,
    DROP COLUMN imap_sync_key,
    DROP COLUMN imap_failures,
    DROP COLUMN last_error,
    DROP COLUMN last_success_at,
    DROP COLUMN last_polled_at;
