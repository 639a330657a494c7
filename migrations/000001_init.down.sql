DROP TABLE IF EXISTS watch_party_viewer_counts;
DROP TABLE IF EXISTS watch_party_logs;
DROP TABLE IF EXISTS watch_party_likes;
DROP TABLE IF EXISTS watch_party_chats;
DROP TABLE IF EXISTS watch_parties;
