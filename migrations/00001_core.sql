-- +goose Up
-- Core schema. Later capabilities add their own migrations; this file is never edited once released.

CREATE EXTENSION IF NOT EXISTS citext;

-- Agents are the people who answer tickets. Admins see every channel; agents see
-- only the channels they are members of.
CREATE TABLE agents (
    id             bigserial PRIMARY KEY,
    email          citext      NOT NULL UNIQUE CHECK (length(email) BETWEEN 3 AND 254),
    name           text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    password_hash  text        NOT NULL DEFAULT '',
    role           text        NOT NULL DEFAULT 'agent' CHECK (role IN ('admin', 'agent')),
    status         text        NOT NULL DEFAULT 'offline' CHECK (status IN ('online', 'away', 'offline')),
    signature      text        NOT NULL DEFAULT '',
    undo_seconds   integer     NOT NULL DEFAULT 10 CHECK (undo_seconds BETWEEN 0 AND 300),
    notify_sound   boolean     NOT NULL DEFAULT true,
    notify_desktop boolean     NOT NULL DEFAULT true,
    notify_email   boolean     NOT NULL DEFAULT false,
    disabled_at    timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Sessions are keyed by the SHA-256 of the cookie value, so a leaked table does not
-- leak usable cookies.
CREATE TABLE sessions (
    id           text        PRIMARY KEY,
    agent_id     bigint      NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    csrf_token   text        NOT NULL,
    ip           text        NOT NULL DEFAULT '',
    user_agent   text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_agent_id_idx ON sessions (agent_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    agent_id     bigint      NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    token_hash   text        NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_agent_id_idx ON api_tokens (agent_id);

-- A channel is a queue: its own members, default assignee, templates and sources.
CREATE TABLE channels (
    id                   bigserial PRIMARY KEY,
    name                 text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind                 text        NOT NULL CHECK (kind IN ('email', 'chat', 'tasks')),
    default_assignee_id  bigint      REFERENCES agents (id) ON DELETE SET NULL,
    assignment_mode      text        NOT NULL DEFAULT 'default'
                                     CHECK (assignment_mode IN ('none', 'default', 'round_robin', 'least_open')),
    assignment_cap       integer     CHECK (assignment_cap IS NULL OR assignment_cap > 0),
    from_name_format     text        NOT NULL DEFAULT '{agent} from {channel}',
    signature            text        NOT NULL DEFAULT '',
    subject_tag          boolean     NOT NULL DEFAULT true,
    read_tracking        boolean     NOT NULL DEFAULT true,
    max_attachment_bytes bigint      NOT NULL DEFAULT 26214400 CHECK (max_attachment_bytes > 0),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX channels_name_key ON channels (lower(name));

CREATE TABLE channel_members (
    channel_id bigint      NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    agent_id   bigint      NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    role       text        NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'responsible')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, agent_id)
);
-- Access checks ask "which channels may this agent see", so index by agent too.
CREATE INDEX channel_members_agent_id_idx ON channel_members (agent_id, channel_id);

-- A mailbox is an address mail enters a channel through. Secrets (passwords) are
-- write-only in the API and never returned.
CREATE TABLE mailboxes (
    id               bigserial PRIMARY KEY,
    channel_id       bigint      NOT NULL REFERENCES channels (id) ON DELETE RESTRICT,
    address          citext      NOT NULL CHECK (length(address) BETWEEN 3 AND 254),
    display_name     text        NOT NULL DEFAULT '',
    inbound          text        NOT NULL DEFAULT 'smtp' CHECK (inbound IN ('smtp', 'imap')),
    imap_host        text        NOT NULL DEFAULT '',
    imap_port        integer     NOT NULL DEFAULT 993 CHECK (imap_port BETWEEN 0 AND 65535),
    imap_security    text        NOT NULL DEFAULT 'tls' CHECK (imap_security IN ('tls', 'starttls', 'plain')),
    imap_username    text        NOT NULL DEFAULT '',
    imap_password    text        NOT NULL DEFAULT '',
    imap_folder      text        NOT NULL DEFAULT 'INBOX',
    imap_after       text        NOT NULL DEFAULT 'seen' CHECK (imap_after IN ('seen', 'move')),
    imap_move_folder text        NOT NULL DEFAULT '',
    imap_sent_folder text        NOT NULL DEFAULT '',
    smtp_host        text        NOT NULL DEFAULT '',
    smtp_port        integer     NOT NULL DEFAULT 587 CHECK (smtp_port BETWEEN 0 AND 65535),
    smtp_security    text        NOT NULL DEFAULT 'starttls' CHECK (smtp_security IN ('tls', 'starttls', 'plain')),
    smtp_username    text        NOT NULL DEFAULT '',
    smtp_password    text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- One address belongs to one mailbox, whatever its case.
CREATE UNIQUE INDEX mailboxes_address_key ON mailboxes (address);
CREATE INDEX mailboxes_channel_id_idx ON mailboxes (channel_id);

CREATE TABLE messenger_connections (
    id           bigserial PRIMARY KEY,
    channel_id   bigint      NOT NULL REFERENCES channels (id) ON DELETE RESTRICT,
    provider     text        NOT NULL CHECK (provider IN ('telegram', 'whatsapp', 'webchat', 'viber',
                                                           'facebook', 'instagram', 'vk')),
    name         text        NOT NULL DEFAULT '',
    credentials  jsonb       NOT NULL DEFAULT '{}',
    api_base_url text        NOT NULL DEFAULT '',
    settings     jsonb       NOT NULL DEFAULT '{}',
    enabled      boolean     NOT NULL DEFAULT true,
    last_error   text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messenger_connections_channel_id_idx ON messenger_connections (channel_id);

-- Contacts are shared by every channel: a returning customer is one contact.
CREATE TABLE contacts (
    id             bigserial PRIMARY KEY,
    name           text        NOT NULL DEFAULT '',
    merged_into_id bigint      REFERENCES contacts (id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contact_identities (
    id           bigserial PRIMARY KEY,
    contact_id   bigint      NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    kind         text        NOT NULL CHECK (kind IN ('email', 'phone', 'telegram', 'whatsapp', 'webchat',
                                                       'viber', 'facebook', 'instagram', 'vk')),
    -- Normalised value: lower-case e-mail address, E.164 phone, provider user id.
    value        text        NOT NULL CHECK (length(value) BETWEEN 1 AND 320),
    display_name text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, value)
);
CREATE INDEX contact_identities_contact_id_idx ON contact_identities (contact_id);

CREATE SEQUENCE ticket_numbers START 1000;

CREATE TABLE tickets (
    id                        bigserial PRIMARY KEY,
    number                    bigint      NOT NULL UNIQUE DEFAULT nextval('ticket_numbers'),
    channel_id                bigint      NOT NULL REFERENCES channels (id) ON DELETE RESTRICT,
    kind                      text        NOT NULL DEFAULT 'conversation' CHECK (kind IN ('conversation', 'task')),
    subject                   text        NOT NULL DEFAULT '' CHECK (length(subject) <= 998),
    status                    text        NOT NULL DEFAULT 'new'
                                          CHECK (status IN ('new', 'open', 'pending', 'resolved', 'closed')),
    priority                  text        NOT NULL DEFAULT 'normal'
                                          CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    -- Sortable form of priority, so "highest priority first" can use an index.
    priority_rank             smallint    GENERATED ALWAYS AS (CASE priority WHEN 'urgent' THEN 3 WHEN 'high' THEN 2
                                                                WHEN 'normal' THEN 1 ELSE 0 END) STORED,
    assignee_id               bigint      REFERENCES agents (id) ON DELETE SET NULL,
    contact_id                bigint      REFERENCES contacts (id) ON DELETE RESTRICT,
    mailbox_id                bigint      REFERENCES mailboxes (id) ON DELETE SET NULL,
    messenger_connection_id   bigint      REFERENCES messenger_connections (id) ON DELETE SET NULL,
    due_at                    timestamptz,
    snoozed_until             timestamptz,
    snoozed_by_id             bigint      REFERENCES agents (id) ON DELETE SET NULL,
    wake_on_reply             boolean     NOT NULL DEFAULT true,
    -- Set when a snooze ran out, so the queue can mark the ticket as a reminder.
    reminder                  boolean     NOT NULL DEFAULT false,
    merged_into_id            bigint      REFERENCES tickets (id) ON DELETE SET NULL,
    -- Position within a board column (tasks channels).
    position                  double precision NOT NULL DEFAULT 0,
    checklist_total           integer     NOT NULL DEFAULT 0,
    checklist_done            integer     NOT NULL DEFAULT 0,
    last_activity_at          timestamptz NOT NULL DEFAULT now(),
    last_customer_activity_at timestamptz NOT NULL DEFAULT now(),
    first_response_at         timestamptz,
    resolved_at               timestamptz,
    closed_at                 timestamptz,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);
-- The default queue: a channel's unsnoozed, unfinished tickets, highest priority first,
-- then most recent customer activity.
CREATE INDEX tickets_queue_idx ON tickets (channel_id, priority_rank DESC, last_customer_activity_at DESC, id DESC)
    WHERE snoozed_until IS NULL AND status IN ('new', 'open', 'pending');
CREATE INDEX tickets_channel_status_idx ON tickets (channel_id, status);
CREATE INDEX tickets_assignee_idx ON tickets (assignee_id, status) WHERE assignee_id IS NOT NULL;
CREATE INDEX tickets_contact_idx ON tickets (contact_id);
CREATE INDEX tickets_due_idx ON tickets (due_at) WHERE due_at IS NOT NULL AND status IN ('new', 'open', 'pending');
CREATE INDEX tickets_snoozed_idx ON tickets (snoozed_until) WHERE snoozed_until IS NOT NULL;

CREATE TABLE messages (
    id                      bigserial PRIMARY KEY,
    ticket_id               bigint      NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    -- Denormalised from the ticket so a Message-ID can be unique per channel.
    channel_id              bigint      NOT NULL REFERENCES channels (id) ON DELETE RESTRICT,
    direction               text        NOT NULL CHECK (direction IN ('inbound', 'outbound', 'note')),
    status                  text        NOT NULL DEFAULT 'received'
                                        CHECK (status IN ('received', 'draft', 'scheduled', 'queued', 'sending',
                                                          'sent', 'delivered', 'read', 'failed', 'canceled')),
    author_agent_id         bigint      REFERENCES agents (id) ON DELETE SET NULL,
    contact_id              bigint      REFERENCES contacts (id) ON DELETE SET NULL,
    mailbox_id              bigint      REFERENCES mailboxes (id) ON DELETE SET NULL,
    messenger_connection_id bigint      REFERENCES messenger_connections (id) ON DELETE SET NULL,
    from_address            text        NOT NULL DEFAULT '',
    from_name               text        NOT NULL DEFAULT '',
    reply_to                text        NOT NULL DEFAULT '',
    to_addresses            text[]      NOT NULL DEFAULT '{}',
    cc_addresses            text[]      NOT NULL DEFAULT '{}',
    bcc_addresses           text[]      NOT NULL DEFAULT '{}',
    subject                 text        NOT NULL DEFAULT '',
    body_text               text        NOT NULL DEFAULT '',
    body_html               text        NOT NULL DEFAULT '',
    -- Byte offset in body_text where quoted history starts (-1: none), so the UI can fold it.
    quote_offset            integer     NOT NULL DEFAULT -1,
    message_id_header       text        NOT NULL DEFAULT '',
    in_reply_to             text        NOT NULL DEFAULT '',
    "references"            text[]      NOT NULL DEFAULT '{}',
    provider_message_id     text        NOT NULL DEFAULT '',
    is_auto_reply           boolean     NOT NULL DEFAULT false,
    is_bounce               boolean     NOT NULL DEFAULT false,
    parse_warning           text        NOT NULL DEFAULT '',
    send_at                 timestamptz,
    sent_at                 timestamptz,
    failed_reason           text        NOT NULL DEFAULT '',
    attempts                integer     NOT NULL DEFAULT 0,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_ticket_id_idx ON messages (ticket_id, id);
-- The same Message-ID twice in a channel is one message (SMTP retries, IMAP re-syncs).
CREATE UNIQUE INDEX messages_channel_message_id_key ON messages (channel_id, message_id_header)
    WHERE message_id_header <> '';
CREATE UNIQUE INDEX messages_connection_provider_id_key ON messages (messenger_connection_id, provider_message_id)
    WHERE provider_message_id <> '';
CREATE INDEX messages_scheduled_idx ON messages (send_at) WHERE status IN ('scheduled', 'queued');

ALTER TABLE tickets ADD COLUMN origin_message_id bigint REFERENCES messages (id) ON DELETE SET NULL;

-- Attachments are stored once by content hash in the data directory; this row names
-- one use of a blob. message_id is NULL between upload and use in a message.
CREATE TABLE attachments (
    id           bigserial PRIMARY KEY,
    message_id   bigint      REFERENCES messages (id) ON DELETE CASCADE,
    sha256       text        NOT NULL CHECK (length(sha256) = 64),
    size         bigint      NOT NULL CHECK (size >= 0),
    filename     text        NOT NULL DEFAULT '',
    content_type text        NOT NULL DEFAULT 'application/octet-stream',
    content_id   text        NOT NULL DEFAULT '',
    inline       boolean     NOT NULL DEFAULT false,
    uploaded_by  bigint      REFERENCES agents (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_message_id_idx ON attachments (message_id);
CREATE INDEX attachments_sha256_idx ON attachments (sha256);

CREATE TABLE checklist_items (
    id         bigserial PRIMARY KEY,
    ticket_id  bigint      NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    text       text        NOT NULL CHECK (length(text) BETWEEN 1 AND 500),
    done       boolean     NOT NULL DEFAULT false,
    done_by_id bigint      REFERENCES agents (id) ON DELETE SET NULL,
    done_at    timestamptz,
    position   double precision NOT NULL DEFAULT 0,
    created_by bigint      REFERENCES agents (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX checklist_items_ticket_id_idx ON checklist_items (ticket_id, position);

-- Append-only timeline of every change on a ticket; reports are computed from it.
CREATE TABLE ticket_events (
    id         bigserial PRIMARY KEY,
    ticket_id  bigint      NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    agent_id   bigint      REFERENCES agents (id) ON DELETE SET NULL,
    kind       text        NOT NULL,
    old_value  text        NOT NULL DEFAULT '',
    new_value  text        NOT NULL DEFAULT '',
    data       jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ticket_events_ticket_id_idx ON ticket_events (ticket_id, id);

CREATE TABLE ticket_reads (
    ticket_id bigint      NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    agent_id  bigint      NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    read_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, ticket_id)
);

CREATE TABLE tags (
    id         bigserial PRIMARY KEY,
    name       citext      NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ticket_tags (
    ticket_id bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    tag_id    bigint NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (ticket_id, tag_id)
);
CREATE INDEX ticket_tags_tag_id_idx ON ticket_tags (tag_id, ticket_id);

-- Reply templates, per channel or global (channel_id NULL).
CREATE TABLE templates (
    id         bigserial PRIMARY KEY,
    channel_id bigint      REFERENCES channels (id) ON DELETE CASCADE,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    subject    text        NOT NULL DEFAULT '',
    body       text        NOT NULL DEFAULT '',
    created_by bigint      REFERENCES agents (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX templates_channel_id_idx ON templates (channel_id);

-- +goose Down
DROP TABLE templates, ticket_tags, tags, ticket_reads, ticket_events, checklist_items, attachments;
ALTER TABLE tickets DROP COLUMN origin_message_id;
DROP TABLE messages, tickets;
DROP SEQUENCE ticket_numbers;
DROP TABLE contact_identities, contacts, messenger_connections, mailboxes, channel_members, channels,
    api_tokens, sessions, agents;
