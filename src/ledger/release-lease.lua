-- Releases a lease only if this process still holds it.
-- KEYS[1] the lease key; ARGV[1] the token the holder wrote.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0
