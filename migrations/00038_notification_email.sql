-- +goose Up
-- E-mail copies of notifications. email_status is NULL when the agent did not want
-- mail when the notification was made; otherwise pending → sending → sent (or
-- failed). The claim (sending, email_claimed_at) is committed before the mail goes
-- on the wire, so a task that runs twice sends once; a claim older than its lease
-- belongs to a worker that died and is taken over.
ALTER TABLE notifications
    ADD COLUMN email_status     text CHECK (email_status IN ('pending', 'sending', 'sent', 'failed')),
    ADD COLUMN email_claimed_at timestamptz,
    ADD COLUMN emailed_at       timestamptz,
    ADD COLUMN email_error      text;
-- The sweeper's "mail still to send" stays a handful of rows however many
-- notifications were ever made.
CREATE INDEX notifications_email_due_idx ON notifications (id) WHERE email_status IN ('pending', 'sending');

-- Agents created from now on get notification mail unless they turn it off: like
-- Help Scout, where an assignment or a mention reaches you by e-mail by default, an
-- agent who is not looking at the desk still learns that something waits for them.
-- Existing agents keep their stored value, since a false there cannot be told apart
-- from a choice.
ALTER TABLE agents ALTER COLUMN notify_email SET DEFAULT true;

-- +goose Down
ALTER TABLE agents ALTER COLUMN notify_email SET DEFAULT false;
DROP INDEX notifications_email_due_idx;
ALTER TABLE notifications DROP COLUMN email_status, DROP COLUMN email_claimed_at, DROP COLUMN emailed_at,
    DROP COLUMN email_error;
