package redisstore

import (
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/nhs-genomics/results-gateway/gateway"
)

// The Lua scripts. Each state change is one script, so it is atomic and a
// delivery is leased to one worker at a time across every gateway process.
// ARGV[1] is always the key tag "{prefix}"; scripts derive keys from it as
// keys.go lists. Delivery hash fields: json (immutable description), state,
// updated, next, lease_until, lease, last_error, receiver_ref, reason, payload.

// activityTTL is gateway.ActivityRetention, for scripts that count.
var activityTTL = "local ACTIVITY_TTL_MS = " + strconv.FormatInt(gateway.ActivityRetention.Milliseconds(), 10) + "\n"

// common defines helpers shared by the delivery scripts.
var common = activityTTL + `
local tag = ARGV[1]
local function k(...) return tag .. ":" .. table.concat({...}, ":") end
local queued = {pending = true, retrying = true, ["in-flight"] = true}
local function setstate(did, dest, old, new, now)
  if not queued[new] then
    redis.call("ZREM", k("waiting", dest), did)
  elseif not (old and queued[old]) then
    redis.call("ZADD", k("waiting", dest), now, did)
  end
  if old and old ~= "" then
    redis.call("ZREM", k("state", old), did)
    redis.call("ZREM", k("dstate", dest, old), did)
    redis.call("HINCRBY", k("counts"), dest .. "|" .. old, -1)
  end
  redis.call("ZADD", k("state", new), now, did)
  redis.call("ZADD", k("dstate", dest, new), now, did)
  redis.call("HINCRBY", k("counts"), dest .. "|" .. new, 1)
  redis.call("HSET", k("d", did), "state", new, "updated", now)
end
-- count adds one to an hourly activity counter (see keys.go: act).
local function count(at, counter)
  local h = k("act", at - at % 3600000)
  redis.call("HINCRBY", h, counter, 1)
  redis.call("PEXPIRE", h, ACTIVITY_TTL_MS)
end
local function clear_inflight(dest, report, version)
  local ok = k("order", dest, report)
  if tonumber(redis.call("HGET", ok, "inflight") or "0") == version then
    redis.call("HSET", ok, "inflight", 0)
  end
end
-- enqueue creates delivery did once: json description, payload, created and due ms.
local function enqueue(id, version, did, dest, json, payload, created, due)
  if redis.call("EXISTS", k("d", did)) == 1 then return end
  redis.call("HSET", k("d", did), "json", json, "payload", payload, "next", due, "lease", "", "lease_until", 0)
  setstate(did, dest, nil, "pending", tonumber(created))
  redis.call("ZADD", k("due", dest), tonumber(due), did)
  redis.call("SADD", k("byreport", id), did)
  local ok = k("order", dest, id)
  if tonumber(redis.call("HGET", ok, "max") or "0") < version then redis.call("HSET", ok, "max", version) end
  -- Earlier versions waiting for dest (pending or retrying) are superseded
  -- now, not when their next attempt falls due; one in flight finishes. A
  -- dead letter there too: it may not be replayed once a newer version
  -- exists, and would hold the dead-letter alert open for good.
  if version <= 1 then return end
  for _, old in ipairs(redis.call("SMEMBERS", k("byreport", id))) do
    local f = redis.call("HMGET", k("d", old), "json", "state")
    if f[1] and (f[2] == "pending" or f[2] == "retrying" or f[2] == "dead") then
      local o = cjson.decode(f[1])
      -- A dead withdrawal stays: the destination still holds another
      -- patient's result, which the newer version does not take off.
      if o["destination"] == dest and o["version"] < version and not (f[2] == "dead" and o["withdrawal"] == true) then
        redis.call("ZREM", k("due", dest), old)
        redis.call("HSET", k("d", old), "reason", "version " .. version .. " of the report replaces it", "lease", "")
        setstate(old, dest, f[2], "superseded", tonumber(created))
      end
    end
  end
end
`

