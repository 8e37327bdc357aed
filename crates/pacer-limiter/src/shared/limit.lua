-- pacer's shared admission rules for one upstream (issue 19), run atomically
-- by Redis for every pacer that shares the backend. Time is the store's own
-- clock (TIME), in microseconds, so the machines' clocks need not agree.
--
-- KEYS[1] the state hash: tat (GCRA theoretical arrival time), last (the
--         latest booked start), first (the first start), pause (pause-until),
--         rate (the adaptive rate, req/s), ceiling, dec_at, adj_at,
--         decreases, pauses, q_amount and q_window (a learned quota)
-- KEYS[2] the window log: booked starts, scored by their time
-- KEYS[3] the in-flight leases: lease ids, scored by when they expire
-- KEYS[4] refused starts (to leave them out of what a window held)
--
-- ARGV[1] the operation: admit, refused, pause, quota, release
-- ARGV[2] the keys' time to live, seconds (refreshed on every use)
-- ARGV[3] the configured quota's amount (-1: unlimited)
-- ARGV[4] the configured quota's window, microseconds
-- ARGV[5..] the operation's own arguments (below)

local state, starts, leases, refused = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local op, ttl = ARGV[1], tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local function num(field, default)
  local v = redis.call('HGET', state, field)
  if v then return tonumber(v) end
  return default
end

-- The quota in force: a learned one, else the configured one.
local amount, window = tonumber(ARGV[3]), tonumber(ARGV[4])
local q_amount = num('q_amount', nil)
if q_amount then
  amount, window = q_amount, num('q_window', window)
end
local quota_rate = -1
if amount >= 0 then quota_rate = amount * 1000000 / window end

local function touch()
  for _, k in ipairs(KEYS) do redis.call('EXPIRE', k, ttl) end
end

-- The adaptive rate, never above the quota's.
local rate = num('rate', quota_rate)
if quota_rate >= 0 and (rate < 0 or rate > quota_rate) then rate = quota_rate end

