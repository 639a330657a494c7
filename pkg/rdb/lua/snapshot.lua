-- snapshot reads the stream's last id and the playback state in one step,
-- so a play/pause/seek can never fall between the two reads.
--
-- KEYS[1] -> wp:{<party>}:events, the party's stream
-- KEYS[2] -> wp:{<party>}:playback, the playback state (hash)
--
-- Returns {last_id, state, position_ms, updated_at}: last_id "0-0" for an
-- empty stream, state "" and position_ms "0" and updated_at "" when unset.
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local id = '0-0'
if #last == 1 then id = last[1][1] end
local pb = redis.call('HMGET', KEYS[2], 'state', 'position_ms', 'updated_at')
return {id, pb[1] or '', pb[2] or '0', pb[3] or ''}