// saveReport: ARGV = tag, id, version, lab, digest, meta, report, bundle,
// the PDF (or "" when it comes as an upload), received ms, n, then n groups
// of (delivery id, destination, json, payload, created ms, due ms), then
// the trusts that may read it (the ordering trust and copy-to recipients,
// space-separated), the patient index token (an HMAC of the NHS number),
// m, and m resource refs ("Type/id") for the indexes, then "1" if the
// version is held (no destination for its ordering trust, whatever its
// copies) or "0", then the write's audit entry JSON (or ""), then the
// upload token under which the same MULTI has just SET the PDF (or "": the
// PDF is the argument and goes into the version's hash, where releases
// before PDF keys read it), then the message log's entry for the message
// that brought the version: its id (or "" for none), meta JSON, packed raw
// content, received ms and arrival counter, written as RecordMessage
// writes one. Returns {"created"} or {"duplicate"}, or an
// error reply "CONFLICT <reason>" (or "NOUPLOAD" if the upload is not
// there, before anything is written). An upload is renamed to the
// version's PDF key on "created" and deleted otherwise: that way the PDF
// never passes through Lua, which copies every argument in and out.
var saveReport = redis.NewScript(common + `
local id, version, lab, digest = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local n = tonumber(ARGV[11])
local x = 12 + n * 6
local m = tonumber(ARGV[x + 2])
local token = ARGV[x + 5 + m]
local up = nil
if token ~= "" then
  up = k("up", token)
  if redis.call("EXISTS", up) == 0 then return redis.error_reply("NOUPLOAD") end
end
local function refuse(reply)
  if up then redis.call("DEL", up) end
  return reply
end
local vkey = k("rv", id, version)
if redis.call("EXISTS", vkey) == 1 then
  local meta = cjson.decode(redis.call("HGET", vkey, "meta"))
  if meta["labOds"] ~= lab then return refuse(redis.error_reply("CONFLICT lab")) end
  if meta["digest"] ~= digest then return refuse(redis.error_reply("CONFLICT content")) end
  return refuse({"duplicate"})
end
local rkey = k("report", id)
local cur = redis.call("HMGET", rkey, "latest", "lab")
if cur[1] then
  if cur[2] ~= lab then return refuse(redis.error_reply("CONFLICT lab")) end
  if tonumber(cur[1]) > version then return refuse(redis.error_reply("CONFLICT older " .. cur[1])) end
  -- the version is not stored but the id's latest is this one: a tombstone left by the pruner
  if tonumber(cur[1]) == version then return refuse(redis.error_reply("CONFLICT pruned")) end
end
redis.call("HSET", rkey, "latest", version, "lab", lab)
redis.call("ZADD", k("versions", id), version, version)
local trusts = ARGV[x]
if cur[1] then
  -- A recipient the new version drops (a copy-to taken off) leaves the
  -- updated index, which lists who may read each report's latest version.
  local prev = redis.call("HGET", k("rv", id, cur[1]), "meta")
  if prev then
    local keep = {}
    for trust in string.gmatch(trusts, "%S+") do keep[trust] = true end
    local was = cjson.decode(prev)
    local old = {was["trustOds"]}
    if type(was["copyTo"]) == "table" then for _, t in ipairs(was["copyTo"]) do old[#old + 1] = t end end
    for _, t in ipairs(old) do
      if type(t) == "string" and not keep[t] then redis.call("ZREM", k("idx", "upd", t), id) end
    end
  end
end
if up then
  redis.call("HSET", vkey, "meta", ARGV[6], "report", ARGV[7], "bundle", ARGV[8])
  redis.call("RENAME", up, k("pdf", id, version))
  redis.call("PERSIST", k("pdf", id, version))
else
  redis.call("HSET", vkey, "meta", ARGV[6], "report", ARGV[7], "bundle", ARGV[8], "pdf", ARGV[9])
end
for i = 0, n - 1 do
  local b = 12 + i * 6
  enqueue(id, version, ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5])
end
local nhs = ARGV[x + 1]
for trust in string.gmatch(trusts, "%S+") do redis.call("ZADD", k("idx", "upd", trust), ARGV[10], id) end
redis.call("ZADD", k("idx", "upd", "*"), ARGV[10], id)
if nhs ~= "" then redis.call("SADD", k("idx", "pat", nhs), id) end
for i = 1, m do redis.call("SADD", k("idx", "res", ARGV[x + 2 + i]), id) end
if ARGV[x + 3 + m] == "1" then
  redis.call("ZADD", k("held"), ARGV[10], id)
else
  redis.call("ZREM", k("held"), id)
end
if ARGV[x + 4 + m] ~= "" then redis.call("RPUSH", k("audit", id), ARGV[x + 4 + m]) end
local mid = ARGV[x + 6 + m]
if mid ~= "" then -- the message log never misses a stored report
  local at = tonumber(ARGV[x + 9 + m])
  redis.call("HSET", k("msg", mid), "meta", ARGV[x + 7 + m], "raw", ARGV[x + 8 + m])
  redis.call("ZADD", k("msgs"), at, mid)
  count(at, ARGV[x + 10 + m])
end
return {"created"}
`)

