-- Erasure of a person's data (`flusher erase-user`). Each row says: events
-- of user_id in party_id (the nil UUID: in every party) created at or
-- before erased_at are not to be stored. The flusher's writer reads the
-- rows of a batch's users in the batch's transaction and leaves those
-- events out, so an event read before an erasure and written after it,
-- or replayed from the dead-letter list later, never comes back.
CREATE TABLE IF NOT EXISTS watch_party_erasures (
    user_id text NOT NULL,
    party_id uuid NOT NULL,
    erased_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, party_id)
);

-- Finding a person's rows without reading whole tables. (Likes are keyed
-- by party first; the other two by party and event.)
CREATE INDEX IF NOT EXISTS watch_party_chats_user_idx ON watch_party_chats (user_id);
CREATE INDEX IF NOT EXISTS watch_party_likes_user_idx ON watch_party_likes (user_id);
CREATE INDEX IF NOT EXISTS watch_party_logs_user_idx ON watch_party_logs (user_id);

-- The flusher reads erasures when it writes (pkg/store/writer.go).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'watchparty_flusher') THEN
        GRANT SELECT ON watch_party_erasures TO watchparty_flusher;
    END IF;
END
$$;
