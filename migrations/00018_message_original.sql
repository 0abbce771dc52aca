-- +goose Up
-- An inbound mail message keeps a reference to the raw mail it was parsed from, so
-- an agent can open the original (.eml) from the ticket, as in every mail client:
-- to see what the parser could not show (a part dropped for the channel's size
-- limit, a malformed part, the full headers). Raw mails are never deleted while
-- their messages exist, so no index serves deletes from inbound_mails.
ALTER TABLE messages ADD COLUMN inbound_mail_id bigint REFERENCES inbound_mails (id);

-- +goose Down
ALTER TABLE messages DROP COLUMN inbound_mail_id;
