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
-- Each event takes seven KEYS from k + 1 and ten ARGV from a + 1 (k = 0
-- and a = 3 for the first event), then the KEYS and ARGV of its kind,
-- named by ARGV[a + 10]: a like's KEYS from l + 1, a playback event's KEYS
-- from p + 1 and ARGV from pa + 1, a moderation event's KEYS from m + 1
-- and ARGV from ma + 1 (l = p = m = k + 7, pa = ma = a + 10); the next
-- event's start after them. An event carries
-- only what its kind uses: each name costs Redis a string per event.
-- KEYS[k + 1] -> wp:{<party>}:events, the party's stream
-- KEYS[k + 2] -> wp:{<party>}:ids:<generation>, the current client-id index generation (hash)
-- KEYS[k + 3] -> wp:{<party>}:ids:<generation>, the previous client-id index generation (hash)
-- KEYS[k + 4] -> wp:ended:{<party>}, the closed-to-writes marker
-- KEYS[k + 5] -> wp:{<party>}:mutes, muted users (hash: user -> end of the mute, Unix ms)
-- KEYS[k + 6] -> wp:{<party>}:bans, banned users (set)
-- KEYS[k + 7] -> wp:{<party>}:rate:<class>:<user>:<window>, the user's count of its rate class's
--                events in the current window; without a class the stream, not read by the script
-- KEYS[l + 1] -> wp:{<party>}:likers, users who liked the party (set), of a like
-- KEYS[p + 1] -> wp:{<party>}:playback, the playback state (hash), of a playback event
-- KEYS[m + 1] -> wp:{<party>}:moderators, the host's moderators (set), of a moderation event
-- KEYS[m + 2] -> wp:{<party>}:deleted, event ids of deleted chats (set), of a moderation event
-- ARGV[1] -> the most unflushed entries a party may hold; 0 means no limit
-- ARGV[2] -> the client-id index generation's time to live (seconds)
-- ARGV[3] -> the most chats of a party deletes may hide; 0 means no limit
-- ARGV[a + 1] -> the event's stream entry form (field "e")
-- ARGV[a + 2] -> the event_id, the client-id index's field
-- ARGV[a + 3] -> "1" when a resent event_id must answer its first entry, "2" for that and to
--                give the current generation its time to live if it has none, else "0"
-- ARGV[a + 4] -> the user id (a liker, the actor of a moderation event)
-- ARGV[a + 5] -> wp:{<party>}:live, the channel announcing the entry
-- ARGV[a + 6] -> the time now (Unix ms) when the event is a chat, whose user must not be muted; else "0"
-- ARGV[a + 7] -> "1" when the event is refused to a banned user (every event but a leave), else "0"
-- ARGV[a + 8] -> the most events of the rate class one user may send in a window; "0": no rate
-- ARGV[a + 9] -> the window's length (ms), how long its count is kept
-- ARGV[a + 10] -> its kind when that kind has KEYS or ARGV of its own: "like", "playback" or
--                 "moderation"; else ""
-- ARGV[pa + 1] -> a playback event's "play", "pause" or "seek"
-- ARGV[pa + 2] -> its position (milliseconds)
-- ARGV[pa + 3] -> its created_at (RFC 3339, milliseconds)
-- ARGV[ma + 1] -> a moderation event's type ("delete", "mute", "unmute", "kick", "ban", "unban",
--                "moderator_add", "moderator_remove")
-- ARGV[ma + 2] -> its target: the user acted on, or the event_id of the chat a delete hides
-- ARGV[ma + 3] -> the end of a mute (Unix ms), else "0"
-- ARGV[ma + 4] -> the party's host (user id), against which its roles are checked
--
-- Returns three strings per event, in order: status "ok", "duplicate",
-- "liked", "muted", "closed", "full", "banned", "forbidden",
-- "rate_limited", "deleted_full" or "error"; detail the new or first
-- entry's stream id, for "muted" the end of the mute (Unix ms), for
-- "forbidden" the reason, for "rate_limited" the milliseconds until the
-- window ends, for "error" Redis's error (that event only: the others
-- still run), else ""; likes the like total after a like (as a string),
-- else "-1". The announcement is "<stream id> <likes> <entry>".
local call = redis.call
local maxBuffered, idTTL, maxDeleted = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])

local function unflushed(stream)
  local n = call('XLEN', stream)
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
  if op == 'delete' then call('SADD', deleted, target)
  elseif op == 'mute' then call('HSET', mutes, target, muteEnd)
  elseif op == 'unmute' then call('HDEL', mutes, target)
  elseif op == 'ban' then call('SADD', bans, target); call('SREM', moderators, target)
  elseif op == 'unban' then call('SREM', bans, target)
  elseif op == 'moderator_add' then call('SADD', moderators, target)
  elseif op == 'moderator_remove' then call('SREM', moderators, target) end
