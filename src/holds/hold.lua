--[[
The hold of one (account, operation), shared by every worker process. One
script so that tripping, probing and releasing are each decided once, by
Redis, however many workers see the same failure at the same moment.

KEYS[1]  hold hash: reason, since, code, message, target, count, interval, nextProbeAt, probing, probingUntil,
         and 'refused:<target>' for each target a code nobody listed refused
KEYS[2]  streak hash: n (failures in a row since the last healthy answer), code,
         and per code 'targets:<code>', the distinct targets it refused
KEYS[3]  streak jobs set: the distinct jobs in that streak
KEYS[4]  streak targets set: '<code> <target>' pairs refused in that streak
KEYS[5]  last success hash: process id -> epoch ms of its last healthy answer (any operation)
ARGV[1]  command
ARGV[2]  now (epoch ms, the caller's clock: only differences between calls matter)

healthy   ARGV[3] job id, [4] process id
  A real answer about the job (success, already applied, a per-job error):
  the service and the account work. Ends the streak; ends any hold but a
  manual one; notes the process's success (host faults stay local while
  another process succeeds). -> {'released', reason, since, count} | {'ok'}

failure   ARGV[3] job id, [4] code, [5] message, [6] kind ('systemic' or an
          account reason), [7] streak to trip, [8] distinct jobs (or targets)
          to trip, [9] first probe interval ms, [10] longest probe interval
          ms, [11] streak ttl ms, [12] the job's target, [13] evidence:
          'service' (5xx, network, no RequestId) or 'answered' (a code nobody
          listed, answered about this request)
  An account-level kind holds at once. A service failure extends the streak
  and holds when the streak is long enough and spans enough distinct jobs.
  An answered one holds only when its code spans enough distinct targets:
  many refusals of one domain are that domain's, not the operation's.
  While held, a failed probe backs the next probe off (doubling, capped).
  -> {'tripped', nextProbeAt} | {'held', nextProbeAt} | {'counting', n, distinctJobs, distinctTargets}

throttled ARGV[3] job id
  A probe met Throttling: the gateway answered but says nothing of the cause;
  probe again after the same interval. -> {'held', nextProbeAt} | {'ok'}

gate      ARGV[3] job id, [4] probe lease ms, [5] manual recheck ms, [6] the job's target
  May this job call? -> {'open'} | {'probe'} | {'closed', ms until worth asking again}
  | {'refused-target'}: the hold's code refused this job's target already;
  the call is this job's own business (it uses the job's attempts), not a
  probe, so a job of another target probes, a hold one bad group of jobs
  caused ends at the first good answer, and the group still ends as dead
  letters instead of waiting forever.

pause     ARGV[3] message
  A manual hold: no probes; only `livequeue resume` ends it. -> 1

release
  Ends any hold and the streak. -> the hold's fields as a flat list (empty if none)
]]
local hold, streak, streakJobs, streakTargets, lastSuccess = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local command = ARGV[1]
local now = tonumber(ARGV[2])

local function startHold(reason, code, message, target, count, firstProbeMs)
  local nextProbeAt = now + firstProbeMs
  redis.call('DEL', hold)
  redis.call('HSET', hold, 'reason', reason, 'since', now, 'code', code, 'message', message, 'target', target,
    'count', count, 'interval', firstProbeMs, 'nextProbeAt', nextProbeAt)
  redis.call('DEL', streak, streakJobs, streakTargets)
  return nextProbeAt
end

if command == 'healthy' then
  redis.call('DEL', streak, streakJobs, streakTargets)
  redis.call('HSET', lastSuccess, ARGV[4], now)
  local held = redis.call('HMGET', hold, 'reason', 'since', 'count')
  if held[1] and held[1] ~= 'manual' then
    redis.call('DEL', hold)
    return {'released', held[1], held[2], held[3]}
  end
  return {'ok'}
end

if command == 'failure' then
  local job, code, message, kind, target, evidence = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[12], ARGV[13]
  local held = redis.call('HMGET', hold, 'reason', 'probing', 'interval')
  if held[1] then
    redis.call('HINCRBY', hold, 'count', 1)
    redis.call('HSET', hold, 'code', code, 'message', message)
    if evidence == 'answered' and held[1] == 'systemic' then redis.call('HSET', hold, 'refused:' .. target, 1) end
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
    return {'tripped', startHold(kind, code, message, target, 1, tonumber(ARGV[9]))}
  end
  local n = redis.call('HINCRBY', streak, 'n', 1)
  redis.call('SADD', streakJobs, job)
  local targets = tonumber(redis.call('HGET', streak, 'targets:' .. code) or 0)
  if redis.call('SADD', streakTargets, code .. ' ' .. target) == 1 then
    targets = redis.call('HINCRBY', streak, 'targets:' .. code, 1)
  end
  for _, key in ipairs({streak, streakJobs, streakTargets}) do redis.call('PEXPIRE', key, ARGV[11]) end
  local distinct = redis.call('SCARD', streakJobs)
  local spread = distinct
  if evidence == 'answered' then spread = targets end
  if n >= tonumber(ARGV[7]) and spread >= tonumber(ARGV[8]) then
    if evidence == 'answered' then
      -- The targets the code refused become the hold's: probes skip them.
      local pairs = redis.call('SMEMBERS', streakTargets)
      local nextProbeAt = startHold('systemic', code, message, target, n, tonumber(ARGV[9]))
      for _, pair in ipairs(pairs) do
        if string.sub(pair, 1, #code + 1) == code .. ' ' then redis.call('HSET', hold, 'refused:' .. string.sub(pair, #code + 2), 1) end
      end
      return {'tripped', nextProbeAt}
    end
    return {'tripped', startHold('systemic', code, message, target, n, tonumber(ARGV[9]))}
  end
  return {'counting', n, distinct, targets}
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
  if held[1] == 'systemic' and redis.call('HEXISTS', hold, 'refused:' .. ARGV[6]) == 1 then return {'refused-target'} end
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
  redis.call('HSET', hold, 'reason', 'manual', 'since', now, 'code', 'Manual', 'message', ARGV[3], 'target', '', 'count', 0)
  return 1
end

if command == 'release' then
  local fields = redis.call('HGETALL', hold)
  redis.call('DEL', hold, streak, streakJobs, streakTargets)
  return fields
end

return redis.error_reply('unknown hold command ' .. tostring(command))
