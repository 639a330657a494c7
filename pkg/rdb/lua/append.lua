-- append stores a batch of events, each atomically and in order, every
-- event on its own party's keys (on Redis Cluster, all of one slot). For
-- each event it refuses a closed party and a banned user, answers a
-- resent client id with the first entry, refuses a moderation action its
-- user may no longer take, counts the event against the user's rate
-- class (one count per party, user, class and window, shared by every
-- gateway), counts a like once per user, refuses a chat of a muted user,
-- refuses a party whose unflushed backlog is full, then XADDs the event,
-- applies a moderation event to the party's moderation state and
-- announces the entry on the party's sharded channel, so every subscriber
-- sees entries in stream order. One call carries many events because the
-- call itself, not the commands in it, was the largest cost per event.
--
-- Event i (from 1) has eleven KEYS from k + 1, k = 11 × (i - 1), and
-- seventeen ARGV from a + 1, a = 3 + 17 × (i - 1):
-- KEYS[k + 1] -> wp:{<party>}:events, the party's stream
-- KEYS[k + 2] -> wp:{<party>}:ids:<generation>, the current client-id index generation (hash)
-- KEYS[k + 3] -> wp:{<party>}:likers, users who liked the party (set)
-- KEYS[k + 4] -> wp:ended:{<party>}, the closed-to-writes marker
-- KEYS[k + 5] -> wp:{<party>}:playback, the playback state (hash)
-- KEYS[k + 6] -> wp:{<party>}:ids:<generation>, the previous client-id index generation (hash)
-- KEYS[k + 7] -> wp:{<party>}:mutes, muted users (hash: user -> end of the mute, Unix ms)
-- KEYS[k + 8] -> wp:{<party>}:bans, banned users (set)
-- KEYS[k + 9] -> wp:{<party>}:moderators, the host's moderators (set)
-- KEYS[k + 10] -> wp:{<party>}:deleted, event ids of deleted chats (set)
-- KEYS[k + 11] -> wp:{<party>}:rate:<class>:<user>:<window>, the user's count of its rate class's
--                 events in the current window; unused without a class
-- ARGV[1] -> the most unflushed entries a party may hold; 0 means no limit
-- ARGV[2] -> the client-id index generation's time to live (seconds)
-- ARGV[3] -> the most chats of a party deletes may hide; 0 means no limit
-- ARGV[a + 1] -> the event's stream entry form (field "e")
-- ARGV[a + 2] -> the event_id, the client-id index's field
-- ARGV[a + 3] -> "1" when a resent event_id must answer its first entry, else "0"
-- ARGV[a + 4] -> "1" when the event is a like, else "0"
-- ARGV[a + 5] -> the user id (a liker, the actor of a moderation event)
-- ARGV[a + 6] -> wp:{<party>}:live, the channel announcing the entry
-- ARGV[a + 7] -> "play", "pause" or "seek" for a playback event with a position, else ""
-- ARGV[a + 8] -> its position (milliseconds)
-- ARGV[a + 9] -> the event's created_at (RFC 3339, milliseconds)
-- ARGV[a + 10] -> the time now (Unix ms) when the event is a chat, whose user must not be muted; else "0"
-- ARGV[a + 11] -> the moderation event's type ("delete", "mute", "unmute", "kick", "ban", "unban",
--                 "moderator_add", "moderator_remove"), else ""
-- ARGV[a + 12] -> its target: the user acted on, or the event_id of the chat a delete hides
-- ARGV[a + 13] -> the end of a mute (Unix ms), else "0"
-- ARGV[a + 14] -> "1" when the event is refused to a banned user (every event but a leave), else "0"
-- ARGV[a + 15] -> the party's host (user id), against which a moderation event's roles are checked
-- ARGV[a + 16] -> the most events of the rate class one user may send in a window; "0": no rate
-- ARGV[a + 17] -> the window's length (ms), how long its count is kept
--
-- Returns three strings per event, in order: status "ok", "duplicate",
-- "liked", "muted", "closed", "full", "banned", "forbidden",
-- "rate_limited", "deleted_full" or "error"; detail the new or first
-- entry's stream id, for "muted" the end of the mute (Unix ms), for
-- "forbidden" the reason, for "rate_limited" the milliseconds until the
-- window ends, for "error" Redis's error (that event only: the others
-- still run), else ""; likes the like total after a like (as a string),
-- else "-1". The announcement is "<stream id> <likes> <entry>".
local maxBuffered, idTTL, maxDeleted = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])

local function unflushed(stream)
  local n = redis.call('XLEN', stream)
  local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', stream)
  if ok then
    for _, g in ipairs(groups) do
      local f = {}
      for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
      if f['name'] == 'flushers' and type(f['lag']) == 'number' then n = f['lag'] + f['pending'] end
    end
  end
  return n
end

