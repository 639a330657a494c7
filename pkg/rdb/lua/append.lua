-- append stores one event atomically on the party's slot: it refuses a
-- closed party and a banned user, answers a resent client id with the
-- first entry, refuses a moderation action its user may no longer take,
-- counts the event against the user's rate class (one count per party,
-- user, class and window, shared by every gateway), counts a like once per user, refuses a
-- chat of a muted user, refuses a party whose unflushed backlog is full,
-- then XADDs the event, applies a moderation event to the party's
-- moderation state and announces the entry on the party's sharded
-- channel, so every subscriber sees entries in stream order.
--
-- KEYS[1] -> wp:{<party>}:events, the party's stream
-- KEYS[2] -> wp:{<party>}:ids:<generation>, the current client-id index generation (hash)
-- KEYS[3] -> wp:{<party>}:likers, users who liked the party (set)
-- KEYS[4] -> wp:ended:{<party>}, the closed-to-writes marker
-- KEYS[5] -> wp:{<party>}:playback, the playback state (hash)
-- KEYS[6] -> wp:{<party>}:ids:<generation>, the previous client-id index generation (hash)
-- KEYS[7] -> wp:{<party>}:mutes, muted users (hash: user -> end of the mute, Unix ms)
-- KEYS[8] -> wp:{<party>}:bans, banned users (set)
-- KEYS[9] -> wp:{<party>}:moderators, the host's moderators (set)
-- KEYS[10] -> wp:{<party>}:deleted, event ids of deleted chats (set)
-- KEYS[11] -> wp:{<party>}:rate:<class>:<user>:<window>, the user's count of its rate class's
--             events in the current window; unused without a class
-- ARGV[1] -> the event's stream entry form (field "e")
-- ARGV[2] -> the event_id, the client-id index's field
-- ARGV[3] -> "1" when a resent event_id must answer its first entry, else "0"
-- ARGV[4] -> "1" when the event is a like, else "0"
-- ARGV[5] -> the user id (a liker, the actor of a moderation event)
-- ARGV[6] -> the most unflushed entries the party may hold; 0 means no limit
-- ARGV[7] -> wp:{<party>}:live, the channel announcing the entry
-- ARGV[8] -> "play", "pause" or "seek" for a playback event with a position, else ""
-- ARGV[9] -> its position (milliseconds)
-- ARGV[10] -> the event's created_at (RFC 3339, milliseconds)
-- ARGV[11] -> the client-id index generation's time to live (seconds)
-- ARGV[12] -> the time now (Unix ms) when the event is a chat, whose user must not be muted; else "0"
-- ARGV[13] -> the moderation event's type ("delete", "mute", "unmute", "kick", "ban", "unban",
--             "moderator_add", "moderator_remove"), else ""
-- ARGV[14] -> its target: the user acted on, or the event_id of the chat a delete hides
-- ARGV[15] -> the end of a mute (Unix ms), else "0"
-- ARGV[16] -> "1" when the event is refused to a banned user (every event but a leave), else "0"
-- ARGV[17] -> the party's host (user id), against which a moderation event's roles are checked
-- ARGV[18] -> the most events of the rate class one user may send in a window; "0": no rate
-- ARGV[19] -> the window's length (ms), how long its count is kept
-- ARGV[20] -> the most chats of the party deletes may hide; 0 means no limit
--
-- Returns {status, detail, likes}: status "ok", "duplicate", "liked",
-- "muted", "closed", "full", "banned", "forbidden", "rate_limited" or
-- "deleted_full"; detail the new or first entry's stream id, for "muted"
-- the end of the mute (Unix ms), for "forbidden" the reason, for
-- "rate_limited" the milliseconds until the window ends, else ""; likes
-- the like total after a like (as a string), else "-1". The announcement
-- is "<stream id> <likes> <entry>".
if redis.call('EXISTS', KEYS[4]) == 1 then return {'closed', '', '-1'} end
if ARGV[16] == '1' and redis.call('SISMEMBER', KEYS[8], ARGV[5]) == 1 then return {'banned', '', '-1'} end
if ARGV[3] == '1' then
  local prev = redis.call('HGET', KEYS[2], ARGV[2]) or redis.call('HGET', KEYS[6], ARGV[2])
  if prev then return {'duplicate', prev, '-1'} end
