package ledger

import "github.com/redis/go-redis/v9"

// The ledger's Lua scripts. Result codes in walk replies are the
// engine.Result values as digits ("1" Granted ... "9" SkippedPacing), one
// character per item.
//
// Keys are built inside the scripts from the prefix and the ids (see
// docs/redis.md for the layout), always in the slot of the hash tag the
// script was routed by: an offer's keys all carry {OFFER}, a customer's
// {CUSTOMER}; on one server (ModeScript) the walk touches both. Each script
// declares the key it is routed by.
//
// Times are in milliseconds: the Redis server's clock (TIME) when the
// "server" argument is "1" (the default: every replica then counts
// windows and holds by one clock), else the time the caller gives (tests,
// to compare with the reference ledger).

// luaLib is shared by the scripts.
const luaLib = `
local function split(s, n)
  local out, start = {}, 1
  for i = 1, n - 1 do
    local j = string.find(s, '|', start, true)
    if not j then
      out[i] = string.sub(s, start)
      for k = i + 1, n do out[k] = '' end
      return out
    end
    out[i] = string.sub(s, start, j - 1)
    start = j + 1
  end
  out[n] = string.sub(s, start)
  return out
end

local function clock(given, server)
  if server == '1' then
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return tonumber(given)
end

local function offerBase(pfx, oid) return pfx .. 'offer:{' .. oid .. '}:' end
local function learnKey(pfx, oid) return pfx .. 'learn:{' .. oid .. '}' end
local function recKey(pfx, oid, bucket) return pfx .. 'rec:{' .. oid .. '}:' .. bucket end
local function custKey(pfx, cust, oid, win)
  local k = pfx .. 'grants:{' .. cust .. '}:' .. oid
  if win == 0 then k = k .. ':count' end
  return k
end

-- sweep releases up to lim holds of an offer that expired by now, oldest
-- first (a held member is ref|amount|currency), and returns how many.
local function sweep(base, now, lim)
  local hk = base .. 'held'
  local ex = redis.call('ZRANGEBYSCORE', hk, '-inf', now, 'LIMIT', 0, lim)
  for _, m in ipairs(ex) do
    local p = split(m, 3)
    redis.call('ZREM', hk, m)
    redis.call('HINCRBY', base .. 'hold', 'n', -1)
    redis.call('HINCRBY', base .. 'hold', 'a:' .. p[3], 0 - tonumber(p[2]))
    redis.call('DECR', base .. 'granted')
    redis.call('DECRBY', base .. 'spent:' .. p[3], p[2])
  end
  return #ex
end


-- item reads one plan item's fields, starting after ARGV index b.
local ITEM = 16
local function item(b)
  return {
    fb = ARGV[b + 1] == '1', group = ARGV[b + 2], amount = tonumber(ARGV[b + 3]), spend = tonumber(ARGV[b + 4]),
    pc = tonumber(ARGV[b + 5]), win = tonumber(ARGV[b + 6]), total = tonumber(ARGV[b + 7]), budget = tonumber(ARGV[b + 8]),
    hold = tonumber(ARGV[b + 9]), rec = ARGV[b + 10] == '1', cell = ARGV[b + 11], paced = ARGV[b + 12] == '1',
    pt = tonumber(ARGV[b + 13]), pb = tonumber(ARGV[b + 14]), oid = ARGV[b + 15], bucket = ARGV[b + 16]
  }
end

-- perCustomerOK checks an item's per-customer cap.
local function perCustomerOK(pfx, cust, it, now)
  local k = custKey(pfx, cust, it.oid, it.win)
  local c
  if it.win > 0 then
    c = redis.call('ZCOUNT', k, '(' .. (now - it.win), '+inf')
  else
    c = tonumber(redis.call('GET', k) or '0')
  end
  return c < it.pc
end

local function reservePerCustomer(pfx, cust, it, now, token)
  local k = custKey(pfx, cust, it.oid, it.win)
  if it.win > 0 then
    redis.call('ZREMRANGEBYSCORE', k, '-inf', now - it.win)
    redis.call('ZADD', k, now, token)
    redis.call('PEXPIRE', k, it.win)
  else
    redis.call('INCR', k)
  end
end

local function releasePerCustomer(pfx, cust, it, token)
  local k = custKey(pfx, cust, it.oid, it.win)
  if it.win > 0 then
    redis.call('ZREM', k, token)
  elseif tonumber(redis.call('GET', k) or '0') > 0 then
    redis.call('DECR', k)
  end
end

-- expired returns how many of the holds a walk at now would release first
-- (up to lim, oldest first) and the money they hold in cur, releasing
-- nothing: what a dry run counts out.
local function expired(base, now, lim, cur)
  local ex = redis.call('ZRANGEBYSCORE', base .. 'held', '-inf', now, 'LIMIT', 0, lim)
  local n, a = 0, 0
  for _, m in ipairs(ex) do
    local p = split(m, 3)
    n = n + 1
    if p[3] == cur then a = a + tonumber(p[2]) end
  end
  return n, a
end

-- fleetCheck checks an item's total, budget and pacing: 1, or the code of
-- the cap that stops it. gone and goneAmt are counted out (a dry run's
-- expired holds).
local function fleetCheck(base, it, cur, gone, goneAmt)
  local cnt, sp = 0, 0
  if it.total > 0 or it.paced then cnt = tonumber(redis.call('GET', base .. 'granted') or '0') - gone end
  if it.total > 0 and cnt >= it.total then return 6 end
  if it.budget > 0 or it.paced then sp = tonumber(redis.call('GET', base .. 'spent:' .. cur) or '0') - goneAmt end
  if it.budget > 0 and sp + it.spend > it.budget then return 7 end
  if it.paced and ((it.total > 0 and cnt >= it.pt) or (it.budget > 0 and sp > it.pb)) then return 9 end
  return 1
end

-- recheck: an offer without a hold that its total, budget or pacing
-- refuses (r 6, 7 or 9) may still count holds taken before a reload took
-- its hold off (docs/budgets.md): they are released once expired, and the
-- item checked again. Only then, so that the walks of offers under their
-- caps pay nothing for it. Returns r and the holds released.
local function recheck(base, it, cur, now, lim, dry, r)
  if r < 6 or it.hold > 0 then return r, 0 end
  local g, ga, s = 0, 0, 0
  if dry then g, ga = expired(base, now, lim, cur) else s = sweep(base, now, lim) end
  if g > 0 or s > 0 then r = fleetCheck(base, it, cur, g, ga) end
  return r, s
end

-- reserveFleet counts a granted item against its total and budget, and
-- holds it.
local function reserveFleet(base, it, cur, now, member)
  if it.total > 0 or it.hold > 0 then redis.call('INCR', base .. 'granted') end
  if it.budget > 0 or it.hold > 0 then
    redis.call('INCRBY', base .. 'spent:' .. cur, it.spend)
    redis.call('SADD', base .. 'curs', cur)
  end
  if it.hold > 0 then
    redis.call('ZADD', base .. 'held', now + it.hold, member .. '|' .. it.spend .. '|' .. cur)
    redis.call('HINCRBY', base .. 'hold', 'n', 1)
    redis.call('HINCRBY', base .. 'hold', 'a:' .. cur, it.spend)
  end
end

-- releaseFleet undoes reserveFleet (a hold already released by expiry is
-- not released twice).
local function releaseFleet(base, it, cur, member)
  if it.hold > 0 then
    if redis.call('ZREM', base .. 'held', member .. '|' .. it.spend .. '|' .. cur) == 1 then
      redis.call('HINCRBY', base .. 'hold', 'n', -1)
      redis.call('HINCRBY', base .. 'hold', 'a:' .. cur, 0 - it.spend)
      redis.call('DECR', base .. 'granted')
      redis.call('DECRBY', base .. 'spent:' .. cur, it.spend)
    end
    return
  end
  if it.total > 0 then redis.call('DECR', base .. 'granted') end
  if it.budget > 0 then redis.call('DECRBY', base .. 'spent:' .. cur, it.spend) end
end

-- record writes a granted item's record and counts its trial.
local function record(pfx, it, ref, cur, now, day, rttl)
  local v
  if it.hold > 0 then
    v = 'H0|' .. it.spend .. '|' .. cur .. '|' .. (now + it.hold) .. '|' .. day .. '|' .. it.cell
  else
    v = 'G0|0||0|' .. day .. '|' .. it.cell
  end
  local k = recKey(pfx, it.oid, it.bucket)
  redis.call('HSET', k, ref, v)
  redis.call('PEXPIRE', k, rttl + it.hold)
  if it.cell ~= '' then redis.call('HINCRBY', learnKey(pfx, it.oid), it.cell .. '|t|' .. day, 1) end
end

local function unrecord(pfx, it, ref, day)
  if redis.call('HDEL', recKey(pfx, it.oid, it.bucket), ref) == 1 and it.cell ~= '' then
    redis.call('HINCRBY', learnKey(pfx, it.oid), it.cell .. '|t|' .. day, -1)
  end
end
`

