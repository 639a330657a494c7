-- snapshot reads the stream's last id and the playback state in one step,
-- so a play/pause/seek can never fall between the two reads.
--
-- KEYS[1] -> wp:{<party>}:events, the party's stream
-- KEYS[2] -> wp:{<party>}:playback, the playback state (hash)
--
-- Returns {last_id, state, position_ms, updated_at}: last_id is the id of
-- the last entry ever added (also when flushed entries were trimmed away),
-- "0-0" when the stream does not exist; state "" and position_ms "0" and
-- updated_at "" when unset.
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local id = '0-0'
if #last == 1 then
  id = last[1][1]
elseif redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then id = info[i + 1] end
  end
end
local pb = redis.call('HMGET', KEYS[2], 'state', 'position_ms', 'updated_at')
return {id, pb[1] or '', pb[2] or '0', pb[3] or ''}
