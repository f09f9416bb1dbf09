--[[
Counts one outcome of an operation and, when the API was called, the call in
its 10-second bucket (for "calls in the last minute") and in its epoch second
(for the status page's 15-minute chart). One command instead of a
transaction: this runs for every job.

KEYS[1]  stats hash of the operation
KEYS[2]  calls counter of the current 10-second bucket
ARGV[1]  counter name
ARGV[2]  1 when the API was called
ARGV[3]  ttl ms of a calls bucket
ARGV[4]  how long ago the call was sent, ms: it counts in the second it went out

The per-second hash is KEYS[1] .. ':per-second' (names.ts callsPerSecondKey;
same prefix, so the same Cluster slot). Its seconds are Redis's clock, one for
every worker. Its field `trimmed` is the first second that may still be kept:
every second before it was deleted.
]]
local WINDOW = 900 -- seconds kept; stats.ts PER_SECOND_WINDOW
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
if ARGV[2] == '1' then
  redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  local perSecond = KEYS[1] .. ':per-second'
  local time = redis.call('TIME')
  local now = math.floor((tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) - tonumber(ARGV[4] or 0)) / 1000)
  -- The first call of a second drops the seconds that left the window since the last one.
  if redis.call('HINCRBY', perSecond, now, 1) == 1 then
    local cutoff = now - WINDOW
    local from = tonumber(redis.call('HGET', perSecond, 'trimmed') or cutoff)
    -- The hash expires after a quiet window, so `from` is never far behind; bounded all the same.
    if from < cutoff - 2 * WINDOW then from = cutoff - 2 * WINDOW end
    for second = from, cutoff do redis.call('HDEL', perSecond, second) end
    redis.call('HSET', perSecond, 'trimmed', cutoff + 1)
  end
  redis.call('EXPIRE', perSecond, WINDOW + 60)
end
return 1