// walkHead is the header of the whole-plan walk and of its release:
//
// KEYS: tomb, journal, claim (the claim key is only read with a claim).
// ARGV: now_ms, server, dry, limit, guardrail, n, token, anon, ref, day,
// budget currency, record ttl ms, claim ("1"/"0"), claim body, claim ttl ms,
// prefix, customer, sweep limit, then ITEM values per item (see item()).
const walkHead = `
local now = clock(ARGV[1], ARGV[2])
local dry = ARGV[3] == '1'
local limit = tonumber(ARGV[4])
local guard = tonumber(ARGV[5])
local n = tonumber(ARGV[6])
local token = ARGV[7]
local anon = ARGV[8] == '1'
local ref = ARGV[9]
local day = ARGV[10]
local cur = ARGV[11]
local rttl = tonumber(ARGV[12])
local claim = ARGV[13] == '1'
local body = ARGV[14]
local cttl = ARGV[15]
local pfx = ARGV[16]
local cust = ARGV[17]
local lim = tonumber(ARGV[18])
local H = 18
local member = ref
if member == '' then member = token end
`

// walkScript is the whole plan walk in one atomic script (ModeScript): the
// same greedy walk as engine.(*Plan).Walk, with each capped item's
// per-customer cap, total, budget and pacing checked and reserved
// together, its hold taken, and every granted item's record and trial
// written; the Idempotency-Key is claimed first. A call the caller gave up
// on (a tomb) does nothing. What was reserved is written in the journal
// (for a minute), so that a caller that gave up can undo it
// (releaseWalkScript).
//
// Reply: "T" (given up), "C" (the key was used with another body), "P"
// (pending), "R" + the stored answer, or ["N"] + one result digit per item
// + ["/" + holds released by expiry]. A call that runs again (a client
// that resends it after a lost reply, though it ran) answers what its first
// run reserved (its journal) and reserves nothing more; one that reserved
// nothing walks again, its claim its own.
const walkScript = luaLib + walkHead + `
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then
  if redis.call('EXISTS', KEYS[1]) == 1 then return 'T' end
  -- Its journal: this very call ran and reserved (it is sent again).
  local j = redis.call('GET', KEYS[2])
  if claim then return 'N' .. j end
  return j
end
local head = ''
if claim then
  local h = redis.call('HGET', KEYS[3], 'h')
  head = 'N'
  if h then
    if h ~= body then return 'C' end
    local a = redis.call('HGET', KEYS[3], 'a')
    if a then return 'R' .. a end
    -- Unless this very call claimed the key and reserved nothing (it is
    -- sent again): it walks again.
    if redis.call('HGET', KEYS[3], 'o') ~= token then return 'P' end
  else
    redis.call('HSET', KEYS[3], 'h', body, 'o', token)
    redis.call('PEXPIRE', KEYS[3], cttl)
  end
end
local granted, mainGranted, sum = 0, 0, 0
local groups, out = {}, {}
local swept, reserved = 0, false
for i = 0, n - 1 do
  -- An item's table (item()) is built only for an item that is capped or
  -- granted with a record: most of a plan's items are neither, and the
  -- tables were a sixth of the script's time (BenchmarkWalkScriptRedisCPU).
  local b = H + i * ITEM
  local fb, group, amount = ARGV[b + 1] == '1', ARGV[b + 2], tonumber(ARGV[b + 3])
  local it
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
    if tonumber(ARGV[b + 5]) > 0 or tonumber(ARGV[b + 7]) > 0 or tonumber(ARGV[b + 8]) > 0 then
      it = item(b)
      local base = offerBase(pfx, it.oid)
      local gone, goneAmt = 0, 0
      if it.hold > 0 then
        if dry then gone, goneAmt = expired(base, now, lim, cur) else swept = swept + sweep(base, now, lim) end
      end
      if it.pc > 0 and (anon or not perCustomerOK(pfx, cust, it, now)) then r = 5 end
      if r == 1 then
        local s
        r, s = recheck(base, it, cur, now, lim, dry, fleetCheck(base, it, cur, gone, goneAmt))
        swept = swept + s
      end
      if r == 1 and not dry then
        reserved = true
        if it.pc > 0 then reservePerCustomer(pfx, cust, it, now, token) end
        reserveFleet(base, it, cur, now, member)
      end
    end
  end
  if r == 1 then
    granted = granted + 1
    if not fb then mainGranted = mainGranted + 1 end
    if group ~= '' then groups[group] = true end
    sum = sum + amount
    if ARGV[b + 10] == '1' and not dry and ref ~= '' then
      reserved = true
      record(pfx, it or item(b), ref, cur, now, day, rttl)
    end
  end
  out[i + 1] = string.char(48 + r)
end
local res = table.concat(out)
if reserved then redis.call('SET', KEYS[2], res, 'PX', 60000) end
if swept > 0 then res = res .. '/' .. swept end
return head .. res
`

