-- +goose Up
-- Message bodies are searched through their trigram index alone. The tsvector
-- index answered queries whose words stand apart; each of those words is now an
-- ILIKE of its own, ANDed, which the trigram index answers too. Building the
-- tsvector for every stored body was the largest single cost of storing an
-- inbound mail, for an index that only duplicated what the trigrams find.
-- Ranking still uses ts_rank, computed on the few candidate messages.
DROP INDEX messages_body_tsv_idx;

-- +goose Down
CREATE INDEX messages_body_tsv_idx ON messages USING gin (to_tsvector('simple', left(body_text, 20000)));
