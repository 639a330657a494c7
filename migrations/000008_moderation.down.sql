DROP INDEX IF EXISTS watch_party_logs_deletes_idx;
ALTER TABLE watch_party_chats DROP COLUMN IF EXISTS deleted_by, DROP COLUMN IF EXISTS deleted_at;
ALTER TABLE watch_party_logs
    DROP COLUMN IF EXISTS until,
    DROP COLUMN IF EXISTS target_event_id,
    DROP COLUMN IF EXISTS target_user_id;
DELETE FROM watch_party_logs WHERE action NOT IN ('join', 'leave', 'play', 'pause', 'seek');
ALTER TABLE watch_party_logs DROP CONSTRAINT IF EXISTS watch_party_logs_action_check;
ALTER TABLE watch_party_logs ADD CONSTRAINT watch_party_logs_action_check
    CHECK (action IN ('join', 'leave', 'play', 'pause', 'seek'));
