-- user_conns counts one user's open connections across gateway pods, one
-- entry per pod, and drops entries of pods that stopped refreshing, all in
-- one step on the user's slot. An "add" changes this pod's count; an add of
-- 1 is refused when the user's live total is at the cap, so two pods racing
-- for the last slot cannot both take it. A "set" writes this pod's true
-- count (the pod's refresh), unless the entry holds a change numbered after
-- it: a refresh must not undo a change that reached Redis before it. A count
-- of 0 removes the pod's entry; the hash expires with its newest entry.
--
-- KEYS[1] -> wp:user:{<user id in hex>}:conns, hash: pod -> "count:expires_ms:seq"
-- ARGV[1] -> this pod's name
-- ARGV[2] -> "add" or "set"
-- ARGV[3] -> add: the change, 1 or -1; set: this pod's count
-- ARGV[4] -> the pod's number of this change (seq), rising with each change the pod makes
-- ARGV[5] -> the cap on the user's total across live pods that an add of 1 may not pass; 0 for none
-- ARGV[6] -> when this pod's entry expires (unix milliseconds)
-- ARGV[7] -> now (unix milliseconds)
--
-- Returns {1 if the change was made else 0, the user's total across live pods after it}.
local pod, now = ARGV[1], tonumber(ARGV[7])
local total, mine, seq = 0, 0, nil
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  local n, exp, s = string.match(entries[i + 1], '^(%d+):(%d+):(%d+)$')
  if n and tonumber(exp) > now then
    total = total + tonumber(n)
    if entries[i] == pod then
      mine, seq = tonumber(n), s
    end
  else
    redis.call('HDEL', KEYS[1], entries[i])
  end
end

local value, at = tonumber(ARGV[3]), ARGV[4]
local n
if ARGV[2] == 'add' then
  local cap = tonumber(ARGV[5])
  if value > 0 and cap > 0 and total + value > cap then
    return {0, total}
  end
  n = math.max(mine + value, 0)
  if seq == nil or tonumber(at) > tonumber(seq) then
    seq = at
  end
elseif ARGV[2] == 'set' then
  if seq ~= nil and tonumber(at) < tonumber(seq) then
    return {0, total}
  end
  n, seq = value, at
else
  return redis.error_reply('user_conns: unknown operation ' .. ARGV[2])
end

total = total - mine + n
if n > 0 then
  redis.call('HSET', KEYS[1], pod, n .. ':' .. ARGV[6] .. ':' .. seq)
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[6]) - now then
    redis.call('PEXPIREAT', KEYS[1], ARGV[6])
  end
else
  redis.call('HDEL', KEYS[1], pod)
end
return {1, total}
