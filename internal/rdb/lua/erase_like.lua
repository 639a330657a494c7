-- erase_like takes an erased user's like off a party and, when there was
-- one, announces the party's new like total on its channel, in one step on
-- the party's slot: the announcement comes in order with the likes that
-- appends announce, so every pod following the party can set its total
-- to it (a total only ever rises otherwise).
--
-- KEYS[1] -> wp:{<party>}:likers, users who liked the party (set)
-- ARGV[1] -> the erased user
-- ARGV[2] -> wp:{<party>}:live, the party's channel
--
-- Returns 1 when the user's like was taken off, else 0. The announcement
-- is "!likes <total>" (rdb.LikesMessage).
local removed = redis.call('SREM', KEYS[1], ARGV[1])
if removed == 1 then
  redis.call('SPUBLISH', ARGV[2], '!likes ' .. redis.call('SCARD', KEYS[1]))
end
return removed
