DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'watchparty_gateway') THEN
        REVOKE SELECT ON watch_party_chats FROM watchparty_gateway;
    END IF;
END
$$;
DROP INDEX IF EXISTS watch_party_chats_party_stream_idx;
ALTER TABLE watch_party_chats DROP COLUMN IF EXISTS stream_seq;
ALTER TABLE watch_party_chats DROP COLUMN IF EXISTS stream_ms;
