--[[
Host-local faults of one account: a process whose credentials, signature or
clock fail holds itself first. This script records the fault and decides,
once and for every process, whether the fault is wider than that host.

KEYS[1]  faults hash: process id -> JSON {host, pid, code, family, since, seenAt}
KEYS[2]  last success hash: process id -> epoch ms of its last healthy answer
ARGV[1]  command
ARGV[2]  now (epoch ms)

report   ARGV[3] process id, [4] host, [5] pid, [6] code, [7] family,
         [8] stale ms (a record not refreshed this long is gone),
         [9] grace ms (how long a process may be the only one failing
             while nobody succeeds before the account is held)
  -> {'local', since} | {'account', why, since}
  'account' when another live process reports the same family, or when no
  other process has succeeded since this fault began and the grace is over.

clear    ARGV[3] process id -> 1
]]
local faults, lastSuccess = KEYS[1], KEYS[2]
local command = ARGV[1]
local now = tonumber(ARGV[2])

if command == 'clear' then
  redis.call('HDEL', faults, ARGV[3])
  return 1
end

if command == 'report' then
  local me, family = ARGV[3], ARGV[7]
  local stale, grace = tonumber(ARGV[8]), tonumber(ARGV[9])
  local since = now
  local previous = redis.call('HGET', faults, me)
  if previous then
    local record = cjson.decode(previous)
    if record.family == family then since = record.since end
  end
  redis.call('HSET', faults, me, cjson.encode({host = ARGV[4], pid = tonumber(ARGV[5]), code = ARGV[6], family = family, since = since, seenAt = now}))
  redis.call('PEXPIRE', faults, stale * 10)

  local sameFamily = 0
  local all = redis.call('HGETALL', faults)
  for i = 1, #all, 2 do
    local record = cjson.decode(all[i + 1])
    if record.seenAt < now - stale then
      redis.call('HDEL', faults, all[i])
    elseif all[i] ~= me and record.family == family then
      sameFamily = sameFamily + 1
    end
  end
  if sameFamily > 0 then return {'account', 'several-processes', since} end

  local othersSucceeded = false
  local successes = redis.call('HGETALL', lastSuccess)
  for i = 1, #successes, 2 do
    if successes[i] ~= me and tonumber(successes[i + 1]) >= since then othersSucceeded = true end
  end
  if not othersSucceeded and now - since >= grace then return {'account', 'no-process-succeeds', since} end
  return {'local', since}
end

return redis.error_reply('unknown host-faults command ' .. tostring(command))
