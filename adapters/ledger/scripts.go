package ledger

import "github.com/redis/go-redis/v9"

// Result codes in script replies are the engine.Result values as digits
// ("1" Granted ... "8" SkippedFallback), one character per item.

// walkScript is the whole plan walk in one atomic script: the same greedy
// walk as engine.(*Plan).Walk (fallback, limit, group, guardrail, then the
// item's caps: per customer, total, budget, all reserved or none).
//
// ARGV: now_ms, dry ("1"/"0"), limit, guardrail, n, token, anon ("1"/"0"),
// then per item (12 each): fallback, group, amount, per_customer, window_ms,
// since_ms (now - window), total, budget, the 1-based KEYS indexes of its
// per-customer, total and budget keys ("0": none), and spend (what a grant
// counts against the budget, in the budget's currency).
const walkScript = `
local now = ARGV[1]
local dry = ARGV[2] == '1'
local limit = tonumber(ARGV[3])
local guard = tonumber(ARGV[4])
local n = tonumber(ARGV[5])
local token = ARGV[6]
local anon = ARGV[7] == '1'
local granted, mainGranted, sum = 0, 0, 0
local groups = {}
local out = {}
for i = 0, n - 1 do
  local b = 7 + i * 12
  local fb = ARGV[b + 1] == '1'
  local group = ARGV[b + 2]
  local amount = tonumber(ARGV[b + 3])
  local pc = tonumber(ARGV[b + 4])
  local win = ARGV[b + 5]
  local since = ARGV[b + 6]
  local total = tonumber(ARGV[b + 7])
  local budget = tonumber(ARGV[b + 8])
  local pck = tonumber(ARGV[b + 9])
  local tk = tonumber(ARGV[b + 10])
  local bk = tonumber(ARGV[b + 11])
  local spend = tonumber(ARGV[b + 12])
  local r
  if fb and mainGranted > 0 then
    r = 8
  elseif granted >= limit then
    r = 2
  elseif group ~= '' and groups[group] then
    r = 3
  elseif sum + amount > guard then
    r = 4
  else
    r = 1
    if pc > 0 then
      if anon or pck == 0 then
        r = 5
      else
        local c
        if win ~= '0' then
          c = redis.call('ZCOUNT', KEYS[pck], '(' .. since, '+inf')
        else
          c = tonumber(redis.call('GET', KEYS[pck]) or '0')
        end
        if c >= pc then r = 5 end
      end
    end
    if r == 1 and total > 0 and tonumber(redis.call('GET', KEYS[tk]) or '0') >= total then
      r = 6
    end
    if r == 1 and budget > 0 and tonumber(redis.call('GET', KEYS[bk]) or '0') + spend > budget then
      r = 7
    end
    if r == 1 and not dry then
      if pc > 0 then
        if win ~= '0' then
          redis.call('ZREMRANGEBYSCORE', KEYS[pck], '-inf', since)
          redis.call('ZADD', KEYS[pck], now, token)
          redis.call('PEXPIRE', KEYS[pck], win)
        else
          redis.call('INCR', KEYS[pck])
        end
      end
      if total > 0 then redis.call('INCR', KEYS[tk]) end
      if budget > 0 then redis.call('INCRBY', KEYS[bk], ARGV[b + 12]) end
    end
  end
  if r == 1 then
    granted = granted + 1
    if not fb then mainGranted = mainGranted + 1 end
    if group ~= '' then groups[group] = true end
    sum = sum + amount
  end
  out[i + 1] = string.char(48 + r)
end
return table.concat(out)
`

// customerScript checks and (unless dry) tentatively reserves the
// per-customer caps of a plan, each independently, in the customer's slot
// (Redis Cluster).
//
// KEYS: the per-customer keys. ARGV: now_ms, dry, token, then per key
// (3 each): per_customer, window_ms, since_ms. Reply: "1" reserved, "5"
// full, per key.
const customerScript = `
local now = ARGV[1]
local dry = ARGV[2] == '1'
local token = ARGV[3]
local out = {}
for i = 1, #KEYS do
  local b = 3 + (i - 1) * 3
  local pc = tonumber(ARGV[b + 1])
  local win = ARGV[b + 2]
  local since = ARGV[b + 3]
  local c
  if win ~= '0' then
    c = redis.call('ZCOUNT', KEYS[i], '(' .. since, '+inf')
  else
    c = tonumber(redis.call('GET', KEYS[i]) or '0')
  end
  if c >= pc then
    out[i] = '5'
  else
    out[i] = '1'
    if not dry then
      if win ~= '0' then
        redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', since)
        redis.call('ZADD', KEYS[i], now, token)
        redis.call('PEXPIRE', KEYS[i], win)
      else
        redis.call('INCR', KEYS[i])
      end
    end
  end
end
return table.concat(out)
`

// fleetScript checks and (unless dry) tentatively reserves one offer's
// fleet-wide total and budget, both or neither, in the offer's slot.
//
// KEYS: total key, budget key (either may be a placeholder when unused).
// ARGV: dry, total, budget, spend (the amount in the budget's currency).
// Reply: "1" reserved, "6" total reached, "7" budget exhausted.
const fleetScript = `
local dry = ARGV[1] == '1'
local total = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local amount = tonumber(ARGV[4])
if total > 0 and tonumber(redis.call('GET', KEYS[1]) or '0') >= total then return '6' end
if budget > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') + amount > budget then return '7' end
if not dry then
  if total > 0 then redis.call('INCR', KEYS[1]) end
  if budget > 0 then redis.call('INCRBY', KEYS[2], ARGV[4]) end
end
return '1'
`

// releaseCustomerScript undoes tentative per-customer reservations.
// KEYS: per-customer keys. ARGV: token, then per key its window_ms.
const releaseCustomerScript = `
for i = 1, #KEYS do
  if ARGV[1 + i] ~= '0' then
    redis.call('ZREM', KEYS[i], ARGV[1])
  else
    local c = tonumber(redis.call('GET', KEYS[i]) or '0')
    if c > 0 then redis.call('DECR', KEYS[i]) end
  end
end
return 1
`

// releaseFleetScript undoes one offer's tentative fleet reservation.
// KEYS: total key, budget key. ARGV: total, budget, spend.
const releaseFleetScript = `
if tonumber(ARGV[1]) > 0 then redis.call('DECR', KEYS[1]) end
if tonumber(ARGV[2]) > 0 then redis.call('DECRBY', KEYS[2], ARGV[3]) end
return 1
`

var (
	scriptWalk            = redis.NewScript(walkScript)
	scriptCustomer        = redis.NewScript(customerScript)
	scriptFleet           = redis.NewScript(fleetScript)
	scriptReleaseCustomer = redis.NewScript(releaseCustomerScript)
	scriptReleaseFleet    = redis.NewScript(releaseFleetScript)
)