// releaseHeld: ARGV = tag, id, version, n, then n groups of (delivery id,
// destination, json, payload, created ms, due ms). Queues the deliveries
// and ends the hold if id is held at that version. Returns 1 or 0.
var releaseHeld = redis.NewScript(common + `
local id, version = ARGV[2], tonumber(ARGV[3])
if not redis.call("ZSCORE", k("held"), id) then return 0 end
if tonumber(redis.call("HGET", k("report", id), "latest") or "0") ~= version then return 0 end
local n = tonumber(ARGV[4])
for i = 0, n - 1 do
  local b = 5 + i * 6
  enqueue(id, version, ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4], ARGV[b + 5])
end
redis.call("ZREM", k("held"), id)
return 1
`)

// leasing defines lease_next, which leases dest's first due delivery that
// may go now, and leased, the reply that carries it: its id, its hash's
// fields but the payload (deliveryFieldsLua) and its attempts, so the
// worker needs no second round trip to learn what it leased, only one for
// what it sends.
var leasing = `
local function lease_next(dest, now, ttl, token, limit)
  local due = k("due", dest)
  local ids = redis.call("ZRANGEBYSCORE", due, "-inf", now, "LIMIT", 0, limit)
  for _, did in ipairs(ids) do
    local d = cjson.decode(redis.call("HGET", k("d", did), "json"))
    local state = redis.call("HGET", k("d", did), "state")
    local ok = k("order", dest, d["reportId"])
    local o = redis.call("HMGET", ok, "max", "inflight")
    local maxv, inflight = tonumber(o[1] or "0"), tonumber(o[2] or "0")
    if not d["withdrawal"] then
      -- a newer version not queued here is no longer this receiver's to have
      maxv = math.max(maxv, tonumber(redis.call("HGET", k("report", d["reportId"]), "latest") or "0"))
    end
    if maxv > d["version"] then
      redis.call("ZREM", due, did)
      if inflight == d["version"] then redis.call("HSET", ok, "inflight", 0) end
      redis.call("HSET", k("d", did), "reason", "version " .. maxv .. " of the report replaces it", "lease", "")
      setstate(did, dest, state, "superseded", now)
    elseif inflight == 0 or inflight == d["version"] then
      redis.call("HSET", ok, "inflight", d["version"])
      redis.call("HSET", k("d", did), "lease", token, "lease_until", now + ttl)
      redis.call("ZADD", due, now + ttl, did)
      setstate(did, dest, state, "in-flight", now)
      return did
    end
  end
  return false
end
local function leased(did)
  if not did then return false end
  return {did, redis.call("HMGET", k("d", did), ` + deliveryFieldsLua + `), redis.call("LRANGE", k("att", did), 0, -1)}
end
`

// lease: ARGV = tag, destination, now ms, ttl ms, token, scan limit.
// Returns what leased returns: the delivery, or false.
var lease = redis.NewScript(common + leasing + `
return leased(lease_next(ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])))
`)

