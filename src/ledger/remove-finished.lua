--[[
Removes a job that is over but still in its queue, so that its id (one per
stream) is free again: a job left in the failed set (a worker died between
the failure and the move to the dead-letter queue), or in the completed set.
A job anywhere else is left alone and named, in the same atomic step.

The removal is BullMQ's removeJob for a finished job (removeJob-2.lua with
includes/removeJobFromAnyState.lua and removeJobKeys.lua): the id leaves the
failed or completed sorted set, the job hash and its :logs, :dependencies,
:processed, :failed and :unsuccessful keys are deleted, and a 'removed' event
with the previous state goes on the queue's event stream.

A failed job is removed only by the holder of its lease (failed-move:<id>),
which has written its dead-letter entry first (DeadLetterQueue.takeFailed):
nothing drops a failed job without a record of it.

KEYS[1]  the queue's key prefix, "<prefix>:<queue>:"
KEYS[2]  failed-move:<id>, the lease
ARGV[1]  job id
ARGV[2]  the caller's lease token, '' when it holds none

Returns 'removed-failed' | 'removed-completed' | 'leased' (another process is moving it)
      | 'failed' (in the failed set, not removed) | 'queued' (pending or active) | 'absent'
]]
local rcall = redis.call
local q = KEYS[1]
local id = ARGV[1]
local jobKey = q .. id

local prev
if rcall("ZSCORE", q .. "failed", id) then
  local holder = rcall("GET", KEYS[2])
  if not holder then return "failed" end
  if holder ~= ARGV[2] then return "leased" end
  rcall("ZREM", q .. "failed", id)
  prev = "failed"
elseif rcall("ZSCORE", q .. "completed", id) then
  rcall("ZREM", q .. "completed", id)
  prev = "completed"
elseif rcall("EXISTS", jobKey) == 1 then
  return "queued"
else
  return "absent"
end

rcall("DEL", jobKey, jobKey .. ":logs", jobKey .. ":dependencies", jobKey .. ":processed", jobKey .. ":failed", jobKey .. ":unsuccessful")
local maxEvents = rcall("HGET", q .. "meta", "opts.maxLenEvents") or 10000
rcall("XADD", q .. "events", "MAXLEN", "~", maxEvents, "*", "event", "removed", "jobId", id, "prev", prev)
return "removed-" .. prev
