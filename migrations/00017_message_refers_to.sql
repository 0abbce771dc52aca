-- +goose Up
-- Threading works both ways. A reply ingested before the mail it answers (both came
-- in one IMAP batch, or two workers took them at once) made a ticket of its own;
-- when the original arrives, this index finds the stored messages that refer to
-- it (References plus In-Reply-To), and the original joins their ticket.
CREATE INDEX messages_refers_to_idx ON messages
    USING gin (("references" || string_to_array(NULLIF(in_reply_to, ''), ' ')));

-- +goose Down
DROP INDEX messages_refers_to_idx;
