--[[
Appends one record to an account's audit trail, trims the trail by age and
length, and links the record into its subject's history (a stream or a
monitor), so that a subject's history is read without scanning the trail.

A subject's history is a chain through the trail: each record about it names
the previous one (`prev`), and a head pointer per subject names the newest.
The heads are fields of 4,096 bucket hashes (Redis packs a hash of up to 128
fields tightly: about half a million subjects), not a key per subject: a key
each was the larger part of what an outcome cost. A chain ends where the trail was
trimmed. The first write to a bucket a quarter of the retention after its
last sweep (the `~swept` field) also drops the bucket's heads that point past
the retention. (Like the trail itself, which is trimmed as it is written.)

An outcome is written with the batch its job is tied to (job-batch:<id>) and
the act behind it, read from the batch's record: the actor, reason and ticket
of the enqueue, or of the undo when the job is a lift the undo enqueued (a
job of another operation than its batch's). An outcome always has the same
fields in the same order, '' for none, so that the trail stores their names
once per node instead of once per record.

KEYS[1]  the audit stream
KEYS[2]  the subject's head bucket (a hash), or KEYS[1] for none
KEYS[3]  job-batch:<id>, the job's tie, or KEYS[1] for none
ARGV[1]  the account's key prefix (the batch's record is <prefix>:batch:<batch>)
ARGV[2]  the job's operation ('' for an act)
ARGV[3]  now, in ms
ARGV[4]  retention, in ms
ARGV[5]  the trail's most records
ARGV[6]  the subject's field in its bucket ('' for none)
ARGV[7..] field, value, ...

Returns { the record's id, the batch of the job's tie or false }.
]]
local rcall = redis.call
local now = tonumber(ARGV[3])
local retention = tonumber(ARGV[4])
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end

local function add(name, value)
  fields[#fields + 1] = name
  fields[#fields + 1] = value
end

local tiedBatch = false
if KEYS[3] ~= KEYS[1] then
  local batch = rcall("GET", KEYS[3])
  local act = { "", "", "", "" }
  if batch then
    tiedBatch = batch
    local meta = rcall("HMGET", ARGV[1] .. ":batch:" .. batch, "operation", "actor", "reason", "ticket", "undoActor", "undoReason", "undoTicket")
    -- A lift the undo enqueued is a job of another operation than its batch's.
    local undo = meta[1] ~= false and meta[1] ~= ARGV[2]
    local from = undo and 5 or 2
    act = { meta[from] or "", meta[from + 1] or "", meta[from + 2] or "", undo and "undo" or "" }
  end
  add("batch", batch or "")
  add("actor", act[1])
  add("reason", act[2])
  add("ticket", act[3])
  add("act", act[4])
end

local subject = KEYS[2] ~= KEYS[1]
if subject then add("prev", rcall("HGET", KEYS[2], ARGV[6]) or "") end

local oldest = math.max(0, now - retention)
local id = rcall("XADD", KEYS[1], "MINID", oldest, "*", unpack(fields))
rcall("XTRIM", KEYS[1], "MAXLEN", "~", ARGV[5])
if subject then
  rcall("HSET", KEYS[2], ARGV[6], id)
  if now - tonumber(rcall("HGET", KEYS[2], "~swept") or "0") > retention / 4 then
    local heads = rcall("HGETALL", KEYS[2])
    for i = 1, #heads, 2 do
      if heads[i] ~= "~swept" and tonumber(string.match(heads[i + 1], "^(%d+)")) < oldest then rcall("HDEL", KEYS[2], heads[i]) end
    end
    rcall("HSET", KEYS[2], "~swept", now)
  end
end
return { id, tiedBatch }
