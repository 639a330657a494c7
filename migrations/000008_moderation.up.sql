-- Moderation (docs/protocol.md, "Moderation"). A moderation action is an
-- event like any other: the flusher stores it as a log row whose user_id is
-- the host or moderator who took it, with what it acted on. A delete also
-- marks the chat it hides; the row is kept, and history leaves it out.
ALTER TABLE watch_party_logs DROP CONSTRAINT IF EXISTS watch_party_logs_action_check;
ALTER TABLE watch_party_logs ADD CONSTRAINT watch_party_logs_action_check CHECK (action IN (
    'join', 'leave', 'play', 'pause', 'seek',
    'delete', 'mute', 'unmute', 'kick', 'ban', 'unban', 'moderator_add', 'moderator_remove'));
ALTER TABLE watch_party_logs
    ADD COLUMN IF NOT EXISTS target_user_id text,        -- the user acted on (all but delete)
    ADD COLUMN IF NOT EXISTS target_event_id uuid,       -- the chat a delete hides
    ADD COLUMN IF NOT EXISTS until timestamptz;          -- when a mute ends

ALTER TABLE watch_party_chats
    ADD COLUMN IF NOT EXISTS deleted_at timestamptz,     -- when the delete was accepted
    ADD COLUMN IF NOT EXISTS deleted_by text;            -- the host or moderator who deleted it

-- A chat written after its delete (replayed from the dead-letter list) is
-- marked from the delete's log row: the writer reads the replayed batch's
-- parties' deletes here.
CREATE INDEX IF NOT EXISTS watch_party_logs_deletes_idx
    ON watch_party_logs (party_id, target_event_id) WHERE action = 'delete';

-- The flusher marks deleted chats (pkg/store/writer.go).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'watchparty_flusher') THEN
        GRANT UPDATE (deleted_at, deleted_by) ON watch_party_chats TO watchparty_flusher;
    END IF;
END
$$;
