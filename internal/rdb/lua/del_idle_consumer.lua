-- del_idle_consumer deletes a consumer only if it holds nothing pending, in
-- one step: deleting a consumer drops its pending entries, and one that
-- read between a check and a separate delete would lose them.
--
-- KEYS[1] -> wp:{<party>}:events, the party's stream
-- ARGV[1] -> the consumer group ("flushers")
-- ARGV[2] -> the consumer's name
--
-- Returns 1 when deleted, 0 when it holds pending entries.
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
