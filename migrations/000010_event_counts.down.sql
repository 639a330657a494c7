DROP TABLE IF EXISTS watch_party_counted_replays;
DROP TABLE IF EXISTS watch_party_event_counts;
