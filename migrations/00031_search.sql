-- +goose Up
-- Full-text search over subjects, message bodies, contact names and identities.
--
-- Two index kinds side by side:
-- * pg_trgm GIN indexes answer substring matches (ILIKE '%q%') in any script,
--   including Thai, Japanese and Chinese, which have no spaces between words for a
--   word parser to split on.
-- * a `simple`-config tsvector (no stemming, no stop words: right for every
--   language alike) answers word queries whose words are not adjacent, and ranks.
-- Bodies are indexed up to 20000 characters: a tsvector is limited to 1 MB, and the
-- start of a mail is where people look.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX tickets_subject_trgm_idx ON tickets USING gin (subject gin_trgm_ops);
CREATE INDEX messages_body_trgm_idx ON messages USING gin (left(body_text, 20000) gin_trgm_ops);
CREATE INDEX messages_body_tsv_idx ON messages USING gin (to_tsvector('simple', left(body_text, 20000)));
CREATE INDEX contacts_name_trgm_idx ON contacts USING gin (name gin_trgm_ops);
CREATE INDEX contact_identities_value_trgm_idx ON contact_identities USING gin (value gin_trgm_ops);

-- +goose Down
DROP INDEX contact_identities_value_trgm_idx, contacts_name_trgm_idx, messages_body_tsv_idx,
    messages_body_trgm_idx, tickets_subject_trgm_idx;
