-- Back to keys on event_id alone. Fails, changing nothing, if one event_id
-- was stored for two parties while the keys included party_id.
DO $$
DECLARE
    t  text;
    pk text;
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
        ) = ARRAY['event_id'] THEN
            CONTINUE;
        END IF;
        IF pk IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', t, pk);
        END IF;
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY (event_id)', t, t || '_pkey');
    END LOOP;
END
$$;
