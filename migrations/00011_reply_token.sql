-- +goose Up
-- A per-ticket secret for reply addresses (box+t<number>-<token>@domain): mail sent
-- to such an address threads onto the ticket even when the client dropped
-- In-Reply-To and References, and a stranger cannot guess it.
ALTER TABLE tickets ADD COLUMN reply_token text NOT NULL DEFAULT substr(md5(gen_random_uuid()::text), 1, 12);

-- +goose Down
ALTER TABLE tickets DROP COLUMN reply_token;
