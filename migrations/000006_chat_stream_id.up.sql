-- Chats keep the Redis stream id they were appended under, as its two
-- numbers, so the chat history API can merge rows with entries still only in
-- the stream in one order (the stream's) and page by stream id.
--
-- Rows written before this migration get an id made from created_at (the
-- millisecond) and their order within it; new rows carry the real id.
ALTER TABLE watch_party_chats ADD COLUMN IF NOT EXISTS stream_ms bigint;
ALTER TABLE watch_party_chats ADD COLUMN IF NOT EXISTS stream_seq bigint;

UPDATE watch_party_chats c
SET stream_ms = o.ms, stream_seq = o.seq
FROM (
    SELECT party_id, event_id,
           (extract(epoch FROM created_at) * 1000)::bigint AS ms,
           row_number() OVER (PARTITION BY party_id, date_trunc('milliseconds', created_at)
                              ORDER BY created_at, event_id) - 1 AS seq
    FROM watch_party_chats
    WHERE stream_ms IS NULL
) o
WHERE c.party_id = o.party_id AND c.event_id = o.event_id;

ALTER TABLE watch_party_chats ALTER COLUMN stream_ms SET NOT NULL;
ALTER TABLE watch_party_chats ALTER COLUMN stream_seq SET NOT NULL;

CREATE INDEX IF NOT EXISTS watch_party_chats_party_stream_idx
    ON watch_party_chats (party_id, stream_ms DESC, stream_seq DESC);

-- The gateway reads chat history (GET /api/parties/{id}/chats, welcome).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'watchparty_gateway') THEN
        GRANT SELECT ON watch_party_chats TO watchparty_gateway;
    END IF;
END
$$;