// completing defines complete_one, which records the outcome of a leased
// attempt: ARGV[2..10] = delivery id, lease token, new state (delivered,
// retrying, dead), attempt JSON, now ms, next ms, reason, receiver ref,
// last error. It returns "ok" or "lost".
var completing = `
local function complete_one()
  local did, token, new, now = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[6])
  local h = redis.call("HMGET", k("d", did), "state", "lease", "json")
  if h[1] ~= "in-flight" or h[2] ~= token then return "lost" end
  if new ~= "delivered" and new ~= "retrying" and new ~= "dead" then
    return redis.error_reply("bad outcome state " .. new)
  end
  local d = cjson.decode(h[3])
  local dest = d["destination"]
  clear_inflight(dest, d["reportId"], d["version"])
  redis.call("RPUSH", k("att", did), ARGV[5])
  redis.call("HSET", k("d", did), "lease", "", "lease_until", 0, "last_error", ARGV[10])
  redis.call("ZREM", k("due", dest), did)
  if new == "delivered" then
    redis.call("HSET", k("d", did), "receiver_ref", ARGV[9])
    local ok = k("order", dest, d["reportId"])
    if tonumber(redis.call("HGET", ok, "delivered") or "0") < d["version"] then redis.call("HSET", ok, "delivered", d["version"]) end
  elseif new == "retrying" then
    redis.call("HSET", k("d", did), "next", ARGV[7])
    redis.call("ZADD", k("due", dest), tonumber(ARGV[7]), did)
  else
    redis.call("HSET", k("d", did), "reason", ARGV[8])
  end
  setstate(did, dest, "in-flight", new, now)
  if new ~= "retrying" then count(now, "finished|" .. dest .. "|" .. new) end
  return "ok"
end
`

// complete: ARGV = tag, then complete_one's. Returns "ok" or "lost".
var complete = redis.NewScript(common + completing + `
return complete_one()
`)

// completeAndLease: ARGV = tag, complete_one's nine, then destination,
// now ms, ttl ms, token and scan limit for the lease. Returns "lost", or
// {"ok"} and what leased returns: the worker's step between attempts in
// one round trip, leasing nothing unless the outcome was recorded.
var completeAndLease = redis.NewScript(common + completing + leasing + `
local done = complete_one()
if done ~= "ok" then return done end
-- The outcome is written: an error from here on must not hide that (Redis
-- keeps a script's writes up to an error), so it leases nothing instead.
local ok, got = pcall(function()
  return leased(lease_next(ARGV[11], tonumber(ARGV[12]), tonumber(ARGV[13]), ARGV[14], tonumber(ARGV[15])))
end)
if not ok then got = false end
return {"ok", got}
`)

// release: ARGV = tag, delivery id, lease token, now ms. Returns "ok" or "lost".
var release = redis.NewScript(common + `
local did, token, now = ARGV[2], ARGV[3], tonumber(ARGV[4])
local h = redis.call("HMGET", k("d", did), "state", "lease", "json")
if h[1] ~= "in-flight" or h[2] ~= token then return "lost" end
local d = cjson.decode(h[3])
clear_inflight(d["destination"], d["reportId"], d["version"])
redis.call("HSET", k("d", did), "lease", "", "lease_until", 0, "next", now)
redis.call("ZADD", k("due", d["destination"]), now, did)
local new = "pending"
if redis.call("LLEN", k("att", did)) > 0 then new = "retrying" end
setstate(did, d["destination"], "in-flight", new, now)
return "ok"
`)

