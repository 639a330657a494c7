ALTER TABLE watch_parties DROP COLUMN IF EXISTS end_requested_at;