// releaseWalkScript undoes a walk the caller gave up on (a timeout, a lost
// reply, too few replicas): it leaves a tomb for ten minutes (a walk that
// runs after it does nothing), gives up the claim, and undoes what the
// journal says the walk reserved. Same KEYS and ARGV as walkScript. Reply:
// 1 when something was undone.
const releaseWalkScript = luaLib + walkHead + `
redis.call('SET', KEYS[1], '1', 'PX', 600000)
if claim and redis.call('HGET', KEYS[3], 'o') == token and redis.call('HEXISTS', KEYS[3], 'a') == 0 then
  redis.call('DEL', KEYS[3])
end
local j = redis.call('GET', KEYS[2])
if not j then return 0 end
redis.call('DEL', KEYS[2])
for i = 0, n - 1 do
  if string.sub(j, i + 1, i + 1) == '1' then
    local it = item(H + i * ITEM)
    if it.pc > 0 or it.total > 0 or it.budget > 0 then
      if it.pc > 0 then releasePerCustomer(pfx, cust, it, token) end
      releaseFleet(offerBase(pfx, it.oid), it, cur, member)
    end
    if it.rec and ref ~= '' then unrecord(pfx, it, ref, day) end
  end
end
return 1
`

// customerScript checks and (unless dry) tentatively reserves the
// per-customer caps of a plan, each independently, in the customer's slot
// (ModeSplit).
//
// KEYS: tomb, journal (in the customer's slot). ARGV: now_ms, server, dry,
// token, prefix, customer, then per item (3 each): offer, per_customer,
// window_ms. Reply: "T", or per item "1" reserved, "5" full. A call that
// runs again (go-redis sends a cluster pipeline again after a lost reply
// or a read timeout, though it may have run) answers what its first run
// reserved (its journal), instead of reserving again and finding the
// customer's caps full.
const customerScript = luaLib + `
local now = clock(ARGV[1], ARGV[2])
local dry = ARGV[3] == '1'
local token, pfx, cust = ARGV[4], ARGV[5], ARGV[6]
if redis.call('EXISTS', KEYS[1]) == 1 then return 'T' end
-- Run before (a resent pipeline): its answer, not a second reservation.
local j = redis.call('GET', KEYS[2])
if j then return j end
local out, reserved = {}, false
for i = 0, (#ARGV - 6) / 3 - 1 do
  local b = 6 + i * 3
  local it = {oid = ARGV[b + 1], pc = tonumber(ARGV[b + 2]), win = tonumber(ARGV[b + 3])}
  if perCustomerOK(pfx, cust, it, now) then
    out[i + 1] = '1'
    if not dry then
      reserved = true
      reservePerCustomer(pfx, cust, it, now, token)
    end
  else
    out[i + 1] = '5'
  end
end
local res = table.concat(out)
if reserved then redis.call('SET', KEYS[2], res, 'PX', 60000) end
return res
`

