-- The roles are cluster-wide and other databases may use them: only this
-- database's grants are taken back; DROP ROLE is left to an administrator.
REVOKE ALL ON watch_parties, watch_party_chats, watch_party_likes, watch_party_logs, watch_party_viewer_counts
    FROM watchparty_gateway, watchparty_flusher;
DO $$
BEGIN
    EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM watchparty_gateway, watchparty_flusher', current_schema());
    EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM watchparty_gateway, watchparty_flusher', current_database());
END
$$;
