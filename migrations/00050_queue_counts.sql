-- +goose Up
-- Sidebar counts kept as counters instead of counted on every page load.
--
-- Counting the unfinished tickets on each sidebar request reads every one of them
-- (30,000 for an admin at a million tickets): tens of milliseconds on a busy host.
-- Instead, triggers record every change to what the sidebar counts as a delta row,
-- and the sidebar sums the deltas of the channels it shows. Deltas are only ever
-- inserted, never updated, so concurrent arrivals in one channel do not queue
-- behind a counter row and cannot deadlock on one; Service.Sidebar folds them
-- into one row per key now and then (compactQueueCounts). Changes made in SQL by
-- hand are counted too; only a load with triggers off (session_replication_role
-- replica) must call queue_counts_rebuild() afterwards.
--
-- No foreign keys: a check per insert would lock the channel row for every ticket
-- change, and rows of a deleted channel are never read (the sidebar reads visible
-- channels) and vanish at the next compaction once they sum to zero.

-- Per channel and assignee (NULL: unassigned), over unfinished tickets: open_count
-- not snoozed, active_count not snoozed with an arrival (activity_seq > 0),
-- snoozed_count snoozed.
CREATE TABLE queue_counts (
    channel_id    bigint  NOT NULL,
    assignee_id   bigint,
    open_count    integer NOT NULL,
    active_count  integer NOT NULL,
    snoozed_count integer NOT NULL
);
CREATE INDEX queue_counts_channel_idx ON queue_counts (channel_id);

-- Unread for an agent = active_count + the sum of their adjustments: each read row
-- of an unfinished, unsnoozed ticket adds (activity_seq > seen_seq) - (activity_seq > 0),
-- that is -1 for a ticket read since its last arrival and +1 for one nobody wrote
-- on that the agent marked unread. Tickets without a read row need no row here.
CREATE TABLE unread_adjustments (
    agent_id   bigint  NOT NULL,
    channel_id bigint  NOT NULL,
    delta      integer NOT NULL
);
CREATE INDEX unread_adjustments_agent_idx ON unread_adjustments (agent_id, channel_id);

-- Each read row remembers what it adds and to which channel, so a change books the
-- difference to the truth, and a deleted row (a cascade from its ticket or agent)
-- takes back exactly what it had added.
ALTER TABLE ticket_reads ADD COLUMN counted smallint NOT NULL DEFAULT 0,
                         ADD COLUMN counted_channel_id bigint;

-- Ticket changes recount the ticket's read rows.
CREATE INDEX ticket_reads_ticket_idx ON ticket_reads (ticket_id);

-- What one read row adds to its agent's unread count of the ticket's channel.
CREATE FUNCTION unread_adjustment(status text, snoozed_until timestamptz, activity_seq bigint, seen_seq bigint)
RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN status IN ('new', 'open', 'pending') AND snoozed_until IS NULL
                THEN (activity_seq > seen_seq)::int - (activity_seq > 0)::int ELSE 0 END
$$;

-- +goose StatementBegin
-- Ticket inserted, changed or deleted: take out what the old row counted in the
-- queue, add what the new row counts.
CREATE FUNCTION tickets_queue_counts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    o integer[] := ARRAY[0, 0, 0];
    n integer[] := ARRAY[0, 0, 0];
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status IN ('new', 'open', 'pending') THEN
        o := ARRAY[(OLD.snoozed_until IS NULL)::int, (OLD.snoozed_until IS NULL AND OLD.activity_seq > 0)::int,
                   (OLD.snoozed_until IS NOT NULL)::int];
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status IN ('new', 'open', 'pending') THEN
        n := ARRAY[(NEW.snoozed_until IS NULL)::int, (NEW.snoozed_until IS NULL AND NEW.activity_seq > 0)::int,
                   (NEW.snoozed_until IS NOT NULL)::int];
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.channel_id = NEW.channel_id AND OLD.assignee_id IS NOT DISTINCT FROM NEW.assignee_id THEN
        IF o <> n THEN
            INSERT INTO queue_counts VALUES (NEW.channel_id, NEW.assignee_id, n[1] - o[1], n[2] - o[2], n[3] - o[3]);
        END IF;
        RETURN NULL;
    END IF;
    IF o <> ARRAY[0, 0, 0] THEN
        INSERT INTO queue_counts VALUES (OLD.channel_id, OLD.assignee_id, -o[1], -o[2], -o[3]);
    END IF;
    IF n <> ARRAY[0, 0, 0] THEN
        INSERT INTO queue_counts VALUES (NEW.channel_id, NEW.assignee_id, n[1], n[2], n[3]);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER tickets_queue_counts AFTER INSERT OR UPDATE OF status, channel_id, assignee_id, snoozed_until, activity_seq
    OR DELETE ON tickets FOR EACH ROW EXECUTE FUNCTION tickets_queue_counts();