if op == 'admit' then
  -- ARGV: 5 burst, 6 min_delay_us, 7 max_concurrent, 8 lease id,
  -- 9 lease_us, 10 adaptive (1/0), 11 fast slope, 12 slow slope,
  -- 13 limit of the configured window (0: none)
  local burst, min_delay = tonumber(ARGV[5]), tonumber(ARGV[6])
  local max_conc, id, lease_us = tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9])
  local limit = tonumber(ARGV[13])
  if q_amount then limit = math.floor(q_amount) end
  -- The burst never holds more than the quota in force lets start in one
  -- window, and none past one where no whole request fits a window (as
  -- memory's burst_within).
  burst = math.max(1, math.min(burst, math.max(limit, 1)))

  -- In flight: leases of shards that died expire.
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
  if max_conc > 0 and redis.call('ZCARD', leases) >= max_conc then
    local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
    local hint = math.min(tonumber(first[2]) - now, 20000)
    touch()
    return {-1, math.max(hint, 1000)}
  end

  -- Climbing back: the lowered rate rises with time while requests go,
  -- fast below 90% of the rate of the last decrease, slowly above it.
  if ARGV[10] == '1' and quota_rate >= 0 and rate < quota_rate then
    local ceiling = num('ceiling', quota_rate)
    local elapsed = math.min(now - num('adj_at', now), 1000000) / 1000000
    local slope = tonumber(ARGV[12])
    if rate < 0.9 * ceiling then slope = tonumber(ARGV[11]) end
    rate = math.min(quota_rate, rate + slope * ceiling * elapsed)
    redis.call('HSET', state, 'rate', rate, 'adj_at', now)
  end

  local interval = 0
  if rate > 0 then interval = 1000000 / rate end
  local tat, last = num('tat', 0), num('last', 0)
  -- The start is the latest of what each rule allows; the binding one is
  -- charged the wait: 1 rate, 2 window, 3 min_delay, 4 pause.
  local start, binding = now, 0
  local function at_least(at, why)
    if at > start or (at == start and at > now) then start, binding = at, why end
  end
  at_least(math.max(tat - (burst - 1) * interval, last), 1)
  if limit > 0 then
    -- Requests reach the API a little after their booked start (a process
    -- woken late, a new connection): a margin of 4% of the window (10 to
    -- 200 ms) keeps the API's own count within the quota. Twice memory's:
    -- here the late ones are told to the store only past 2 ms.
    local margin = math.min(math.max(window / 25, 10000), 200000)
    redis.call('ZREMRANGEBYSCORE', starts, '-inf', now - 2 * window - margin)
    if redis.call('ZCARD', starts) >= limit then
      local nth = redis.call('ZREVRANGE', starts, limit - 1, limit - 1, 'WITHSCORES')
      at_least(tonumber(nth[2]) + window + margin, 2)
    end
  end
  if min_delay > 0 then at_least(last + min_delay, 3) end
  at_least(num('pause', 0), 4)

  redis.call('HSET', state, 'tat', math.max(tat, start) + interval, 'last', start)
  if not redis.call('HGET', state, 'first') then redis.call('HSET', state, 'first', start) end
  if limit > 0 then redis.call('ZADD', starts, start, id) end
  redis.call('ZADD', leases, start + lease_us, id)
  touch()
  return {start - now, binding, math.floor(rate * 1000), math.floor(amount * 1000), window,
          start, num('decreases', 0)}
end

if op == 'release' then
  redis.call('ZREM', leases, ARGV[5])
  return 1
end

if op == 'pause' then
  -- ARGV: 5 the wait, microseconds. Pauses overlap, they never add up.
  local untl = now + tonumber(ARGV[5])
  if untl > num('pause', 0) then
    redis.call('HSET', state, 'pause', untl)
    redis.call('HINCRBY', state, 'pauses', 1)
    touch()
    return {1}
  end
  return {0}
end

if op == 'late' then
  -- ARGV: 5 lease id, 6 how late it really started, microseconds: a busy
  -- machine woke it late, and the window must count it when the API did.
  local id, late = ARGV[5], tonumber(ARGV[6])
  local at = redis.call('ZSCORE', starts, id)
  if at then
    at = tonumber(at) + late
    redis.call('ZADD', starts, 'XX', at, id)
    if at > num('last', 0) then redis.call('HSET', state, 'last', at) end
  end
  return {1}
end

if op == 'quota' then
  -- ARGV: 5 amount, 6 window_us: a quota the API advertised, adopted by the
  -- pacer that read it under its own rules.
  local a, w = tonumber(ARGV[5]), tonumber(ARGV[6])
  local new_rate = a * 1000000 / w
  if rate < 0 or rate >= quota_rate or rate > new_rate then rate = new_rate end
  redis.call('HSET', state, 'q_amount', a, 'q_window', w, 'rate', rate, 'adj_at', now)
  touch()
  return {math.floor(rate * 1000), math.floor(a * 1000), w}
end

if op == 'refused' then
  -- ARGV: 5 the refused start (store time), 6 its Retry-After in
  -- microseconds (-1: none), 7 beta, 8 floor rate, 9 cooldown_us,
  -- 10 adaptive (1/0), 11 the configured window's limit (0: none),
  -- 12 when the store booked the refused start
  if ARGV[10] ~= '1' then return {math.floor(rate * 1000), 0} end
  local started, retry_after = tonumber(ARGV[5]), tonumber(ARGV[6])
  local limit = tonumber(ARGV[11])
  if q_amount then limit = math.floor(q_amount) end
  redis.call('ZADD', refused, started, started)
  redis.call('ZREMRANGEBYSCORE', refused, '-inf', started - window)
  -- What a window held when the API began refusing is its quota, as in
  -- memory (limiter.rs, learn_from_refusal), over every pacer's starts.
  -- A request booked before the last decrease (or the last quota learned)
  -- went at the pace of then: its refusal teaches nothing new.
  local booked = tonumber(ARGV[12]) or started
  local dec_at = num('dec_at', nil)
  local stale = dec_at and booked < dec_at
  local first = num('first', started)
  if retry_after >= 0 and not stale and started - first >= window / 4 then
    local nref = redis.call('ZCOUNT', refused, started - window, '(' .. started)
    local held = redis.call('ZCOUNT', starts, started - window, '(' .. started) - nref
    if held > 0 and (limit == 0 or held < limit) then
      local nth = redis.call('ZREVRANGEBYSCORE', starts, '(' .. started, '-inf',
        'WITHSCORES', 'LIMIT', held + nref - 1, 1)
      local predicted = 0
      if nth[2] then predicted = math.max(tonumber(nth[2]) + window - now, 0) end
      local slack = math.max(window / 10, 50000)
      local learned = held * 1000000 / window
      if retry_after + slack >= predicted and (quota_rate < 0 or learned < quota_rate) then
        redis.call('HSET', state, 'q_amount', held, 'q_window', window, 'rate',
          math.min(rate, learned), 'ceiling', math.min(rate, learned), 'dec_at', now,
          'adj_at', now)
        redis.call('HINCRBY', state, 'decreases', 1)
        touch()
        return {math.floor(math.min(rate, learned) * 1000), 2}
      end
    end
  end
  -- AIMD: one decrease per cooldown, and only for a request booked after
  -- the last decrease (it saw the lowered rate; one booked before it, to
  -- start after it, did not: after a quota learned from a refusal, the
  -- bookings already made would otherwise halve the learned rate).
  if stale or (dec_at and now - dec_at < tonumber(ARGV[9])) then
    return {math.floor(rate * 1000), 0}
  end
  if rate < 0 then return {-1, 0} end
  local lowered = math.max(rate * tonumber(ARGV[7]), tonumber(ARGV[8]))
  redis.call('HSET', state, 'rate', lowered, 'ceiling', rate, 'dec_at', now, 'adj_at', now)
  redis.call('HINCRBY', state, 'decreases', 1)
  touch()
  return {math.floor(lowered * 1000), 1}
end

return redis.error_reply('pacer: unknown operation ' .. tostring(op))
