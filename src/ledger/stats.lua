--[[
Counts one outcome of an operation and, when the API was called, the call in
its 10-second bucket (for "calls in the last minute"). One command instead of
a transaction: this runs for every job.

KEYS[1]  stats hash of the operation
KEYS[2]  calls counter of the current 10-second bucket
ARGV[1]  counter name
ARGV[2]  1 when the API was called
ARGV[3]  ttl ms of a calls bucket
]]
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
if ARGV[2] == '1' then
  redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1
