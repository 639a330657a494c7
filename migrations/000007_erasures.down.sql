DROP INDEX IF EXISTS watch_party_logs_user_idx;
DROP INDEX IF EXISTS watch_party_likes_user_idx;
DROP INDEX IF EXISTS watch_party_chats_user_idx;
DROP TABLE IF EXISTS watch_party_erasures;
