-- A host's request to end an ONGOING party early. The scheduler finishes a
-- party whose end_time has come or whose end_requested_at is set, so both
-- endings take the same path. Nullable: parties inserted by other systems
-- need not know about it.
ALTER TABLE watch_parties ADD COLUMN IF NOT EXISTS end_requested_at timestamptz;