-- +goose StatementBegin
-- A read row stored, or its seen_seq set (also by the recount below): work out what
-- it adds now and to which channel, into counted and counted_channel_id.
--
-- Racing a change to the ticket (an arrival), which recounts the ticket's read rows
-- when it commits (tickets_recount_reads): an existing read row is serialised with
-- that recount by its row lock (whichever runs second sees the other committed). A
-- new read row is invisible to the recount until it commits, so it first locks the
-- ticket as its foreign key would (waiting for an arrival holding it FOR UPDATE)
-- and then takes the ticket's advisory lock shared, which the recount holds
-- exclusively until its commit: it waits for a committing change and then sees it.
-- In that order, and not for existing rows (whose row lock the recount needs),
-- because the others deadlock with the recount.
CREATE FUNCTION ticket_reads_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t record;
BEGIN
    IF TG_OP = 'INSERT' AND NOT EXISTS (SELECT 1 FROM ticket_reads
                                         WHERE agent_id = NEW.agent_id AND ticket_id = NEW.ticket_id) THEN
        PERFORM 1 FROM tickets WHERE id = NEW.ticket_id FOR KEY SHARE;
        PERFORM pg_advisory_xact_lock_shared(7210, (NEW.ticket_id % 2147483647)::int);
    END IF;
    SELECT status, snoozed_until, activity_seq, channel_id INTO t FROM tickets WHERE id = NEW.ticket_id;
    NEW.counted := 0;
    NEW.counted_channel_id := NULL;
    IF FOUND THEN
        NEW.counted := unread_adjustment(t.status, t.snoozed_until, t.activity_seq, NEW.seen_seq);
        IF NEW.counted <> 0 THEN
            NEW.counted_channel_id := t.channel_id;
        END IF;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER ticket_reads_count BEFORE INSERT OR UPDATE OF seen_seq ON ticket_reads
    FOR EACH ROW EXECUTE FUNCTION ticket_reads_count();

-- +goose StatementBegin
-- Book the difference between what a read row adds now and what it had added (an
-- AFTER trigger: an upsert runs BEFORE INSERT triggers for the row it proposes even
-- when it then updates the existing one).
CREATE FUNCTION ticket_reads_book() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was integer := 0;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        was := OLD.counted;
        IF was <> 0 AND (NEW.counted = 0 OR OLD.counted_channel_id IS DISTINCT FROM NEW.counted_channel_id) THEN
            -- Booked to another channel, or nothing to book now: take it all back there.
            INSERT INTO unread_adjustments VALUES (OLD.agent_id, OLD.counted_channel_id, -was);
            was := 0;
        END IF;
    END IF;
    IF NEW.counted <> was THEN
        INSERT INTO unread_adjustments VALUES (NEW.agent_id, NEW.counted_channel_id, NEW.counted - was);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER ticket_reads_book AFTER INSERT OR UPDATE OF seen_seq ON ticket_reads
    FOR EACH ROW EXECUTE FUNCTION ticket_reads_book();

-- +goose StatementBegin
-- A read row deleted (directly, or with its ticket or agent): take back what it added.
CREATE FUNCTION ticket_reads_uncount() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.counted <> 0 THEN
        INSERT INTO unread_adjustments VALUES (OLD.agent_id, OLD.counted_channel_id, -OLD.counted);
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER ticket_reads_uncount AFTER DELETE ON ticket_reads
    FOR EACH ROW EXECUTE FUNCTION ticket_reads_uncount();

