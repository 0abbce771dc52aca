-- +goose Up
-- Mail bodies and small raw mails are compressed with lz4 instead of pglz, the
-- default: it costs a fraction of the CPU per stored mail (pglz was a visible share
-- of each inbound mail's Postgres time) for a slightly larger result. Values stored
-- before keep their compression until rewritten; both read back alike.
-- lz4 needs a Postgres built with it, as the Debian and Docker packages are.
ALTER TABLE messages ALTER COLUMN body_text SET COMPRESSION lz4,
                     ALTER COLUMN body_html SET COMPRESSION lz4;
ALTER TABLE inbound_mails ALTER COLUMN raw SET COMPRESSION lz4;

-- +goose Down
ALTER TABLE inbound_mails ALTER COLUMN raw SET COMPRESSION default;
ALTER TABLE messages ALTER COLUMN body_html SET COMPRESSION default,
                     ALTER COLUMN body_text SET COMPRESSION default;
