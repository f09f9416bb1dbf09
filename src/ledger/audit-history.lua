--[[
Reads a subject's history from the audit trail: from the head pointer (see
audit.lua) back along each record's `prev`, newest first, at most ARGV[2]
records. The chain ends at a record the trail no longer has (trimmed).

KEYS[1]  the audit stream
KEYS[2]  the subject's head bucket
ARGV[1]  the subject's field in it
ARGV[2]  the most records to read

Returns the stream entries, newest first.
]]
local rcall = redis.call
local entries = {}
local id = rcall("HGET", KEYS[2], ARGV[1])
local limit = tonumber(ARGV[2])
while id and id ~= "" and #entries < limit do
  local found = rcall("XRANGE", KEYS[1], id, id)
  if #found == 0 then break end
  local entry = found[1]
  entries[#entries + 1] = entry
  id = false
  local flat = entry[2]
  for i = 1, #flat, 2 do
    if flat[i] == "prev" then id = flat[i + 1] end
  end
end
return entries
