--[[
Records how a job ended for the batch it was tied to, and who owns the
stream's standing ban, in one step. Job ids are one per stream, so the same id
is banned by different batches over time: the batch is read from the job's
tie (job-batch:<id>, set by the producer before the job was added), never
from the id, and each batch keeps its own outcome.

KEYS[1]  job-batch:<id>, the job's tie to its batch
KEYS[2]  ban-owner:<ban id>, the owner of the stream's standing ban (any key when ARGV[4] is 'keep')
ARGV[1]  the account's key prefix
ARGV[2]  job id
ARGV[3]  outcome: applied | already-applied | dead-lettered
ARGV[4]  the standing ban: 'take' (this job's ban was applied: it stands now as this batch's,
         or as no batch's if the job had none), 'clear' (a lift was applied), 'keep'
ARGV[5]  'end' deletes the tie (the job is over); 'stay' keeps it (dead-lettered: a replay runs under the same batch)
ARGV[6]  the ban's parameters as JSON, kept for undo ('' for none)
ARGV[7]  '1' when the job is a lift an undo enqueued: counted as undone
ARGV[8]  ttl in seconds of the batch keys
ARGV[9]  now, in ms

A batch is done once every job it recorded has ended (applied, already
applied, dead-lettered) or was cancelled: the end that completes it sets the
batch's doneAt, once (Batches.record clears it when the batch grows).

Returns { batch or false, 1 when an undo was asked for the batch, 1 when this end completed the batch }.
]]
local rcall = redis.call
local prefix = ARGV[1]
local id = ARGV[2]
local ttl = tonumber(ARGV[8])

local batch = rcall("GET", KEYS[1])
if batch and ARGV[5] == "end" then rcall("DEL", KEYS[1]) end

if ARGV[4] == "take" then
  if batch then rcall("SET", KEYS[2], batch, "EX", ttl) else rcall("DEL", KEYS[2]) end
elseif ARGV[4] == "clear" then
  rcall("DEL", KEYS[2])
end

if not batch then return { false, 0, 0 } end

local base = prefix .. ":batch-"
local meta = prefix .. ":batch:" .. batch
local jobs = base .. "jobs:" .. batch
local outcomes = base .. "outcomes:" .. batch
-- A job the batch recorded (a lift its undo enqueued is not one) ending for the first time.
local own = rcall("SISMEMBER", jobs, id) == 1
local first = rcall("HSET", outcomes, id, ARGV[3]) == 1
rcall("EXPIRE", outcomes, ttl)
-- The job ran again under the batch after a cancel of the same id (a batch name used twice).
rcall("SREM", base .. "cancelled:" .. batch, id)
if ARGV[6] ~= "" then
  local applied = base .. "applied:" .. batch
  rcall("HSET", applied, id, ARGV[6])
  rcall("EXPIRE", applied, ttl)
end
if ARGV[7] == "1" then
  local undone = base .. "undone:" .. batch
  rcall("SADD", undone, id)
  rcall("EXPIRE", undone, ttl)
end
local done = 0
if own and first then
  local ended = rcall("HINCRBY", meta, "ended", 1)
  rcall("HINCRBY", meta, "ended:" .. ARGV[3], 1)
  if ended + rcall("SCARD", base .. "cancelled:" .. batch) >= rcall("SCARD", jobs) then
    done = rcall("HSETNX", meta, "doneAt", ARGV[9])
  end
end
return { batch, rcall("HEXISTS", meta, "undoAt"), done }