end

local function append(k, a)
  local stream, ids, prevIDs, ended = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4]
  local mutes, bans, rate = KEYS[k + 5], KEYS[k + 6], KEYS[k + 7]
  local entry, eventID, dedup, user = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local kind, op, target = ARGV[a + 10], '', ''
  local like = kind == 'like'
  local l, p, m, pa, ma = k + 7, k + 7, k + 7, a + 10, a + 10 -- where the kind's own start
  local likers, playback, moderators, deleted
  if like then likers = KEYS[l + 1]
  elseif kind == 'playback' then playback = KEYS[p + 1]
  elseif kind == 'moderation' then
    moderators, deleted = KEYS[m + 1], KEYS[m + 2]
    op, target = ARGV[ma + 1], ARGV[ma + 2]
  end

  if call('EXISTS', ended) == 1 then return 'closed', '', '-1' end
  if ARGV[a + 7] == '1' and call('SISMEMBER', bans, user) == 1 then return 'banned', '', '-1' end
  if dedup ~= '0' then
    local prev = call('HGET', ids, eventID) or call('HGET', prevIDs, eventID)
    if prev then return 'duplicate', prev, '-1' end
  end
  if op ~= '' then
    local host = ARGV[ma + 4]
    if user ~= host then
      if op == 'moderator_add' or op == 'moderator_remove' then
        return 'forbidden', 'only the host appoints and removes moderators', '-1'
      end
      if call('SISMEMBER', moderators, user) == 0 then
        return 'forbidden', 'only the host and its moderators can ' .. op, '-1'
      end
      if op ~= 'delete' and call('SISMEMBER', moderators, target) == 1 then
        return 'forbidden', 'only the host can ' .. op .. ' a moderator', '-1'
      end
    end
    if op == 'moderator_add' and call('SISMEMBER', bans, target) == 1 then
      return 'forbidden', 'a banned user cannot be a moderator; unban them first', '-1'
    end
  end
  local limit = ARGV[a + 8]
  if limit ~= '0' then
    local n = call('INCR', rate)
    if n == 1 then call('PEXPIRE', rate, ARGV[a + 9]) end
    if n > tonumber(limit) then return 'rate_limited', tostring(call('PTTL', rate)), '-1' end
  end
  local now = ARGV[a + 6]
  if now ~= '0' then
    local muted = call('HGET', mutes, user)
    if muted and tonumber(muted) > tonumber(now) then return 'muted', muted, '-1' end
  end
  local likes = -1
  if like then
    if call('SADD', likers, user) == 0 then return 'liked', '', tostring(call('SCARD', likers)) end
    likes = call('SCARD', likers)
  end
  if maxBuffered > 0 and call('XLEN', stream) >= maxBuffered and unflushed(stream) >= maxBuffered then
    if likes >= 0 then call('SREM', likers, user) end
    return 'full', '', '-1'
  end
  if op == 'delete' and maxDeleted > 0 and call('SISMEMBER', deleted, target) == 0
      and call('SCARD', deleted) >= maxDeleted then
    return 'deleted_full', '', '-1'
  end
  local id = call('XADD', stream, '*', 'e', entry)
  if dedup ~= '0' then
    call('HSET', ids, eventID, id)
    if dedup == '2' and call('TTL', ids) < 0 then call('EXPIRE', ids, idTTL) end
  end
  if playback then
    local state = ARGV[pa + 1]
    call('HSET', playback, 'position_ms', ARGV[pa + 2], 'updated_at', ARGV[pa + 3])
    if state == 'play' then call('HSET', playback, 'state', 'playing')
    elseif state == 'pause' then call('HSET', playback, 'state', 'paused')
    else call('HSETNX', playback, 'state', 'paused') end
  end
  if op ~= '' then moderate(op, target, ARGV[ma + 3], mutes, bans, moderators, deleted) end
  call('SPUBLISH', ARGV[a + 5], id .. ' ' .. likes .. ' ' .. entry)
  return 'ok', id, tostring(likes)
end

-- How many KEYS and ARGV an event of each kind (ARGV[a + 10]) takes.
local keyCount = {[''] = 7, like = 8, playback = 8, moderation = 9}
local argCount = {[''] = 10, like = 10, playback = 13, moderation = 14}

local out, n, k, a = {}, 0, 0, 3
while k < #KEYS do
  local kind = ARGV[a + 10]
  local ok, status, detail, likes = pcall(append, k, a)
  k, a = k + keyCount[kind], a + argCount[kind]
  if not ok then
    local err = status
    if type(err) == 'table' then err = err.err end
    status, detail, likes = 'error', tostring(err), '-1'
  end
  out[n + 1], out[n + 2], out[n + 3] = status, detail, likes
  n = n + 3
end
return out
