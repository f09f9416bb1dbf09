--[[
Cancels pending jobs, a chunk of ids per call, and says for each id what
happened. A job counts as cancelled only when this script removed it: its
owner, its state and the removal are one atomic step, so a job a worker took,
or that finished, or that another batch enqueued again meanwhile, is never
counted (BullMQ's Queue.remove answers 1 for a finished job too).

The removal is the one BullMQ's removeJob makes for a job that is not locked
(bullmq/dist/cjs/commands/removeJob-2.lua, with includes/isLocked.lua,
removeJobWithChildren.lua, removeJobFromAnyState.lua, removeJobKeys.lua and
removeDeduplicationKeyIfNeededOnRemoval.lua), narrowed to the pending states:
the id leaves the prioritized or delayed sorted set or the wait or paused
list; the job hash and its :logs, :dependencies, :processed, :failed and
:unsuccessful keys are deleted, and its deduplication key if it holds it; a
'removed' event with the previous state goes on the queue's event stream,
trimmed as BullMQ trims it. Our jobs have no parent and no children. The
marker and the priority counter (pc) stay, as BullMQ leaves them: a worker
woken by a stale marker finds nothing and waits again.

KEYS[1]  the queue's key prefix, "<prefix>:<queue>:" (wait, paused, ... and job ids follow it)
ARGV[1]  the account's key prefix, "<prefix>" (batch and job-batch keys, see names.ts)
ARGV[2]  the batch whose jobs may be cancelled; '' cancels a pending job whichever batch added it (cancel --all)
ARGV[3]  ttl in seconds of the batch keys written
ARGV[4..] job ids

Returns one answer per id:
  'cancelled'  removed before any worker took it
  'in-flight'  a worker holds it (locked or active): it finishes
  'other'      it is queued, or was last enqueued, under another batch: left to that batch
  'finished'   not pending under this batch (done, cancelled before, or gone)
]]
local rcall = redis.call
local q = KEYS[1]
local prefix = ARGV[1]
local only = ARGV[2]
local ttl = tonumber(ARGV[3])

local function removeFromPending(id)
  if rcall("ZREM", q .. "prioritized", id) == 1 then return "prioritized" end
  if rcall("ZREM", q .. "delayed", id) == 1 then return "delayed" end
  if rcall("LREM", q .. "wait", 1, id) == 1 then return "wait" end
  if rcall("LREM", q .. "paused", 1, id) == 1 then return "paused" end
  return false
end

local maxEvents = rcall("HGET", q .. "meta", "opts.maxLenEvents") or 10000

local answers = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local jobKey = q .. id
  local tieKey = prefix .. ":job-batch:" .. id
  local owner = rcall("GET", tieKey)
  local answer
  if only ~= "" and owner ~= only then
    if owner then answer = "other" else answer = "finished" end
  elseif rcall("EXISTS", jobKey .. ":lock") == 1 then
    answer = "in-flight"
  else
    local prev = removeFromPending(id)
    if prev then
      local dedup = rcall("HGET", jobKey, "deid")
      if dedup then
        local dedupKey = q .. "de:" .. dedup
        if rcall("GET", dedupKey) == id then rcall("DEL", dedupKey, q .. "dn:" .. dedup) end
      end
      rcall("DEL", jobKey, jobKey .. ":logs", jobKey .. ":dependencies", jobKey .. ":processed", jobKey .. ":failed", jobKey .. ":unsuccessful")
      rcall("XADD", q .. "events", "MAXLEN", "~", maxEvents, "*", "event", "removed", "jobId", id, "prev", prev)
      if owner then
        rcall("DEL", tieKey)
        local cancelled = prefix .. ":batch-cancelled:" .. owner
        rcall("SADD", cancelled, id)
        rcall("EXPIRE", cancelled, ttl)
        -- Its last act in the batch is this cancel, whatever an earlier run of the same id did.
        rcall("HDEL", prefix .. ":batch-outcomes:" .. owner, id)
      end
      answer = "cancelled"
    elseif rcall("LPOS", q .. "active", id) then
      answer = "in-flight"
    else
      answer = "finished"
    end
  end
  answers[#answers + 1] = answer
end
return answers
