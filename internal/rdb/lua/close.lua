-- close closes a party to writes and tells every pod following it, in one
-- step on the party's slot, so that no event can be appended after viewers
-- were told the party ended.
--
-- KEYS[1] -> wp:ended:{<party>}, the closed-to-writes marker
-- ARGV[1] -> wp:{<party>}:live, the party's channel
-- ARGV[2] -> how long the marker lives (seconds)
--
-- Returns 1. The announcement is "!ended" (rdb.EndedMessage).
redis.call('SET', KEYS[1], '1', 'EX', ARGV[2])
redis.call('SPUBLISH', ARGV[1], '!ended')
return 1