// releaseCustomerScript undoes customerScript's reservations of the items
// marked in ARGV[7] ("1": release), or of all when the caller gave up
// (ARGV[7] empty: a tomb is left too). Same KEYS and ARGV as
// customerScript, plus the mask.
const releaseCustomerScript = luaLib + `
local token, pfx, cust = ARGV[4], ARGV[5], ARGV[6]
local n = (#ARGV - 7) / 3
local mask = ARGV[#ARGV]
if mask == '' then redis.call('SET', KEYS[1], '1', 'PX', 600000) end
local j = redis.call('GET', KEYS[2])
if not j then return 0 end
for i = 0, n - 1 do
  local b = 6 + i * 3
  if string.sub(j, i + 1, i + 1) == '1' and (mask == '' or string.sub(mask, i + 1, i + 1) == '1') then
    releasePerCustomer(pfx, cust, {oid = ARGV[b + 1], pc = tonumber(ARGV[b + 2]), win = tonumber(ARGV[b + 3])}, token)
  end
end
redis.call('DEL', KEYS[2])
return 1
`

// fleetHead reads the arguments of one item's fleet script (ModeSplit).
// KEYS: tomb, journal (in the offer's slot). ARGV: now_ms, server, dry,
// token, prefix, ref, day, budget currency, record ttl ms, sweep limit,
// then the item's ITEM values.
const fleetHead = `
local now = clock(ARGV[1], ARGV[2])
local dry = ARGV[3] == '1'
local token, pfx, ref, day, cur = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local rttl, lim = tonumber(ARGV[9]), tonumber(ARGV[10])
local it = item(10)
local base = offerBase(pfx, it.oid)
local member = ref
if member == '' then member = token end
`

