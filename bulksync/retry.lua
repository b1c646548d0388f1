-- bulksync.retry: what an attempt came to, whether another may help, how
-- long to wait, and the one driver that runs attempts, for a single call
-- and for many at once.
--
-- Every attempt of a request sends the identical body and the same
-- Idempotency-Key: a full-replacement PUT is idempotent.

local core = require "bulksync.core"
local E = require "bulksync.errors"

local type, tostring, tonumber, error = type, tostring, tonumber, error
local floor, min = math.floor, math.min
local byte = string.byte

local R = {}

-- 409 is left out on purpose: with an Idempotency-Key it means the first
-- request is still in flight, and otherwise a real conflict.
local RETRY_STATUS = { [408] = true, [429] = true, [500] = true, [502] = true, [503] = true, [504] = true }

-- curl codes worth another attempt: the connection failed or broke, not a
-- refusal on principle (TLS verification, bad URL, size limit, a response
-- that breaks HTTP).
local RETRY_CURL = {
  [5] = true, [6] = true, [7] = true, [16] = true, [18] = true, [28] = true,
  [52] = true, [55] = true, [56] = true,
}

-- What other transports say went wrong (bulksync.ngx sets `cause`).
local RETRY_CAUSE = { timeout = true, network = true }

-- Whether a failed exchange is worth another attempt. A custom transport
-- may say so itself with `retryable = false`.
local function transport_retryable(terr)
  if terr.curl_code then return RETRY_CURL[terr.curl_code] or false end
  if terr.cause then return RETRY_CAUSE[terr.cause] or false end
  return terr.retryable ~= false
end

------------------------------------------------------------------------
-- The wait
------------------------------------------------------------------------

--[[ The backoff jitter's own generator. math.random starts from the same
seed in every process on Lua 5.1 to 5.3 and LuaJIT, so a fleet of scripts
would retry in lockstep; and reseeding it would disturb the caller's own
sequence. A Park-Miller generator (exact in doubles on every Lua), seeded
at its first use from /dev/urandom, so processes forked after loading the
module still differ. ]]
local jitter_state

local function jitter_seed()
  local f = io.open("/dev/urandom", "rb")
  local bytes = f and f:read(4)
  if f then f:close() end
  local seed = 0
  if bytes and #bytes == 4 then
    for i = 1, 4 do seed = seed * 256 + byte(bytes, i) end
  else
    -- No /dev/urandom: the time, the CPU clock and where this table lives.
    seed = os.time() + floor(os.clock() * 1e6) + (tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0)
  end
  return seed % 2147483646 + 1   -- 1 .. 2^31 - 2
end

local function jitter()
  jitter_state = (jitter_state or jitter_seed()) * 16807 % 2147483647
  return (jitter_state - 1) / 2147483646
end

--- How long to wait before attempt n+1: what the server asked for
-- (Retry-After in seconds or as an HTTP date in any of RFC 9110's three
-- forms, read by libcurl; else X-RateLimit-Reset), else exponential backoff
-- with jitter; never more than max_retry_wait.
function R.wait(policy, attempt, headers, now)
  local wait
  if headers then
    local ra = headers["retry-after"]
    if ra then
      wait = tonumber(ra)
      if not wait then
        local at = core.getdate(ra)
        if at then wait = at - (now or os.time()) end
      end
    end
    if not wait and headers["x-ratelimit-reset"] then
      local reset = tonumber(headers["x-ratelimit-reset"])
      if reset then
        -- Large values are an epoch time, small ones a number of seconds.
        wait = reset > 1e9 and reset - (now or os.time()) or reset
      end
    end
  end
  if wait then
    if wait < 0 then wait = 0 end
  else
    local exp = policy.retry_base * 2 ^ (attempt - 1)
    wait = min(exp, policy.retry_cap) * (0.5 + jitter() * 0.5)
  end
  return min(wait, policy.max_retry_wait)
end

------------------------------------------------------------------------
-- One attempt
------------------------------------------------------------------------

