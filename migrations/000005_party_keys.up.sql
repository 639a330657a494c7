-- Key watch_party_chats and watch_party_logs by (party_id, event_id), as
-- watch_party_likes and watch_party_viewer_counts already are by party:
-- every event table's primary key then starts with party_id, so a
-- distributed PostgreSQL (Citus: distribute by party_id) can place a party's
-- rows together and still enforce the keys, which must contain the
-- distribution column. Writes stay idempotent: an event's id is random
-- (UUIDv7) or derived from its party, user and client message id, so the
-- same event always carries the same (party_id, event_id). created_at is
-- deliberately not part of the key: a client's resend of the same id after
-- the gateway's client-id index has expired is a new stream entry with a
-- later created_at, and must still be stored once.
--
-- The (party_id, created_at) indexes stay: they serve a party's events in
-- time order (the newest chats of a party), which the new keys, ordered by
-- event_id, do not.
--
-- Rebuilding a key holds an ACCESS EXCLUSIVE lock on the table while the
-- new index is built (docs/schema.md gives figures). On a big table, build
-- the index beforehand without blocking writes,
--     CREATE UNIQUE INDEX CONCURRENTLY watch_party_chats_party_event_key
--         ON watch_party_chats (party_id, event_id);
-- (likewise watch_party_logs_party_event_key), and this migration adopts it
-- as the primary key in milliseconds.
--
-- Re-runnable: a table whose key already is (party_id, event_id) is left
-- alone.
DO $$
DECLARE
    t   text;
    pk  text;
    pre text;
BEGIN
    FOREACH t IN ARRAY ARRAY['watch_party_chats', 'watch_party_logs'] LOOP
        SELECT c.conname INTO pk
        FROM pg_catalog.pg_constraint c
        WHERE c.conrelid = t::regclass AND c.contype = 'p';
        IF pk IS NOT NULL AND (
            SELECT array_agg(a.attname::text ORDER BY k.n)
            FROM pg_catalog.pg_constraint c,
                 unnest(c.conkey) WITH ORDINALITY AS k (attnum, n)
                 JOIN pg_catalog.pg_attribute a ON a.attrelid = t::regclass AND a.attnum = k.attnum
            WHERE c.conrelid = t::regclass AND c.conname = pk
        ) = ARRAY['party_id', 'event_id'] THEN
            CONTINUE;
        END IF;
        IF pk IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', t, pk);
        END IF;
        pre := t || '_party_event_key';
        IF to_regclass(quote_ident(pre)) IS NOT NULL THEN
            -- Fails, changing nothing, if the index is not a valid unique
            -- index on exactly (party_id, event_id): drop it and rebuild it.
            EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY USING INDEX %I', t, t || '_pkey', pre);
            IF (
                SELECT array_agg(a.attname::text ORDER BY k.n)
                FROM pg_catalog.pg_constraint c,
                     unnest(c.conkey) WITH ORDINALITY AS k (attnum, n)
                     JOIN pg_catalog.pg_attribute a ON a.attrelid = t::regclass AND a.attnum = k.attnum
                WHERE c.conrelid = t::regclass AND c.contype = 'p'
            ) IS DISTINCT FROM ARRAY['party_id', 'event_id'] THEN
                RAISE EXCEPTION 'index % is not on (party_id, event_id): drop it and build it again', pre;
            END IF;
        ELSE
            EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY (party_id, event_id)', t, t || '_pkey');
        END IF;
    END LOOP;
END
$$;