// replay: ARGV = tag, delivery id, now ms, the "replayed" marker attempt
// JSON (attempts and age count again from it). A dead, cancelled or
// retrying delivery is due now, unless the report has moved on to a newer
// version and it is not a withdrawal. Returns "ok", "missing", "replaced
// <latest>" or the current state.
var replay = redis.NewScript(common + `
local did, now = ARGV[2], tonumber(ARGV[3])
local h = redis.call("HMGET", k("d", did), "state", "json")
if not h[1] then return "missing" end
if h[1] ~= "dead" and h[1] ~= "cancelled" and h[1] ~= "retrying" then return h[1] end
local d = cjson.decode(h[2])
local latest = tonumber(redis.call("HGET", k("report", d["reportId"]), "latest") or "0")
if not d["withdrawal"] and latest > d["version"] then return "replaced " .. latest end
redis.call("RPUSH", k("att", did), ARGV[4])
redis.call("HSET", k("d", did), "next", now, "reason", "")
redis.call("ZADD", k("due", d["destination"]), now, did)
setstate(did, d["destination"], h[1], "retrying", now)
-- it waits from the replay (Delivery.WaitingSince), as the embedded store keeps it
redis.call("ZADD", k("waiting", d["destination"]), now, did)
return "ok"
`)

// cancel: ARGV = tag, delivery id, now ms, reason, the "cancelled" marker
// attempt. Returns "ok", "missing" or the current state.
var cancel = redis.NewScript(common + `
local did, now = ARGV[2], tonumber(ARGV[3])
local h = redis.call("HMGET", k("d", did), "state", "json")
if not h[1] then return "missing" end
if h[1] ~= "pending" and h[1] ~= "retrying" and h[1] ~= "dead" then return h[1] end
local d = cjson.decode(h[2])
redis.call("ZREM", k("due", d["destination"]), did)
redis.call("HSET", k("d", did), "reason", ARGV[4])
redis.call("RPUSH", k("att", did), ARGV[5])
setstate(did, d["destination"], h[1], "cancelled", now)
return "ok"
`)

// pruneReport: ARGV = tag, id, the latest version read, n, n delivery ids,
// then three lists each as a count and full key names: keys to delete,
// zsets and sets to remove id from. Removes the report's versions,
// deliveries and index entries if it is still as read: not held, the same
// latest version, the same deliveries, all over. The report's own hash
// (latest version, lab) stays as a tombstone so a resend is refused, not
// delivered twice. Returns 1 if pruned, 0 if not.
var pruneReport = redis.NewScript(common + `
local id, latest, nd = ARGV[2], ARGV[3], tonumber(ARGV[4])
if redis.call("ZSCORE", k("held"), id) then return 0 end
if redis.call("HGET", k("report", id), "latest") ~= latest then return 0 end
if redis.call("SCARD", k("byreport", id)) ~= nd then return 0 end
local over = {delivered = true, superseded = true, cancelled = true}
for i = 1, nd do
  if not over[redis.call("HGET", k("d", ARGV[4 + i]), "state")] then return 0 end
end
for i = 1, nd do
  local did = ARGV[4 + i]
  local h = redis.call("HMGET", k("d", did), "state", "json")
  local dest = cjson.decode(h[2])["destination"]
  redis.call("ZREM", k("state", h[1]), did)
  redis.call("ZREM", k("dstate", dest, h[1]), did)
  redis.call("ZREM", k("due", dest), did)
  redis.call("ZREM", k("waiting", dest), did)
  redis.call("HINCRBY", k("counts"), dest .. "|" .. h[1], -1)
  redis.call("DEL", k("d", did), k("att", did), k("order", dest, id))
end
local x = 5 + nd
for i = 1, tonumber(ARGV[x]) do redis.call("DEL", ARGV[x + i]) end
x = x + tonumber(ARGV[x]) + 1
for i = 1, tonumber(ARGV[x]) do redis.call("ZREM", ARGV[x + i], id) end
x = x + tonumber(ARGV[x]) + 1
for i = 1, tonumber(ARGV[x]) do redis.call("SREM", ARGV[x + i], id) end
return 1
`)

// indexIfState: ARGV = the delivery's hash key, an index zset, score,
// delivery id, then the states in which it belongs in the index. Adds it
// (if absent) only while the delivery is in one of them, so an index built
// for an older store while replicas run stays true. Returns 1 or 0.
var indexIfState = redis.NewScript(`
local st = redis.call("HGET", ARGV[1], "state")
for i = 5, #ARGV do
  if st == ARGV[i] then return redis.call("ZADD", ARGV[2], "NX", ARGV[3], ARGV[4]) end
end
return 0
`)
