-- dlq_replace replaces one element of the list, found by its whole value,
-- with another, or removes it. Comparing the whole element makes it a
-- compare-and-swap: it fails when anyone claimed, updated or removed the
-- element since it was read.
--
-- The caller passes the index where it read the element. Elements only
-- ever move toward the head (flushers append at the tail, replays remove),
-- so the element is there unless another replay removed some ahead of it;
-- only then is the list searched from the head. Looking an index up walks
-- the list's nodes, not its elements, so a replay of the whole list stays
-- about linear in its length, where a search per element was quadratic.
--
-- Redis cannot remove by index: the element is overwritten with a marker
-- that no batch can equal, which LREM then removes scanning from the nearer
-- end, comparing lengths only, or popped when it is at the head.
--
-- KEYS[1] -> wp:dlq, the dead-letter list
-- ARGV[1] -> the index the element was read at (a hint)
-- ARGV[2] -> the element as read
-- ARGV[3] -> its replacement, or "" to remove it
-- ARGV[4] -> the removal marker, never a batch
--
-- Returns 1 when done, 0 when the element is no longer in the list.
local i = tonumber(ARGV[1])
if redis.call('LINDEX', KEYS[1], i) ~= ARGV[2] then
  i = redis.call('LPOS', KEYS[1], ARGV[2])
  if not i then return 0 end
end
if ARGV[3] ~= '' then
  redis.call('LSET', KEYS[1], i, ARGV[3])
  return 1
end
if i == 0 then
  redis.call('LPOP', KEYS[1])
  return 1
end
redis.call('LSET', KEYS[1], i, ARGV[4])
if i > redis.call('LLEN', KEYS[1]) / 2 then
  redis.call('LREM', KEYS[1], -1, ARGV[4])
else
  redis.call('LREM', KEYS[1], 1, ARGV[4])
end
return 1
