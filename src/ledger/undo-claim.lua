--[[
Claims, for one batch's undo, the bans it may lift: each ban this batch
applied, once, and only while its standing ban is still this batch's
(ban-owner:<id>, see batch-ledger.lua). A stream banned again by a later
batch after a lift is that batch's ban now; a ban lifted since is gone:
neither is claimed. Ownership is read and the claim made in one step.

KEYS[1]  batch-undo:<batch>, the set of claimed ban ids
ARGV[1]  the account's key prefix
ARGV[2]  the batch
ARGV[3]  ttl in seconds of the claim set
ARGV[4]  '1' for a batch recorded before owners were kept: a ban with no owner is still its own
ARGV[5..] ban job ids

Returns one answer per id: 'claimed' | 'before' (claimed by an earlier undo) | 'superseded'
]]
local rcall = redis.call
local prefix = ARGV[1]
local batch = ARGV[2]
local legacy = ARGV[4] == "1"
local answers = {}
for i = 5, #ARGV do
  local id = ARGV[i]
  local answer
  if rcall("SISMEMBER", KEYS[1], id) == 1 then
    answer = "before"
  else
    local owner = rcall("GET", prefix .. ":ban-owner:" .. id)
    if owner == batch or (legacy and not owner) then
      rcall("SADD", KEYS[1], id)
      answer = "claimed"
    else
      answer = "superseded"
    end
  end
  answers[#answers + 1] = answer
end
rcall("EXPIRE", KEYS[1], tonumber(ARGV[3]))
return answers
