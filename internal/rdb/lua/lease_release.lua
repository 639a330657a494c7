-- lease_release gives the lease up only when the caller holds it.
--
-- KEYS[1] -> wp:scheduler:lease, the lease
-- ARGV[1] -> the caller's holder token
--
-- Returns 1 when released, 0 when the caller did not hold it.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
