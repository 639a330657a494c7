DROP INDEX IF EXISTS watch_parties_host_status_idx;
