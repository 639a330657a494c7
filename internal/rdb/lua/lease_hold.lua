-- lease_hold renews the lease when the caller holds it, or takes it when
-- nobody does.
--
-- KEYS[1] -> wp:scheduler:lease, the lease
-- ARGV[1] -> the caller's holder token
-- ARGV[2] -> the lease's time to live (milliseconds)
--
-- Returns 1 when the caller holds the lease, 0 when another does.
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
