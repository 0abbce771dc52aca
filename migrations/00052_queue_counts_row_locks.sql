-- +goose Up
-- A first read of a ticket waited on an advisory lock per ticket, taken shared in
-- the read and exclusively by the ticket's recount at commit. Advisory locks live
-- in the shared lock table, so one statement storing tens of thousands of read
-- rows ran out of shared memory. A first read now locks the ticket row FOR SHARE
-- instead (row locks are kept in the rows), and the recount needs no lock of its
-- own: the update it recounts already holds the row.

-- +goose StatementBegin
-- A read row stored, or its seen_seq set (also by the recount below): work out what
-- it adds now and to which channel, into counted and counted_channel_id.
--
-- Racing a change to the ticket (an arrival), which recounts the ticket's read rows
-- when it commits (tickets_recount_reads): an existing read row is serialised with
-- that recount by its row lock (whichever runs second sees the other committed). A
-- new read row is invisible to the recount until it commits, so it first locks the
-- ticket FOR SHARE: it waits for an uncommitted change to the ticket and then sees
-- it, or the change waits for the read and its recount sees the new row. Only a
-- first read can wait so; opening a ticket read before never waits for an arrival.
CREATE OR REPLACE FUNCTION ticket_reads_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t record;
BEGIN
    IF TG_OP = 'INSERT' AND NOT EXISTS (SELECT 1 FROM ticket_reads
                                         WHERE agent_id = NEW.agent_id AND ticket_id = NEW.ticket_id) THEN
        PERFORM 1 FROM tickets WHERE id = NEW.ticket_id FOR SHARE;
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

-- +goose StatementBegin
-- A change to what a ticket's read rows add (status, snooze, channel, an arrival)
-- recounts them (setting seen_seq to itself runs ticket_reads_count). At commit
-- rather than at the UPDATE: the recount locks the read rows until the commit, and
-- an agent opening the ticket while an arrival's transaction is open must not wait
-- for it; reads stored meanwhile are recounted here.
CREATE OR REPLACE FUNCTION tickets_recount_reads() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ticket_reads SET seen_seq = seen_seq WHERE ticket_id = NEW.id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- Nothing to undo: these functions work with the triggers of 00050 as they are,
-- and the advisory-lock versions fail on bulk reads.
