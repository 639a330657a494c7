-- server_time returns the TIME of the server holding a key, so that every
-- caller judging times by it (replays judging claims on wp:dlq) uses one
-- clock, also on Redis Cluster.
--
-- KEYS[1] -> the key whose server answers (wp:dlq), not read by the script
--
-- Returns {seconds, microseconds} since the Unix epoch.
return redis.call('TIME')
