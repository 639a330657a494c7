DROP INDEX IF EXISTS watch_party_chats_deleted_by_idx;
