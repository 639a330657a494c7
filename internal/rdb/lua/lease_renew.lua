-- lease_renew extends the lease only while the caller still holds it: a
-- compare-and-set on the holder token. It never takes a free lease: a pass
-- whose lease lapsed may have overlapped another replica's, and stops.
--
-- KEYS[1] -> wp:scheduler:lease, the lease
-- ARGV[1] -> the caller's holder token
-- ARGV[2] -> the lease's time to live (milliseconds)
--
-- Returns 1 when renewed, 0 when the caller no longer holds it.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
