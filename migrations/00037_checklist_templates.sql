-- +goose Up
-- Checklist templates: named lists of items a channel's agents apply to a ticket
-- ("New supplier": ask for VAT id, check references, add to bookkeeping).
CREATE TABLE checklist_templates (
    id         bigserial PRIMARY KEY,
    channel_id bigint      NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    items      text[]      NOT NULL DEFAULT '{}',
    created_by bigint      REFERENCES agents (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX checklist_templates_name_key ON checklist_templates (channel_id, lower(name));

-- +goose Down
DROP TABLE checklist_templates;
