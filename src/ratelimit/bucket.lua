--[[
Paced token bucket with adaptive rate, for one (account, operation).

Calls are spaced evenly, (1000 + margin) / rate ms apart, and never earlier
than the theoretical arrival time `tat` (GCRA without burst): then no rolling
second can ever hold more than `rate` calls, whoever draws the tokens. Callers
reserve slots at most `horizon` ms ahead, so a crashed worker strands little.

A throttled answer with fewer than two others in the `isolated` ms before it
is taken for jitter, not for a competitor: strict pacing makes a stray
throttle far more likely a call that arrived late than another client. The
bucket skips one slot and keeps its rate, which costs one interval of quota
instead of the seconds a decrease costs to climb back. (At 20 QPS, jitter at
one call in 500 makes a throttle the third within 5 s about once in sixty; a
competitor brings several a second.)

The third throttle within `isolated` ms means someone else spends the same
quota: the rate drops by `decrease` (at most once per `quiet` ms) and then climbs
back (AIMD). It remembers the rate that was throttled (the ceiling): it
climbs fast (`recovery` x configured rate per second) to just under the
ceiling, probes slowly (a tenth of that) across it, and climbs fast again
above it, when the other client has gone. So a shared quota settles just
under what is left, with rare throttles. The current rate is derived from
(rate, decreasedAt, ceiling) at read time, so no timer is needed.

An operator's rate (`livequeue rate set`) is read from KEYS[2] on every call,
so every worker follows it at its next reservation, with nothing cached. It
replaces the configured rate as the limit of everything above: the spacing,
the AIMD floor, the recovery speed and the top it climbs back to.

KEYS[1]  bucket hash: tat, rate, decreasedAt, blockedUntil, ceiling, configured, throttledAt, throttledBefore (the last two throttles)
KEYS[2]  override hash (field rate), or KEYS[1] again for a bucket that has none
ARGV[1]  command: reserve | throttled | peek
ARGV[2]  configured rate (calls per second); workers store theirs with every
         reservation, and peek reports that one, so a reader sees the rate the
         workers use, not its own configuration
ARGV[3]  margin ms added to every second of spacing (arrival jitter allowance)
ARGV[4]  horizon ms: how far ahead a slot may be reserved
ARGV[5]  reserve: slots wanted / throttled: server retry hint ms (0 = none)
ARGV[6]  decrease factor (0..1)
ARGV[7]  minimum rate as a fraction of configured
ARGV[8]  recovery per second as a fraction of configured
ARGV[9]  quiet ms between two decreases
ARGV[10] ttl ms of an idle bucket
ARGV[11] isolated ms: a throttle with fewer than two others this long before it skips a slot instead of decreasing

Fractions are returned as strings: Redis would truncate Lua numbers to integers.
]]
local key = KEYS[1]
local command = ARGV[1]
local configured = tonumber(ARGV[2])
local margin = tonumber(ARGV[3])
local horizon = tonumber(ARGV[4])
local arg = tonumber(ARGV[5])
local decrease = tonumber(ARGV[6])
local minFraction = tonumber(ARGV[7])
local recovery = tonumber(ARGV[8])
local quiet = tonumber(ARGV[9])
local ttl = tonumber(ARGV[10])
local isolated = tonumber(ARGV[11])

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000

local state = redis.call('HMGET', key, 'tat', 'rate', 'decreasedAt', 'blockedUntil', 'ceiling', 'configured', 'throttledAt', 'throttledBefore')
local published = tonumber(state[6])
if command == 'peek' and published then configured = published end
-- `configured` stays the configuration's (published, reported); `limit` is what paces.
local limit = configured
if KEYS[2] ~= key then
  local override = tonumber(redis.call('HGET', KEYS[2], 'rate'))
  if override and override > 0 then limit = override end
end
local tat = tonumber(state[1]) or 0
local decreasedAt = tonumber(state[3]) or 0
local blockedUntil = tonumber(state[4]) or 0

-- Fast to 95% of the ceiling, slow to 105%, fast again beyond.
local function recovered(base, ceiling, seconds)
  local fast = recovery * limit
  local slow = fast / 10
  local knee = math.min(limit, 0.95 * ceiling)
  local top = math.min(limit, 1.05 * ceiling)
  local r = base
  local phase = math.max(0, (knee - r) / fast)
  if seconds <= phase then return r + fast * seconds end
  r, seconds = math.max(r, knee), seconds - phase
  phase = math.max(0, (top - r) / slow)
  if seconds <= phase then return r + slow * seconds end
  r, seconds = math.max(r, top), seconds - phase
  return r + fast * seconds
end

local rate = limit
if state[2] then
  -- Capped here, not only at the end of the climb: a rate decreased before a
  -- lower override must not pace above it.
  rate = math.min(limit, recovered(tonumber(state[2]), tonumber(state[5]) or limit, (now - decreasedAt) / 1000))
end
local interval = (1000 + margin) / rate

if command == 'peek' then
  return { tostring(rate), tostring(math.max(0, tat - now)), tostring(math.max(0, blockedUntil - now)), tostring(configured), published and 1 or 0 }
end

if command == 'throttled' then
  local last = state[7] or '0'
  local beforeLast = tonumber(state[8]) or 0
  redis.call('HSET', key, 'throttledAt', tostring(now), 'throttledBefore', last)
  if now - beforeLast >= isolated then
    -- Stray: skip one slot, keep the rate.
    redis.call('HSET', key, 'tat', tostring(math.max(tat, now) + interval))
  elseif now - decreasedAt >= quiet then
    redis.call('HSET', key, 'ceiling', tostring(rate))
    rate = math.max(limit * minFraction, rate * decrease)
    redis.call('HSET', key, 'rate', tostring(rate), 'decreasedAt', tostring(now))
  end
  if arg > 0 and now + arg > blockedUntil then
    redis.call('HSET', key, 'blockedUntil', tostring(now + arg))
  end
  redis.call('PEXPIRE', key, ttl)
  return tostring(rate)
end

-- reserve
local start = math.max(now, tat, blockedUntil)
local latest = now + horizon
if start > latest then
  return { 0, tostring(start - latest), tostring(interval), tostring(rate), tostring(now) }
end
local granted = math.min(arg, math.floor((latest - start) / interval) + 1)
redis.call('HSET', key, 'tat', tostring(start + granted * interval), 'configured', tostring(configured))
redis.call('PEXPIRE', key, ttl)
return { granted, tostring(start - now), tostring(interval), tostring(rate), tostring(now) }
