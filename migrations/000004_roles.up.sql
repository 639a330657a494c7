-- Least privilege: two NOLOGIN group roles holding exactly what each binary
-- needs. Operators create login roles IN ROLE one of them (README
-- "Database roles"); `flusher migrate` keeps running as the owner.
--
-- Roles are cluster-wide while migrations run per database, and several
-- databases may be migrated at once: a role another migration created
-- between our check and our CREATE shows up as duplicate_object or, in the
-- catalog's unique index, unique_violation, and either means it exists.
-- When the roles already exist (created by an administrator), the owner
-- needs no CREATEROLE.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['watchparty_gateway', 'watchparty_flusher'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO watchparty_gateway, watchparty_flusher', current_database());
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO watchparty_gateway, watchparty_flusher', current_schema());
END
$$;

-- Gateway (pkg/store/parties.go through the REST API and the join check):
-- reads, creates, ends (end_requested_at) and cancels parties, counts a
-- host's active parties, and counts flushed likes. Nothing else.
GRANT SELECT, INSERT, UPDATE ON watch_parties TO watchparty_gateway;
GRANT SELECT ON watch_party_likes TO watchparty_gateway;

-- Flusher (pkg/store: writer, partycheck, schedule; dlq replay uses the
-- writer): scheduler transitions and peak_viewers (UPDATE), the FOR KEY
-- SHARE lock on parties (needs UPDATE), and writing events by COPY or
-- INSERT ... ON CONFLICT DO NOTHING into the four event tables (SELECT for
-- checking what a replay wrote). No DELETE, no party INSERT.
GRANT SELECT, UPDATE ON watch_parties TO watchparty_flusher;
GRANT SELECT, INSERT ON watch_party_chats, watch_party_likes, watch_party_logs, watch_party_viewer_counts
    TO watchparty_flusher;
