-- Token bucket: KEYS[1] holds {tokens, ts}; ARGV = capacity, refill per second, cost.
-- Returns {allowed (1 or 0), tokens left (rounded down), ms until `cost` tokens are there}.
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(bucket[1]) or capacity
local ts = tonumber(bucket[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate / 1000)
local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.3f', tokens), 'ts', now)
-- A bucket nobody touched for two full refills is full again: let it expire.
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 2000))
local wait = 0
if tokens < cost then wait = math.ceil((cost - tokens) * 1000 / rate) end
return {allowed, math.floor(tokens), wait}