// fleetScript checks and (unless dry) tentatively reserves one item in its
// offer's slot (ModeSplit): total, budget and pacing together, its hold,
// its record and trial. Reply: "T", or "1" reserved (or free of caps),
// "6" total reached, "7" budget exhausted, "9" paced; then "/" + holds
// released by expiry, if any. A call that runs again (a resent pipeline,
// customerScript) and reserved the first time answers "1" and reserves
// nothing more.
const fleetScript = luaLib + fleetHead + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 'T' end
if redis.call('EXISTS', KEYS[2]) == 1 then return '1' end -- run before (a resent pipeline): reserved once
local swept, gone, goneAmt = 0, 0, 0
if it.hold > 0 then
  if dry then gone, goneAmt = expired(base, now, lim, cur) else swept = sweep(base, now, lim) end
end
local r = 1
if it.total > 0 or it.budget > 0 then
  local s
  r, s = recheck(base, it, cur, now, lim, dry, fleetCheck(base, it, cur, gone, goneAmt))
  swept = swept + s
end
if r == 1 and not dry then
  if it.total > 0 or it.budget > 0 then reserveFleet(base, it, cur, now, member) end
  if it.rec and ref ~= '' then record(pfx, it, ref, cur, now, day, rttl) end
  redis.call('SET', KEYS[2], '1', 'PX', 60000)
