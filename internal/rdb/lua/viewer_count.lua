-- viewer_count sets this pod's count for a party (unless ARGV[1] is empty),
-- drops entries of pods that stopped refreshing, raises the party's peak and
-- returns the total, all in one step on the party's slot. A closed party is
-- only read: a late leave must not recreate keys that cleanup removed. The
-- viewers hash expires with its newest entry.
--
-- KEYS[1] -> wp:{<party>}:viewers, hash: pod -> "count:expires_ms"
-- KEYS[2] -> wp:{<party>}:peak, the highest total seen
-- KEYS[3] -> wp:ended:{<party>}, the closed-to-writes marker
-- ARGV[1] -> this pod's name, or "" to only read
-- ARGV[2] -> this pod's count (viewers)
-- ARGV[3] -> when this pod's entry expires (unix milliseconds)
-- ARGV[4] -> now (unix milliseconds)
--
-- Returns the party's viewer total across live pods.
if ARGV[1] ~= '' and redis.call('EXISTS', KEYS[3]) == 1 then
  ARGV[1] = ''
end
if ARGV[1] ~= '' then
  if tonumber(ARGV[2]) > 0 then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3])
    if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) - tonumber(ARGV[4]) then
      redis.call('PEXPIREAT', KEYS[1], ARGV[3])
    end
  else
    redis.call('HDEL', KEYS[1], ARGV[1])
  end
end
local now = tonumber(ARGV[4])
local total = 0
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  local n, exp = string.match(entries[i + 1], '^(%d+):(%d+)$')
  if n and tonumber(exp) > now then
    total = total + tonumber(n)
  else
    redis.call('HDEL', KEYS[1], entries[i])
  end
end
if ARGV[1] ~= '' and total > tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('SET', KEYS[2], total)
end
return total
