-- The gateway counts a host's SCHEDULED and ONGOING parties on every create
-- (WATCH_PARTY_MAX_ACTIVE_PARTIES_PER_HOST); this keeps that count an index
-- lookup however many parties the table holds.
CREATE INDEX IF NOT EXISTS watch_parties_host_status_idx ON watch_parties (host_user_id, status);