end
local res = tostring(r)
if swept > 0 then res = res .. '/' .. swept end
return res
`

// releaseFleetScript undoes fleetScript's reservation. With ARGV[#ARGV]
// "gone" (the caller gave up) it leaves a tomb too. Same KEYS and ARGV as
// fleetScript, plus that flag.
const releaseFleetScript = luaLib + fleetHead + `
if ARGV[#ARGV] == 'gone' then redis.call('SET', KEYS[1], '1', 'PX', 600000) end
if not redis.call('GET', KEYS[2]) then return 0 end
redis.call('DEL', KEYS[2])
if it.total > 0 or it.budget > 0 then releaseFleet(base, it, cur, member) end
if it.rec and ref ~= '' then unrecord(pfx, it, ref, day) end
return 1
`

// claimScript claims an Idempotency-Key in its own slot (ModeSplit).
// KEYS: the claim, a tomb in its slot. ARGV: token, body, ttl ms. Reply as
// walkScript's head: "T", "C", "P", "R" + answer, or "N".
const claimScript = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 'T' end
local h = redis.call('HGET', KEYS[1], 'h')
if h then
  if h ~= ARGV[2] then return 'C' end
  local a = redis.call('HGET', KEYS[1], 'a')
  if a then return 'R' .. a end
  if redis.call('HGET', KEYS[1], 'o') == ARGV[1] then return 'N' end -- its own claim: the call sent again
  return 'P'
end
redis.call('HSET', KEYS[1], 'h', ARGV[2], 'o', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 'N'
`

// releaseClaimScript gives up a claim its owner could not answer (and,
// with a tomb key, leaves a tomb). KEYS: the claim[, a tomb]. ARGV: token.
const releaseClaimScript = `
if KEYS[2] then redis.call('SET', KEYS[2], '1', 'PX', 600000) end
if redis.call('HGET', KEYS[1], 'o') == ARGV[1] and redis.call('HEXISTS', KEYS[1], 'a') == 0 then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`

// storeAnswerScript stores the answer of the decision that holds a claim,
// and keeps the claim for its TTL (it was held for its lease until then).
// KEYS: the claim. ARGV: token, answer, ttl ms.
const storeAnswerScript = `
if redis.call('HGET', KEYS[1], 'o') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'a', ARGV[2])
  if tonumber(ARGV[3] or '0') > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
  return 1
end
return 0
`

// outcomeScript applies one outcome to one offer's record of a decision
// (engine.GrantOutcome), then releases expired holds of the offer.
//
// KEYS: the record's bucket. ARGV: prefix, offer, ref, type, reward
// ("": none), at_ms ("": now), now_ms, server, total, budget, sweep limit,
// the decision's time in ms ("": not known).
// Reply: "" when there is no record, else the counts
// commits,late,over,releases,expiries,cancels,successes,swept.
//
// A success counts only for a decision made after the offer's last
// learning reset (the field "reset" of its learning hash): the trial of
// an earlier one was deleted by the reset.
const outcomeScript = luaLib + `
local pfx, oid, ref, typ, reward = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local now = clock(ARGV[7], ARGV[8])
local at = now
if ARGV[6] ~= '' then at = tonumber(ARGV[6]) end
local total, budget, lim = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local v = redis.call('HGET', KEYS[1], ref)
if not v then return '' end
local f = split(v, 6) -- state+success | amount | currency | expiry | day | cell
local state, succ = string.sub(f[1], 1, 1), string.sub(f[1], 2, 2)
local amount, cur, exp, day, cell = tonumber(f[2]), f[3], tonumber(f[4]), f[5], f[6]
local base = offerBase(pfx, oid)
local c = {0, 0, 0, 0, 0, 0, 0}
if reward ~= '' and typ == reward and succ == '0' and cell ~= '' then
  local reset = redis.call('HGET', learnKey(pfx, oid), 'reset')
  if not reset or (ARGV[12] ~= '' and tonumber(ARGV[12]) >= tonumber(reset)) then
    succ = '1'
    redis.call('HINCRBY', learnKey(pfx, oid), cell .. '|s|' .. day, 1)
    c[7] = 1
  end
end
local function free()
  redis.call('DECR', base .. 'granted')
  redis.call('DECRBY', base .. 'spent:' .. cur, amount)
end
-- recount commits a grant whose unit had been released (a late commit,
-- or an order that occurred within a hold released since it lapsed);
-- whether it took the offer over a cap is judged after the sweep below,
-- once the holds that lapsed by now no longer count (judged before, they
-- did, and a commit within the cap was counted over it).
local recounted = false
local function recount(k)
  redis.call('INCR', base .. 'granted')
  redis.call('INCRBY', base .. 'spent:' .. cur, amount)
  redis.call('SADD', base .. 'curs', cur)
  state = 'C'
  c[k] = 1
  recounted = true
end
local function lateCommit() recount(2) end
if state ~= 'G' then
  local m = ref .. '|' .. amount .. '|' .. cur
  if state == 'H' then
    local held = redis.call('ZSCORE', base .. 'held', m)
    local function unhold()
      redis.call('ZREM', base .. 'held', m)
      redis.call('HINCRBY', base .. 'hold', 'n', -1)
      redis.call('HINCRBY', base .. 'hold', 'a:' .. cur, 0 - amount)
    end
    if typ == 'converted' then
      if held and at < exp then
        unhold()
        state = 'C'
        c[1] = 1
      elseif held then
        unhold()
        free()
        c[5] = 1
        lateCommit()
      elseif at < exp then
        recount(1) -- released when it lapsed, but the order occurred while it was held
      else
        lateCommit()
      end
    elseif typ == 'dismissed' then
      if held then
        unhold()
        free()
        if at >= exp then c[5] = 1 else c[4] = 1 end
      end
      state = 'R'
    end
  elseif state == 'R' then
    if typ == 'converted' then lateCommit() end
  elseif state == 'C' then
    if typ == 'cancelled' then
      free()
      state = 'X'
      c[6] = 1
    end
  end
end
local nv = state .. succ .. '|' .. f[2] .. '|' .. cur .. '|' .. f[4] .. '|' .. day .. '|' .. cell
if nv ~= v then redis.call('HSET', KEYS[1], ref, nv) end
local swept = 0
if state ~= 'G' then swept = sweep(base, now, lim) end
if recounted then
  local n = tonumber(redis.call('GET', base .. 'granted') or '0')
  local s = tonumber(redis.call('GET', base .. 'spent:' .. cur) or '0')
  if (total > 0 and n > total) or (budget > 0 and s > budget) then
    redis.call('HINCRBY', base .. 'hold', 'over', 1)
    c[3] = 1
  end
end
return table.concat(c, ',') .. ',' .. swept
`

// resetLearnScript deletes an offer's learning counts and notes when
// (the field "reset", in ms by the server's clock), so that the outcomes
// of decisions made before count no success (outcomeScript). KEYS: the
// offer's learning hash.
const resetLearnScript = `
redis.call('DEL', KEYS[1])
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], 'reset', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
return 1
`

// budgetScript reads one offer's caps after releasing every hold expired
// by now. KEYS: the offer's granted counter. ARGV: prefix, offer, now_ms,
// server, currencies ("": every currency counted). Reply: count, held,
// over-cap commits, swept, then currency, spent, held amount per currency.
const budgetScript = luaLib + `
local pfx, oid = ARGV[1], ARGV[2]
local now = clock(ARGV[3], ARGV[4])
local base = offerBase(pfx, oid)
local swept = sweep(base, now, tonumber(ARGV[6]))
local out = {
  tonumber(redis.call('GET', base .. 'granted') or '0'),
  tonumber(redis.call('HGET', base .. 'hold', 'n') or '0'),
  tonumber(redis.call('HGET', base .. 'hold', 'over') or '0'),
  swept,
}
local curs
if ARGV[5] == '' then
  curs = redis.call('SMEMBERS', base .. 'curs')
  table.sort(curs)
else
  curs = {}
  for c in string.gmatch(ARGV[5], '[^,]+') do curs[#curs + 1] = c end
end
for _, c in ipairs(curs) do
  out[#out + 1] = c
  out[#out + 1] = tonumber(redis.call('GET', base .. 'spent:' .. c) or '0')
  out[#out + 1] = tonumber(redis.call('HGET', base .. 'hold', 'a:' .. c) or '0')
end
return out
`

var (
	scriptWalk            = redis.NewScript(walkScript)
	scriptReleaseWalk     = redis.NewScript(releaseWalkScript)
	scriptCustomer        = redis.NewScript(customerScript)
	scriptReleaseCustomer = redis.NewScript(releaseCustomerScript)
	scriptFleet           = redis.NewScript(fleetScript)
	scriptReleaseFleet    = redis.NewScript(releaseFleetScript)
	scriptClaim           = redis.NewScript(claimScript)
	scriptReleaseClaim    = redis.NewScript(releaseClaimScript)
	scriptStoreAnswer     = redis.NewScript(storeAnswerScript)
	scriptOutcome         = redis.NewScript(outcomeScript)
	scriptBudget          = redis.NewScript(budgetScript)
	scriptResetLearn      = redis.NewScript(resetLearnScript)
)
