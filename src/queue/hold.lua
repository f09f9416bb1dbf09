--[[
The hold of one (account, operation), shared by every worker process. One
script so that tripping, probing and releasing are each decided once, by
Redis, however many workers see the same failure at the same moment.

KEYS[1]  hold hash: reason, since, code, message, count, interval, nextProbeAt, probing, probingUntil
KEYS[2]  streak hash: n (service failures in a row since the last healthy answer), code
KEYS[3]  streak jobs set: the distinct jobs in that streak
ARGV[1]  command
ARGV[2]  now (epoch ms, the caller's clock: only differences between calls matter)

healthy   ARGV[3] job id
  A real answer about the job (success, already applied, a per-job error):
  the service and the account work. Ends the streak; ends any hold but a
  manual one. -> {'released', reason, since, count} | {'ok'}

failure   ARGV[3] job id, [4] code, [5] message, [6] kind ('systemic' or an
          account reason), [7] streak to trip, [8] distinct jobs to trip,
          [9] first probe interval ms, [10] longest probe interval ms,
          [11] streak ttl ms
  An account-level kind holds at once. A systemic one extends the streak and
  holds when the streak is long enough and spans enough distinct jobs.
  While held, a failed probe backs the next probe off (doubling, capped).
  -> {'tripped', nextProbeAt} | {'held', nextProbeAt} | {'counting', n, distinctJobs}

throttled ARGV[3] job id
  A probe met Throttling: the gateway answered but says nothing of the cause;
  probe again after the same interval. -> {'held', nextProbeAt} | {'ok'}

gate      ARGV[3] job id, [4] probe lease ms, [5] manual recheck ms
  May this job call? -> {'open'} | {'probe'} | {'closed', ms until worth asking again}

pause     ARGV[3] message
  A manual hold: no probes; only `livequeue resume` ends it. -> 1

release
  Ends any hold and the streak. -> the hold's fields as a flat list (empty if none)
]]
local hold, streak, streakJobs = KEYS[1], KEYS[2], KEYS[3]
local command = ARGV[1]
local now = tonumber(ARGV[2])

local function startHold(reason, code, message, count, firstProbeMs)
  local nextProbeAt = now + firstProbeMs
  redis.call('DEL', hold)
  redis.call('HSET', hold, 'reason', reason, 'since', now, 'code', code, 'message', message,
    'count', count, 'interval', firstProbeMs, 'nextProbeAt', nextProbeAt)
  redis.call('DEL', streak, streakJobs)
  return nextProbeAt
end

if command == 'healthy' then
  redis.call('DEL', streak, streakJobs)
  local held = redis.call('HMGET', hold, 'reason', 'since', 'count')
  if held[1] and held[1] ~= 'manual' then
    redis.call('DEL', hold)
    return {'released', held[1], held[2], held[3]}
  end
  return {'ok'}
end

if command == 'failure' then
  local job, code, message, kind = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
  local held = redis.call('HMGET', hold, 'reason', 'probing', 'interval')
  if held[1] then
    redis.call('HINCRBY', hold, 'count', 1)
    redis.call('HSET', hold, 'code', code, 'message', message)
    -- A more specific cause replaces "systemic": the probe now meets the account's failure.
    if kind ~= 'systemic' and held[1] == 'systemic' then redis.call('HSET', hold, 'reason', kind) end
    if held[2] == job then
      local interval = math.min(tonumber(held[3]) * 2, tonumber(ARGV[10]))
      redis.call('HSET', hold, 'interval', interval, 'nextProbeAt', now + interval)
      redis.call('HDEL', hold, 'probing', 'probingUntil')
    end
    return {'held', redis.call('HGET', hold, 'nextProbeAt')}
  end
  if kind ~= 'systemic' then
    return {'tripped', startHold(kind, code, message, 1, tonumber(ARGV[9]))}
  end
  local n = redis.call('HINCRBY', streak, 'n', 1)
  redis.call('SADD', streakJobs, job)
  redis.call('PEXPIRE', streak, ARGV[11])
  redis.call('PEXPIRE', streakJobs, ARGV[11])
  local distinct = redis.call('SCARD', streakJobs)
  if n >= tonumber(ARGV[7]) and distinct >= tonumber(ARGV[8]) then
    return {'tripped', startHold('systemic', code, message, n, tonumber(ARGV[9]))}
  end
  return {'counting', n, distinct}
end

if command == 'throttled' then
  local held = redis.call('HMGET', hold, 'probing', 'interval')
  if not held[2] then return {'ok'} end
  if held[1] == ARGV[3] then
    redis.call('HSET', hold, 'nextProbeAt', now + tonumber(held[2]))
    redis.call('HDEL', hold, 'probing', 'probingUntil')
  end
  return {'held', redis.call('HGET', hold, 'nextProbeAt')}
end

if command == 'gate' then
  local held = redis.call('HMGET', hold, 'reason', 'nextProbeAt', 'probingUntil')
  if not held[1] then return {'open'} end
  if held[1] == 'manual' then return {'closed', tonumber(ARGV[5])} end
  local probingUntil = tonumber(held[3] or 0)
  if probingUntil > now then return {'closed', probingUntil - now} end
  local nextProbeAt = tonumber(held[2])
  if now >= nextProbeAt then
    redis.call('HSET', hold, 'probing', ARGV[3], 'probingUntil', now + tonumber(ARGV[4]))
    return {'probe'}
  end
  return {'closed', nextProbeAt - now}
end

if command == 'pause' then
  redis.call('DEL', hold)
  redis.call('HSET', hold, 'reason', 'manual', 'since', now, 'code', 'Manual', 'message', ARGV[3], 'count', 0)
  return 1
end

if command == 'release' then
  local fields = redis.call('HGETALL', hold)
  redis.call('DEL', hold, streak, streakJobs)
  return fields
end

return redis.error_reply('unknown hold command ' .. tostring(command))
