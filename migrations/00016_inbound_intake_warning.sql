-- +goose Up
-- A note the intake adds to the message's parse warning when it kept only part of a
-- mail: an IMAP message over the size limit is stored as its header alone, so the
-- ticket says what is missing and where the complete mail is.
ALTER TABLE inbound_mails ADD COLUMN intake_warning text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE inbound_mails DROP COLUMN intake_warning;