local function moderate(op, target, muteEnd, mutes, bans, moderators, deleted)
  if op == 'delete' then redis.call('SADD', deleted, target)
  elseif op == 'mute' then redis.call('HSET', mutes, target, muteEnd)
  elseif op == 'unmute' then redis.call('HDEL', mutes, target)
  elseif op == 'ban' then redis.call('SADD', bans, target); redis.call('SREM', moderators, target)
  elseif op == 'unban' then redis.call('SREM', bans, target)
  elseif op == 'moderator_add' then redis.call('SADD', moderators, target)
  elseif op == 'moderator_remove' then redis.call('SREM', moderators, target) end
end

local function append(k, a)
  local stream, ids, likers, ended = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4]
  local playback, prevIDs, mutes, bans = KEYS[k + 5], KEYS[k + 6], KEYS[k + 7], KEYS[k + 8]
  local moderators, deleted, rate = KEYS[k + 9], KEYS[k + 10], KEYS[k + 11]
  local entry, eventID, dedup, like, user = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3] == '1', ARGV[a + 4] == '1', ARGV[a + 5]
  local op, target = ARGV[a + 11], ARGV[a + 12]

  if redis.call('EXISTS', ended) == 1 then return 'closed', '', '-1' end
  if ARGV[a + 14] == '1' and redis.call('SISMEMBER', bans, user) == 1 then return 'banned', '', '-1' end
  if dedup then
    local prev = redis.call('HGET', ids, eventID) or redis.call('HGET', prevIDs, eventID)
    if prev then return 'duplicate', prev, '-1' end
  end
  if op ~= '' then
    local host = ARGV[a + 15]
    if user ~= host then
      if op == 'moderator_add' or op == 'moderator_remove' then
        return 'forbidden', 'only the host appoints and removes moderators', '-1'
      end
      if redis.call('SISMEMBER', moderators, user) == 0 then
        return 'forbidden', 'only the host and its moderators can ' .. op, '-1'
      end
      if op ~= 'delete' and redis.call('SISMEMBER', moderators, target) == 1 then
        return 'forbidden', 'only the host can ' .. op .. ' a moderator', '-1'
      end
    end
    if op == 'moderator_add' and redis.call('SISMEMBER', bans, target) == 1 then
      return 'forbidden', 'a banned user cannot be a moderator; unban them first', '-1'
    end
  end
  local limit = ARGV[a + 16]
  if limit ~= '0' then
    local n = redis.call('INCR', rate)
    if n == 1 then redis.call('PEXPIRE', rate, ARGV[a + 17]) end
    if n > tonumber(limit) then return 'rate_limited', tostring(redis.call('PTTL', rate)), '-1' end
  end
  local now = ARGV[a + 10]
  if now ~= '0' then
    local muted = redis.call('HGET', mutes, user)
    if muted and tonumber(muted) > tonumber(now) then return 'muted', muted, '-1' end
  end
  local likes = -1
  if like then
    if redis.call('SADD', likers, user) == 0 then return 'liked', '', tostring(redis.call('SCARD', likers)) end
    likes = redis.call('SCARD', likers)
  end
  if maxBuffered > 0 and redis.call('XLEN', stream) >= maxBuffered and unflushed(stream) >= maxBuffered then
    if likes >= 0 then redis.call('SREM', likers, user) end
    return 'full', '', '-1'
  end
  if op == 'delete' and maxDeleted > 0 and redis.call('SISMEMBER', deleted, target) == 0
      and redis.call('SCARD', deleted) >= maxDeleted then
    return 'deleted_full', '', '-1'
  end
  local id = redis.call('XADD', stream, '*', 'e', entry)
  if dedup then
    redis.call('HSET', ids, eventID, id)
    if redis.call('TTL', ids) < 0 then redis.call('EXPIRE', ids, idTTL) end
  end
  local state = ARGV[a + 7]
  if state ~= '' then
    redis.call('HSET', playback, 'position_ms', ARGV[a + 8], 'updated_at', ARGV[a + 9])
    if state == 'play' then redis.call('HSET', playback, 'state', 'playing')
    elseif state == 'pause' then redis.call('HSET', playback, 'state', 'paused')
    else redis.call('HSETNX', playback, 'state', 'paused') end
  end
  if op ~= '' then moderate(op, target, ARGV[a + 13], mutes, bans, moderators, deleted) end
  redis.call('SPUBLISH', ARGV[a + 6], id .. ' ' .. likes .. ' ' .. entry)
  return 'ok', id, tostring(likes)
end

local out, n = {}, 0
for k = 0, #KEYS - 11, 11 do
  local ok, status, detail, likes = pcall(append, k, 3 + 17 * (k / 11))
  if not ok then
    local err = status
    if type(err) == 'table' then err = err.err end
    status, detail, likes = 'error', tostring(err), '-1'
  end
  out[n + 1], out[n + 2], out[n + 3] = status, detail, likes
  n = n + 3
end
return out