-- What is wrong with a response a custom transport returned, if anything:
-- its contract is { status = integer, headers = table?, body = string? }.
local function broken_response(resp)
  if type(resp) ~= "table" then return "a " .. type(resp) .. " instead of a response table" end
  local status = resp.status
  if type(status) ~= "number" or status ~= floor(status) or status < 100 or status > 599 then
    return "a status that is not an integer from 100 to 599 (got " .. type(status) .. ")"
  end
  if resp.headers ~= nil and type(resp.headers) ~= "table" then
    return "headers that are not a table (got " .. type(resp.headers) .. ")"
  end
  if resp.body ~= nil and type(resp.body) ~= "string" then
    return "a body that is not a string (got " .. type(resp.body) .. ")"
  end
end

-- What one attempt came to: nil for a 2xx response, else its typed error,
-- with err.retryable saying whether another attempt may help.
local function outcome(req, attempt, resp, terr, secrets)
  local err
  local broken = resp ~= nil and broken_response(resp)
  if broken then
    err = E.new("TransportError", { message = "the transport returned " .. broken, retryable = false })
  elseif resp then
    local status = resp.status
    if status >= 200 and status < 300 then return nil end
    err = E.http(status, resp.headers, resp.body or "", secrets)
    err.retryable = RETRY_STATUS[status] or false
  else
    terr = type(terr) == "table" and terr or { kind = "TransportError", message = tostring(terr) }
    err = E.new(terr.kind == "TimeoutError" and "TimeoutError" or "TransportError", {
      message = E.redact(tostring(terr.message or "transport failed"), secrets), curl_code = terr.curl_code,
      retryable = transport_retryable(terr),
    })
  end
  err.attempts = attempt
  err.method, err.url = req.method, req.url
  return err
end

------------------------------------------------------------------------
-- The driver
------------------------------------------------------------------------

-- The decision after an attempt: its error (nil for a 2xx), and when
-- another attempt should follow, the wait before it.
local function settle(ctx, req, attempt, max, resp, terr)
  local err = outcome(req, attempt, resp, terr, ctx.secrets)
  if err and err.retryable and attempt < max then
    return err, R.wait(ctx.policy, attempt, resp and resp.headers)
  end
  return err
end

--- One request under the retry policy (ctx = { transport, policy,
-- secrets }): the response and the number of attempts it took, or the last
-- attempt's typed error raised. Makes no table of its own: this is every
-- single call's path.
function R.request(ctx, req, max)
  local transport = ctx.transport
  for attempt = 1, max do
    local resp, terr = transport.request(req)
    local err, wait = settle(ctx, req, attempt, max, resp, terr)
    if not err then return resp, attempt end
    if not wait then error(err, 0) end
    transport.sleep(wait)
  end
end

-- Runs the jobs' requests, at most `concurrency` in flight, calling
-- on_done(i, response | nil, err) as each ends: transport.request_many
-- (libcurl's multi handle, or OpenResty light threads) when the transport
-- has it, else one after another.
local function exchange(transport, jobs, concurrency, on_done)
  local n = #jobs
  if transport.request_many and n > 1 then
    local reqs = {}
    for i = 1, n do reqs[i] = jobs[i].req end
    return transport.request_many(reqs, concurrency, on_done)
  end
  for i = 1, n do on_done(i, transport.request(jobs[i].req)) end
end

--[[ R.run(ctx, jobs, concurrency, done): many requests, each job
{ req, max = attempts allowed }, under the same decision as R.request, in
rounds: every job runs once; those whose error is retryable and that have
attempts left run again in the next round, after one sleep of the longest
wait any of them needs. done(job, response | nil, attempts, err) is called
once per job, as it ends for good. ]]
function R.run(ctx, jobs, concurrency, done)
  local pending, again, longest
  local function on_done(i, resp, terr)
    local job = pending[i]
    job.attempt = (job.attempt or 0) + 1
    local err, wait = settle(ctx, job.req, job.attempt, job.max, resp, terr)
    if wait then
      again[#again + 1] = job
      if wait > longest then longest = wait end
      return
    end
    return done(job, not err and resp or nil, job.attempt, err)
  end
  pending = jobs
  while #pending > 0 do
    again, longest = {}, 0
    exchange(ctx.transport, pending, concurrency, on_done)
    pending = again
    if #pending > 0 then ctx.transport.sleep(longest) end
  end
end

R.transport_retryable = transport_retryable
return R