end
local op, target = ARGV[13], ARGV[14]
if op ~= '' then
  local actor, host = ARGV[5], ARGV[17]
  if actor ~= host then
    if op == 'moderator_add' or op == 'moderator_remove' then
      return {'forbidden', 'only the host appoints and removes moderators', '-1'}
    end
    if redis.call('SISMEMBER', KEYS[9], actor) == 0 then
      return {'forbidden', 'only the host and its moderators can ' .. op, '-1'}
    end
    if op ~= 'delete' and redis.call('SISMEMBER', KEYS[9], target) == 1 then
      return {'forbidden', 'only the host can ' .. op .. ' a moderator', '-1'}
    end
  end
  if op == 'moderator_add' and redis.call('SISMEMBER', KEYS[8], target) == 1 then
    return {'forbidden', 'a banned user cannot be a moderator; unban them first', '-1'}
  end
end
if ARGV[18] ~= '0' then
  local n = redis.call('INCR', KEYS[11])
  if n == 1 then redis.call('PEXPIRE', KEYS[11], ARGV[19]) end
  if n > tonumber(ARGV[18]) then return {'rate_limited', tostring(redis.call('PTTL', KEYS[11])), '-1'} end
end
if ARGV[12] ~= '0' then
  local muted = redis.call('HGET', KEYS[7], ARGV[5])
  if muted and tonumber(muted) > tonumber(ARGV[12]) then return {'muted', muted, '-1'} end
end
local likes = -1
if ARGV[4] == '1' then
  if redis.call('SADD', KEYS[3], ARGV[5]) == 0 then
    return {'liked', '', tostring(redis.call('SCARD', KEYS[3]))}
  end
  likes = redis.call('SCARD', KEYS[3])
end
local max = tonumber(ARGV[6])
if max > 0 and redis.call('XLEN', KEYS[1]) >= max then
  local unflushed = redis.call('XLEN', KEYS[1])
  local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
  if ok then
    for _, g in ipairs(groups) do
      local f = {}
      for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
      if f['name'] == 'flushers' and type(f['lag']) == 'number' then
        unflushed = f['lag'] + f['pending']
      end
    end
  end
  if unflushed >= max then
    if likes >= 0 then redis.call('SREM', KEYS[3], ARGV[5]) end
    return {'full', '', '-1'}
  end
end
if op == 'delete' and tonumber(ARGV[20]) > 0 and redis.call('SISMEMBER', KEYS[10], target) == 0
    and redis.call('SCARD', KEYS[10]) >= tonumber(ARGV[20]) then
  return {'deleted_full', '', '-1'}
end
local id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[1])
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[2], ARGV[2], id)
  if redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], ARGV[11]) end
end
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[5], 'position_ms', ARGV[9], 'updated_at', ARGV[10])
  if ARGV[8] == 'play' then redis.call('HSET', KEYS[5], 'state', 'playing')
  elseif ARGV[8] == 'pause' then redis.call('HSET', KEYS[5], 'state', 'paused')
  else redis.call('HSETNX', KEYS[5], 'state', 'paused') end
end
if op == 'delete' then redis.call('SADD', KEYS[10], target)
elseif op == 'mute' then redis.call('HSET', KEYS[7], target, ARGV[15])
elseif op == 'unmute' then redis.call('HDEL', KEYS[7], target)
elseif op == 'ban' then redis.call('SADD', KEYS[8], target); redis.call('SREM', KEYS[9], target)
elseif op == 'unban' then redis.call('SREM', KEYS[8], target)
elseif op == 'moderator_add' then redis.call('SADD', KEYS[9], target)
elseif op == 'moderator_remove' then redis.call('SREM', KEYS[9], target) end
redis.call('SPUBLISH', ARGV[7], id .. ' ' .. likes .. ' ' .. ARGV[1])
return {'ok', id, tostring(likes)}
