/**
 * The Lua scripts: each runs on the keys of one log only (the stream and its meta hash,
 * which share a hash slot through the `{name}` tag), so they work on Redis Cluster too.
 * Time is Redis's own (`TIME`), the same for every instance.
 */

/** Shared prologue: the log's epoch (made on first use), and now in ms. */
const PROLOGUE = `
local stream, meta = KEYS[1], KEYS[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

/**
 * Appends entries (one event, or a final event and the end) and publishes each, in one
 * atomic step: the log's order is the order every follower hears.
 * KEYS: stream, meta. ARGV: channel, new epoch, maxLen (0: none), maxAgeMs (0: none),
 * endedTtlMs, mode ('event' | 'end'), then the entries' JSON payloads.
 * Returns { epoch, ms, seq of the last entry }, or an error reply ENDED.
 */
export const APPEND = `${PROLOGUE}
local channel, newEpoch, mode = ARGV[1], ARGV[2], ARGV[6]
local maxLen, maxAge, endedTtl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if redis.call('HGET', meta, 'ended') then
  -- Ending again is a no-op; ending again with a final event would lose it: refuse.
  if mode == 'end' and #ARGV == 7 then return {'', '0', '0'} end
  return redis.error_reply('ENDED')
end
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then
  -- A new log (or one whose meta was lost): entries of an older epoch must not mix in.
  epoch = newEpoch
  redis.call('DEL', stream)
  redis.call('HSET', meta, 'epoch', epoch)
end
local ms = tonumber(redis.call('HGET', meta, 'ms') or '0')
if now > ms then ms = now end
local seq = 0
for i = 7, #ARGV do
  seq = redis.call('HINCRBY', meta, 'seq', 1)
  local id = ms .. '-' .. seq
  if maxLen > 0 then
    redis.call('XADD', stream, 'MAXLEN', '~', maxLen, id, 'p', ARGV[i])
  else
    redis.call('XADD', stream, id, 'p', ARGV[i])
  end
  redis.call('PUBLISH', channel, epoch .. '|' .. id .. '|' .. ARGV[i])
end
redis.call('HSET', meta, 'ms', ms)
if maxAge > 0 then
  redis.call('XTRIM', stream, 'MINID', '~', now - maxAge)
end
if mode == 'end' then
  redis.call('HSET', meta, 'ended', '1')
  redis.call('HDEL', meta, 'lease', 'leaseUntil')
  redis.call('PEXPIRE', stream, endedTtl)
  redis.call('PEXPIRE', meta, endedTtl)
elseif maxAge > 0 then
  -- A log nobody writes to for maxAgeMs has nothing left: let Redis forget it.
  redis.call('PEXPIRE', stream, maxAge)
  redis.call('PEXPIRE', meta, maxAge)
end
return {epoch, tostring(ms), tostring(seq)}
`

/**
 * Reads up to COUNT entries after an id, with what is needed to tell a gap.
 * KEYS: stream, meta. ARGV: client epoch ('' for from the start), after stream id, after seq,
 * count. Returns {'ok', epoch, entries} or {'gap', reason}.
 */
export const READ = `${PROLOGUE}
local clientEpoch, afterId, afterSeq, count = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local epoch = redis.call('HGET', meta, 'epoch')
if clientEpoch == '' then
  return {'ok', epoch or '', redis.call('XRANGE', stream, '-', '+', 'COUNT', count)}
end
if (not epoch) or epoch ~= clientEpoch then return {'gap', 'unknown'} end
local seq = tonumber(redis.call('HGET', meta, 'seq') or '0')
if afterSeq > seq then return {'gap', 'unknown'} end
-- The id must be one this log gave out: its entry is still there, or was trimmed away.
if #redis.call('XRANGE', stream, afterId, afterId) == 0 then
  local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
  if oldest == nil or afterSeq < tonumber(string.match(oldest[1], '-(%d+)$')) then
    return {'gap', 'expired'}
  end
  return {'gap', 'unknown'}
end
local entries = redis.call('XRANGE', stream, '(' .. afterId, '+', 'COUNT', count)
local first = entries[1]
if first then
  local firstSeq = tonumber(string.match(first[1], '-(%d+)$'))
  if firstSeq ~= afterSeq + 1 then return {'gap', 'expired'} end
elseif afterSeq < seq then
  return {'gap', 'expired'}
end
return {'ok', epoch, entries}
`

/** KEYS: meta. Returns {epoch or '', ms, seq, ended, leaseUntil}. */
export const INFO = `
local v = redis.call('HMGET', KEYS[1], 'epoch', 'ms', 'seq', 'ended', 'leaseUntil')
return {v[1] or '', v[2] or '0', v[3] or '0', v[4] or '', v[5] or ''}
`

/**
 * Takes or renews the lease. KEYS: meta. ARGV: owner, ttlMs, new epoch, mode ('take' |
 * 'renew'). Returns the new leaseUntil, or an error reply LEASED / ENDED / LOST.
 */
export const LEASE = `
local meta = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local owner, ttl, mode = ARGV[1], tonumber(ARGV[2]), ARGV[4]
if redis.call('HGET', meta, 'ended') then return redis.error_reply('ENDED') end
local holder = redis.call('HGET', meta, 'lease')
local untilMs = tonumber(redis.call('HGET', meta, 'leaseUntil') or '0')
if mode == 'renew' then
  if holder ~= owner then return redis.error_reply('LOST') end
elseif holder and holder ~= owner and untilMs > now then
  return redis.error_reply('LEASED')
end
if not redis.call('HGET', meta, 'epoch') then redis.call('HSET', meta, 'epoch', ARGV[3]) end
redis.call('HSET', meta, 'lease', owner, 'leaseUntil', now + ttl)
return tostring(now + ttl)
`

/** KEYS: meta. ARGV: owner. Gives the lease up if `owner` holds it. */
export const RELEASE = `
if redis.call('HGET', KEYS[1], 'lease') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'lease', 'leaseUntil')
  return 1
end
return 0
`

/**
 * Ends a log whose lease ran out: its producer died. KEYS: stream, meta. ARGV as APPEND
 * with mode 'end' and the error event then the end entry. Returns 1 when it ended the log,
 * 0 when the lease is still valid (renewed meanwhile), 2 when there is nothing to watch.
 */
export const EXPIRE_LEASE = `${PROLOGUE}
if redis.call('HGET', meta, 'ended') then return 2 end
local untilMs = tonumber(redis.call('HGET', meta, 'leaseUntil') or '-1')
if untilMs < 0 then return 2 end
if untilMs > now then return 0 end
${APPEND.slice(PROLOGUE.length).replace(/return \{epoch, tostring\(ms\), tostring\(seq\)\}\s*$/, 'return 1')}
`
