package tokenpool

import "github.com/redis/go-redis/v9"

// The shared state's scripts. Each runs atomically inside Redis, so a
// check and the write it allows can never interleave with another
// instance's. Instants are microseconds from Redis's own TIME, so
// instances with skewed clocks agree; tests pass a fixed instant in
// ARGV[1] instead ("" means TIME). Numbers go to redis.call as numbers,
// never through tostring, which would print only 14 digits.
//
// Per token (prefix poe_openai:t:<sha256 of the token>): w is a sorted set
// of the window's starts, s a hash (last start, cool and quarantine ends,
// reason, total starts), l the leases in flight and u those not yet
// acknowledged by Poe (both scored by expiry).

const luaPrelude = `
local now
if ARGV[1] ~= '' then now = tonumber(ARGV[1]) else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local win = 60000000
local function keep(k, ms)
  if redis.call('PTTL', k) < ms then redis.call('PEXPIRE', k, ms) end
end
`

// acquireScript picks the least recently used token with room and records
// a start on it. KEYS: w, s, l, u per token. ARGV: now, rate limit,
// cool-down µs, max in flight, lease TTL µs, lease id, state TTL ms, track
// ('1' when leases are kept: max_concurrent or cool_down).
// Returns {index (0 = none), now, unsent, earliest gate, earliest wake,
// capped, healthy}.
var acquireScript = redis.NewScript(luaPrelude + `
local limit, cool, maxc = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ttl, id, stateTTL, track = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7]), ARGV[8] == '1'
local best, bestLast = 0, 0
local gate0, wake, capped, healthy = -1, -1, 0, 0
for i = 1, #KEYS / 4 do
  local w, s, l, u = KEYS[4*i-3], KEYS[4*i-2], KEYS[4*i-1], KEYS[4*i]
  local st = redis.call('HMGET', s, 'last', 'cool', 'quar')
  local last = tonumber(st[1]) or -1
  local quar = tonumber(st[3]) or 0
  if quar <= now then healthy = 1 end
  local gate = math.max(tonumber(st[2]) or 0, quar)
  if cool > 0 and last >= 0 then gate = math.max(gate, last + cool) end
  if limit > 0 then
    redis.call('ZREMRANGEBYSCORE', w, '-inf', now - win)
    local n = redis.call('ZCARD', w)
    if n >= limit then
      local e = redis.call('ZRANGE', w, n - limit, n - limit, 'WITHSCORES')
      gate = math.max(gate, tonumber(e[2]) + win)
    end
  end
  if gate > now then
    if gate0 < 0 or gate < gate0 then gate0 = gate end
  else
    local full = false
    if track then
      redis.call('ZREMRANGEBYSCORE', l, '-inf', now)
      redis.call('ZREMRANGEBYSCORE', u, '-inf', now)
      full = maxc > 0 and redis.call('ZCARD', l) >= maxc or cool > 0 and redis.call('ZCARD', u) > 0
      if full then
        capped = 1
        -- a dead instance's lease frees the token when it expires
        local e = redis.call('ZRANGE', l, 0, 0, 'WITHSCORES')
        if e[2] and (wake < 0 or tonumber(e[2]) < wake) then wake = tonumber(e[2]) end
      end
    end
    if not full and (best == 0 or last < bestLast) then best, bestLast = i, last end
  end
end
if best == 0 then
  if gate0 >= 0 and (wake < 0 or gate0 < wake) then wake = gate0 end
  return {0, now, 0, gate0, wake, capped, healthy}
end
local w, s, l, u = KEYS[4*best-3], KEYS[4*best-2], KEYS[4*best-1], KEYS[4*best]
redis.call('HSET', s, 'last', now)
redis.call('HINCRBY', s, 'starts', 1)
keep(s, stateTTL)
if limit > 0 then
  redis.call('ZADD', w, now, id)
  redis.call('PEXPIRE', w, 61000)
end
local unsent = 0
if track then
  local ms = math.floor(ttl / 1000) + 1000
  redis.call('ZADD', l, now + ttl, id)
  redis.call('PEXPIRE', l, ms)
  if cool > 0 then
    redis.call('ZADD', u, now + ttl, id)
    redis.call('PEXPIRE', u, ms)
    unsent = 1
  end
end
return {best, now, unsent, -1, -1, 0, 1}
`)

// releaseScript ends a lease. KEYS: l, u. ARGV: now (unused), id,
// channel, token hash (the message).
var releaseScript = redis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`)

// reachedScript records Poe's acknowledgement of an unsent lease: the
// cool-down counts from now. KEYS: s, u. ARGV: now, id, state TTL ms,
// channel, token hash.
var reachedScript = redis.NewScript(luaPrelude + `
if redis.call('ZREM', KEYS[2], ARGV[2]) == 1 then
  local last = tonumber(redis.call('HGET', KEYS[1], 'last')) or -1
  if now > last then redis.call('HSET', KEYS[1], 'last', now) end
  keep(KEYS[1], tonumber(ARGV[3]))
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
return 1
`)

// untilScript extends cooling or quarantine; it never shortens one.
// KEYS: s. ARGV: now, field (cool or quar), duration µs, reason ("" keeps
// it). Returns the end.
var untilScript = redis.NewScript(luaPrelude + `
local upto = now + tonumber(ARGV[3])
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[2])) or 0
if upto > cur then redis.call('HSET', KEYS[1], ARGV[2], upto) else upto = cur end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'reason', ARGV[4]) end
keep(KEYS[1], math.floor((upto - now) / 1000) + 120000)
return upto
`)

// renewScript pushes the expiry of live leases. KEYS: l, u per lease.
// ARGV: now, lease TTL µs, then the lease ids.
var renewScript = redis.NewScript(luaPrelude + `
local ttl = tonumber(ARGV[2])
local ms = math.floor(ttl / 1000) + 1000
for i = 1, #KEYS / 2 do
  local id = ARGV[2 + i]
  if redis.call('ZADD', KEYS[2*i-1], 'XX', 'CH', now + ttl, id) == 1 then
    redis.call('PEXPIRE', KEYS[2*i-1], ms)
  end
  if redis.call('ZADD', KEYS[2*i], 'XX', 'CH', now + ttl, id) == 1 then
    redis.call('PEXPIRE', KEYS[2*i], ms)
  end
end
return 1
`)

// limitScript is a client's sliding window. KEYS: the client's set.
// ARGV: now, limit, id. Returns 0 when counted, else µs until room.
var limitScript = redis.NewScript(luaPrelude + `
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - win)
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local e = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  return tonumber(e[2]) + win - now
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], 61000)
return 0
`)

// statusScript reads every token. KEYS: w, s, l, u per token. ARGV: now.
// Returns now, then per token: last, cool, quar, reason, starts, starts
// in the window, leases in flight.
var statusScript = redis.NewScript(luaPrelude + `
local out = {now}
for i = 1, #KEYS / 4 do
  local st = redis.call('HMGET', KEYS[4*i-2], 'last', 'cool', 'quar', 'reason', 'starts')
  out[#out+1] = tonumber(st[1]) or -1
  out[#out+1] = tonumber(st[2]) or 0
  out[#out+1] = tonumber(st[3]) or 0
  out[#out+1] = st[4] or ''
  out[#out+1] = tonumber(st[5]) or 0
  out[#out+1] = redis.call('ZCOUNT', KEYS[4*i-3], '(' .. string.format('%d', now - win), '+inf')
  out[#out+1] = redis.call('ZCOUNT', KEYS[4*i-1], '(' .. string.format('%d', now), '+inf')
end
return out
`)