-- +goose StatementBegin
-- A change to what a ticket's read rows add (status, snooze, channel, an arrival)
-- recounts them when its transaction commits (setting seen_seq to itself runs
-- ticket_reads_count), holding the ticket's advisory lock exclusively so a read
-- row inserted meanwhile waits and then counts against the committed ticket. At
-- commit rather than at the UPDATE, so an arrival's open transaction never makes
-- an agent opening the ticket wait, and reads stored while it was open are
-- recounted.
CREATE FUNCTION tickets_recount_reads() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7210, (NEW.id % 2147483647)::int);
    UPDATE ticket_reads SET seen_seq = seen_seq WHERE ticket_id = NEW.id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE CONSTRAINT TRIGGER tickets_recount_reads AFTER UPDATE OF status, channel_id, snoozed_until, activity_seq ON tickets
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ((OLD.status IN ('new', 'open', 'pending')) <> (NEW.status IN ('new', 'open', 'pending'))
          OR OLD.channel_id <> NEW.channel_id
          OR (OLD.snoozed_until IS NULL) <> (NEW.snoozed_until IS NULL)
          OR OLD.activity_seq <> NEW.activity_seq)
    EXECUTE FUNCTION tickets_recount_reads();

-- +goose StatementBegin
-- Emptied tables empty their counters.
CREATE FUNCTION queue_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'tickets' THEN
        DELETE FROM queue_counts;
    END IF;
    DELETE FROM unread_adjustments;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER tickets_queue_counts_truncate AFTER TRUNCATE ON tickets
    FOR EACH STATEMENT EXECUTE FUNCTION queue_counts_truncate();
CREATE TRIGGER ticket_reads_queue_counts_truncate AFTER TRUNCATE ON ticket_reads
    FOR EACH STATEMENT EXECUTE FUNCTION queue_counts_truncate();

-- +goose StatementBegin
-- Counts everything again from the tickets and read rows, writers held off. For
-- this migration and for bulk loads that run with triggers off (the scale
-- generator).
CREATE FUNCTION queue_counts_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE tickets, ticket_reads IN SHARE MODE;
    DELETE FROM queue_counts;
    INSERT INTO queue_counts
    SELECT channel_id, assignee_id,
           count(*) FILTER (WHERE snoozed_until IS NULL),
           count(*) FILTER (WHERE snoozed_until IS NULL AND activity_seq > 0),
           count(*) FILTER (WHERE snoozed_until IS NOT NULL)
      FROM tickets
     WHERE status IN ('new', 'open', 'pending')
     GROUP BY channel_id, assignee_id;
    UPDATE ticket_reads r
       SET counted = c.n, counted_channel_id = c.ch
      FROM (SELECT r2.agent_id, r2.ticket_id, u.n, CASE WHEN u.n <> 0 THEN t.channel_id END AS ch
              FROM ticket_reads r2
              JOIN tickets t ON t.id = r2.ticket_id
             CROSS JOIN LATERAL (SELECT unread_adjustment(t.status, t.snoozed_until, t.activity_seq, r2.seen_seq) AS n) u) c
     WHERE r.agent_id = c.agent_id AND r.ticket_id = c.ticket_id
       AND (r.counted, r.counted_channel_id) IS DISTINCT FROM (c.n, c.ch);
    DELETE FROM unread_adjustments;
    INSERT INTO unread_adjustments
    SELECT agent_id, counted_channel_id, sum(counted) FROM ticket_reads
     WHERE counted <> 0
     GROUP BY agent_id, counted_channel_id;
END
$$;
-- +goose StatementEnd

SELECT queue_counts_rebuild();

-- Overdue is relative to now, so it is counted: per channel, the unfinished,
-- unsnoozed tickets with a due date, in due order, an index-only range scan.
CREATE INDEX tickets_overdue_idx ON tickets (channel_id, due_at)
    WHERE due_at IS NOT NULL AND snoozed_until IS NULL AND status IN ('new', 'open', 'pending');

-- +goose Down
DROP INDEX tickets_overdue_idx, ticket_reads_ticket_idx;
DROP TRIGGER ticket_reads_queue_counts_truncate ON ticket_reads;
DROP TRIGGER tickets_queue_counts_truncate ON tickets;
DROP TRIGGER tickets_recount_reads ON tickets;
DROP TRIGGER ticket_reads_uncount ON ticket_reads;
DROP TRIGGER ticket_reads_book ON ticket_reads;
DROP TRIGGER ticket_reads_count ON ticket_reads;
DROP TRIGGER tickets_queue_counts ON tickets;
DROP FUNCTION queue_counts_rebuild(), queue_counts_truncate(), tickets_recount_reads(), ticket_reads_uncount(),
    ticket_reads_book(), ticket_reads_count(), tickets_queue_counts(), unread_adjustment(text, timestamptz, bigint, bigint);
ALTER TABLE ticket_reads DROP COLUMN counted_channel_id, DROP COLUMN counted;
DROP TABLE unread_adjustments, queue_counts;
