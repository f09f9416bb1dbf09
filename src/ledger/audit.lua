--[[
Appends one record to an account's audit trail, trims the trail by age and
length, and indexes the record under its subject (a stream or a monitor), so
that a subject's history is read without scanning the trail.

An outcome is written with the batch its job is tied to (job-batch:<id>) and
the act behind it, read from the batch's record: the actor, reason and ticket
of the enqueue, or of the undo when the job is a lift the undo enqueued (a
job of another operation than its batch's).

KEYS[1]  the audit stream
KEYS[2]  the subject's index (a sorted set of record ids by time), or KEYS[1] for none
KEYS[3]  job-batch:<id>, the job's tie, or KEYS[1] for none
ARGV[1]  the account's key prefix (the batch's record is <prefix>:batch:<batch>)
ARGV[2]  the job's operation ('' for an act)
ARGV[3]  now, in ms
ARGV[4]  retention, in ms
ARGV[5]  the trail's most records
ARGV[6..] field, value, ...

Returns { the record's id, the batch of the job's tie or false }.
]]
local rcall = redis.call
local now = tonumber(ARGV[3])
local retention = tonumber(ARGV[4])
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end

if KEYS[3] ~= KEYS[1] then
  local batch = rcall("GET", KEYS[3])
  if batch then
    fields[#fields + 1] = "batch"
    fields[#fields + 1] = batch
    local meta = ARGV[1] .. ":batch:" .. batch
    local names = { "actor", "reason", "ticket" }
    local undo = rcall("HGET", meta, "operation") ~= ARGV[2]
    for _, name in ipairs(names) do
      local value = rcall("HGET", meta, undo and ("undo" .. string.upper(string.sub(name, 1, 1)) .. string.sub(name, 2)) or name)
      if value then
        fields[#fields + 1] = name
        fields[#fields + 1] = value
      end
    end
    if undo then
      fields[#fields + 1] = "act"
      fields[#fields + 1] = "undo"
    end
  end
end

local tiedBatch = false
for i = 1, #fields - 1, 2 do
  if fields[i] == "batch" then tiedBatch = fields[i + 1] end
end

local oldest = math.max(0, now - retention)
local id = rcall("XADD", KEYS[1], "MINID", oldest, "*", unpack(fields))
rcall("XTRIM", KEYS[1], "MAXLEN", "~", ARGV[5])
if KEYS[2] ~= KEYS[1] then
  rcall("ZADD", KEYS[2], now, id)
  rcall("ZREMRANGEBYSCORE", KEYS[2], "-inf", "(" .. oldest)
  rcall("PEXPIRE", KEYS[2], retention)
end
return { id, tiedBatch }
