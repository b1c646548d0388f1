-- The client's behaviour with a recording transport: options, headers,
-- typed errors, retries. No network: the transport is a Lua function.
local bulksync = require "bulksync"
local cjson = require "cjson"

local KEY = "sk_live_SECRET-4242-do-not-print"
local SYNC_ID = "0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a51"
local SRC = "6b1f7a3e-1111-4c2d-8e9f-0a1b2c3d4e5f"
local DST = "9c2e8b4f-2222-4d3e-9f0a-1b2c3d4e5f60"

local function body25()
  return {
    name = "orders to warehouse",
    mode = "replicate",
    source_connection_id = SRC,
    destination_connection_id = DST,
    destination_configuration = { schema = "analytics" },
    default_schedule = { frequency = "daily", hour = "05", minute = "00" },
  }
end

-- A transport that answers from a list and records every request.
local function recorder(responses)
  local rec = { requests = {}, sleeps = {} }
  rec.transport = {
    request = function(req)
      local copy = {}
      for k, v in pairs(req) do copy[k] = v end
      copy.headers = {}
      for k, v in pairs(req.headers) do copy.headers[k] = v end
      rec.requests[#rec.requests + 1] = copy
      local r = responses[#rec.requests] or responses[#responses]
      if r.fail then return nil, r.fail end
      return { status = r.status or 200, headers = r.headers or {}, body = r.body or "" }
    end,
    sleep = function(s) rec.sleeps[#rec.sleeps + 1] = s end,
  }
  return rec
end

local OK = { status = 200, body = '{"data":{"id":"' .. SYNC_ID .. '","name":"x","concurrency_limit":4,"policies":[]}}' }

local function client_with(responses, opts)
  local rec = recorder(responses)
  opts = opts or {}
  opts.api_key = opts.api_key or KEY
  opts.transport = rec.transport
  return bulksync.new(opts), rec
end

local function catch(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return err
end

-- Every error the spec produces goes here; the last test checks none of
-- them mentions the key.
local seen_errors = {}
local function caught(f, ...)
  local err = catch(f, ...)
  seen_errors[#seen_errors + 1] = err
  return err
end

describe("bulksync.new", function()
  it("refuses bad options with one ValidationError naming each", function()
    local err = caught(bulksync.new, { api_key = "", version = "2023-01-01", base_url = "ftp://x",
      timeout = -1, retries = 1.5, colour = "red" })
    assert.is_true(bulksync.is_error(err))
    assert.equal("ValidationError", err.kind)
    local paths = {}
    for _, p in ipairs(err.errors) do paths[p.path] = p.problem end
    assert.truthy(paths.api_key)
    assert.truthy(paths.version:find("2025-09-18, 2024-02-08", 1, true))
    assert.truthy(paths.base_url)
    assert.truthy(paths.timeout)
    assert.truthy(paths.retries)
    assert.matches("^unknown option", paths.colour)
  end)

  it("refuses credentials, queries and hosts missing from base_url", function()
    for _, url in ipairs { "https://user:pw@example.com", "https://", "http://h/x?y=1", "//h", "h" } do
      local err = caught(bulksync.new, { api_key = KEY, base_url = url })
      assert.equal("base_url", err.errors[1].path, url)
    end
  end)

  it("refuses header values with CR or LF, and an Authorization override", function()
    local err = caught(bulksync.new, { api_key = KEY, headers = { ["X-Trace"] = "a\r\nX-Evil: 1" } })
    assert.equal("headers.X-Trace", err.errors[1].path)
    err = caught(bulksync.new, { api_key = KEY, headers = { Authorization = "Bearer other" } })
    assert.equal("headers.Authorization", err.errors[1].path)
    err = caught(bulksync.new, { api_key = "abc\ndef" })
    assert.equal("api_key", err.errors[1].path)
  end)

  it("does not show the key in tostring", function()
    local c = client_with({ OK })
    assert.falsy(tostring(c):find(KEY, 1, true))
  end)
end)

describe("headers", function()
  it("sends Bearer auth, the version, JSON content types and a user agent", function()
    local c, rec = client_with({ OK })
    c:update(SYNC_ID, body25())
    local h = rec.requests[1].headers
    assert.equal("Bearer " .. KEY, h.Authorization)
    assert.equal("2025-09-18", h["X-Polytomic-Version"])
    assert.equal("application/json", h["Content-Type"])
    assert.equal("application/json", h.Accept)
    assert.equal("lua-bulksync/" .. bulksync._VERSION, h["User-Agent"])
    assert.equal("PUT", rec.requests[1].method)
    assert.equal("https://app.polytomic.com/api/bulk/syncs/" .. SYNC_ID, rec.requests[1].url)
  end)

  it("uses Basic base64(org_id:key) for organization-scoped keys", function()
    local c, rec = client_with({ OK }, { org_id = "org-1", api_key = "k3y" })
    c:get(SYNC_ID)
    -- base64("org-1:k3y")
    assert.equal("Basic b3JnLTE6azN5", rec.requests[1].headers.Authorization)
  end)

  it("adds extra headers, the chosen version and an Idempotency-Key", function()
    local c, rec = client_with({ OK }, { version = "2024-02-08", headers = { ["X-Trace"] = "t1" },
      user_agent = "my-tool/2" })
    local body = body25()
    body.default_schedule = nil
    body.schedule = { frequency = "manual" }
    c:update(SYNC_ID, body, { idempotency_key = "change-0001" })
    local h = rec.requests[1].headers
    assert.equal("2024-02-08", h["X-Polytomic-Version"])
    assert.equal("t1", h["X-Trace"])
    assert.equal("my-tool/2", h["User-Agent"])
    assert.equal("change-0001", h["Idempotency-Key"])
  end)

  it("refuses malformed idempotency keys before sending", function()
    local c, rec = client_with({ OK })
    for _, key in ipairs { "short", string.rep("a", 256), "has space!", 12345678 } do
      local err = caught(c.update, c, SYNC_ID, body25(), { idempotency_key = key })
      assert.equal("idempotency_key", err.errors[1].path)
    end
    assert.equal(0, #rec.requests)
  end)
end)

describe("client:update", function()
  it("returns the response data and meta", function()
    local c = client_with({ { status = 200, headers = { ["x-polytomic-version"] = "2025-09-18" }, body = OK.body } })
    local data, meta = c:update(SYNC_ID, body25())
    assert.equal(SYNC_ID, data.id)
    assert.equal(200, meta.status)
    assert.equal("2025-09-18", meta.version)
    assert.equal(1, meta.attempts)
    if bulksync.HAVE_INTEGER ~= 0 and math.type then
      assert.equal("integer", math.type(data.concurrency_limit))
    end
  end)

  it("sends exactly the encoded body", function()
    local c, rec = client_with({ OK })
    local body = body25()
    c:update(SYNC_ID, body)
    local sent = cjson.decode(rec.requests[1].body)
    assert.same(cjson.decode(bulksync.encode(body)), sent)
    assert.equal("orders to warehouse", sent.name)
    assert.equal("05", sent.default_schedule.hour)
  end)

  it("refuses ids that are not UUIDs, sending nothing", function()
    local c, rec = client_with({ OK })
    for _, id in ipairs { "../../admin", "", SYNC_ID .. "/x", 42, SYNC_ID:sub(2) .. "z" } do
      local err = caught(c.update, c, id, body25())
      assert.equal("ValidationError", err.kind)
      assert.equal("id", err.errors[1].path)
    end
    assert.equal(0, #rec.requests)
  end)

  it("refuses an invalid body naming every problem, sending nothing", function()
    local c, rec = client_with({ OK })
    local err = caught(c.update, c, SYNC_ID, { name = 5, shedule = {} })
    assert.equal("ValidationError", err.kind)
    assert.truthy(#err.errors >= 6)
    local msg = tostring(err)
    assert.truthy(msg:find("^bulksync: ValidationError: "))
    for _, field in ipairs { "default_schedule", "destination_configuration", "destination_connection_id",
      "mode", "source_connection_id" } do
      assert.truthy(msg:find(field, 1, true), field)
    end
    assert.equal(0, #rec.requests)
  end)

  it("with strict = true refuses omitted optional fields", function()
    local c, rec = client_with({ OK })
    local err = caught(c.update, c, SYNC_ID, body25(), { strict = true })
    local paths = {}
    for _, p in ipairs(err.errors) do paths[p.path] = true end
    assert.truthy(paths.automatically_add_new_fields)
    assert.truthy(paths.normalize_names)
    assert.equal(0, #rec.requests)
  end)
end)

describe("typed errors", function()
  local cases = {
    { 400, "BadRequestError" }, { 401, "UnauthorizedError" }, { 403, "ForbiddenError" },
    { 404, "NotFoundError" }, { 409, "ConflictError" }, { 422, "UnprocessableEntityError" },
    { 418, "HTTPError" }, { 501, "ServerError" },
  }
  for _, case in ipairs(cases) do
    it("maps " .. case[1] .. " to " .. case[2], function()
      local c = client_with({ { status = case[1],
        body = '{"key":"k.x","message":"went wrong","metadata":{"field":"mode"},"status":' .. case[1] .. '}' } })
      local err = caught(c.update, c, SYNC_ID, body25())
      assert.equal(case[2], err.kind)
      assert.equal(case[1], err.status)
      assert.equal("went wrong", err.message)
      assert.equal("k.x", err.key)
      assert.equal("mode", err.metadata.field)
      assert.equal(string.format("bulksync: %s (%d): went wrong", case[2], case[1]), tostring(err))
    end)
  end

  it("understands the {code, context, error, status} shape", function()
    local c = client_with({ { status = 401,
      body = '{"code":401,"context":{"hint":"key"},"error":"invalid token","status":"Unauthorized"}' } })
    local err = caught(c.get, c, SYNC_ID)
    assert.equal("UnauthorizedError", err.kind)
    assert.equal("invalid token", err.message)
    assert.equal("key", err.metadata.hint)
    assert.equal(401, err.code)
  end)

  it("keeps an HTML or empty error body as text", function()
    local c = client_with({ { status = 404, body = "<html><title>Not here</title></html>" } })
    local err = caught(c.get, c, SYNC_ID)
    assert.equal("Not here", err.message)
    assert.equal("<html><title>Not here</title></html>", err.body)
    c = client_with({ { status = 403, body = "" } })
    err = caught(c.get, c, SYNC_ID)
    assert.equal("HTTP status 403", err.message)
  end)

  it("raises DecodeError for a 2xx that is not the expected JSON", function()
    for _, body in ipairs { "", "{\"data\":", "[1,2]", '{"other":1}', '{"data":null}', "<html>" } do
      local c = client_with({ { status = 200, body = body } })
      local err = caught(c.update, c, SYNC_ID, body25())
      assert.equal("DecodeError", err.kind, body)
    end
  end)

  it("lists the kinds and recognises its errors", function()
    assert.equal("NotFoundError", bulksync.errors.NotFoundError)
    assert.equal(16, #bulksync.errors)   -- with RequestTimeoutError and WaitTimeoutError
    assert.is_false(bulksync.is_error({ kind = "NotFoundError" }))
    assert.is_false(bulksync.is_error("x"))
  end)
end)

describe("retries", function()
  it("retries 503 then succeeds, resending the same body and key", function()
    local c, rec = client_with({ { status = 503, body = "busy" }, OK })
    local _, meta = c:update(SYNC_ID, body25(), { idempotency_key = "same-key-123" })
    assert.equal(2, meta.attempts)
    assert.equal(2, #rec.requests)
    assert.equal(rec.requests[1].body, rec.requests[2].body)
    assert.truthy(#rec.requests[2].body > 50)
    assert.equal("same-key-123", rec.requests[2].headers["Idempotency-Key"])
    assert.equal(1, #rec.sleeps)
  end)

  it("waits what Retry-After says, in seconds or as an HTTP date", function()
    local c, rec = client_with({ { status = 429, headers = { ["retry-after"] = "1" } }, OK })
    c:update(SYNC_ID, body25())
    assert.equal(1, rec.sleeps[1])
    local now = 1700000000
    local date = "Tue, 14 Nov 2023 22:13:27 GMT"   -- now + 7 s
    assert.equal(now + 7, bulksync._http_date(date))
    local policy = { retry_base = 0.5, retry_cap = 8, max_retry_wait = 60 }
    assert.equal(7, bulksync._retry_wait(policy, 1, { ["retry-after"] = date }, now))
    assert.equal(12, bulksync._retry_wait(policy, 1, { ["x-ratelimit-reset"] = tostring(now + 12) }, now))
    assert.equal(60, bulksync._retry_wait(policy, 1, { ["retry-after"] = "3600" }, now))
  end)

  it("backs off exponentially with jitter, capped", function()
    local policy = { retry_base = 1, retry_cap = 4, max_retry_wait = 60 }
    for _ = 1, 50 do
      local w1 = bulksync._retry_wait(policy, 1, {})
      local w3 = bulksync._retry_wait(policy, 3, {})
      local w9 = bulksync._retry_wait(policy, 9, {})
      assert.truthy(w1 >= 0.5 and w1 <= 1)
      assert.truthy(w3 >= 2 and w3 <= 4)
      assert.truthy(w9 >= 2 and w9 <= 4)
    end
  end)

  it("gives up after retries + 1 attempts with the last error", function()
    local c, rec = client_with({ { status = 500, body = '{"message":"boom","status":500}' } })
    local err = caught(c.update, c, SYNC_ID, body25())
    assert.equal("InternalServerError", err.kind)
    assert.equal(3, err.attempts)
    assert.equal(3, #rec.requests)
    assert.is_true(err.retryable)
  end)

  it("does not retry other 4xx, nor 409", function()
    for _, status in ipairs { 400, 401, 403, 404, 409, 422 } do
      local c, rec = client_with({ { status = status } })
      local err = caught(c.update, c, SYNC_ID, body25())
      assert.equal(1, err.attempts)
      assert.equal(1, #rec.requests)
    end
  end)

  it("retries connection failures but not refusals on principle", function()
    local c, rec = client_with({ { fail = { kind = "TransportError", message = "refused", retryable = true } }, OK })
    c:get(SYNC_ID)
    assert.equal(2, #rec.requests)
    c, rec = client_with({ { fail = { kind = "TransportError", message = "certificate verify failed", retryable = false } } })
    local err = caught(c.get, c, SYNC_ID)
    assert.equal("TransportError", err.kind)
    assert.equal(1, #rec.requests)
    c, rec = client_with({ { fail = { kind = "TimeoutError", message = "timed out", retryable = true } } }, { retries = 1 })
    err = caught(c.get, c, SYNC_ID)
    assert.equal("TimeoutError", err.kind)
    assert.equal(2, err.attempts)
    assert.equal(2, #rec.requests)
  end)

  it("takes a per-call retries override", function()
    local c, rec = client_with({ { status = 503 } }, { retries = 5 })
    caught(c.get, c, SYNC_ID, { retries = 0 })
    assert.equal(1, #rec.requests)
  end)
end)

describe("lifetime", function()
  it("closes once and refuses calls afterwards", function()
    local closes = 0
    local c = bulksync.new { api_key = KEY, transport = { request = function() return { status = 200, body = OK.body } end,
      close = function() closes = closes + 1 end } }
    c:close()
    c:close()
    assert.equal(1, closes)
    local ok, err = pcall(c.get, c, SYNC_ID)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("client is closed", 1, true))
  end)
end)

describe("secrets", function()
  it("cuts the key out of an error page that echoes the request headers", function()
    local c = client_with({ { status = 400, body = "<html><title>Bad</title>Authorization: Bearer " .. KEY .. "</html>" },
      { fail = { kind = "TransportError", message = "proxy said: " .. KEY, retryable = false } } })
    local err = caught(c.get, c, SYNC_ID)
    assert.falsy(err.body:find(KEY, 1, true))
    assert.truthy(err.body:find("[redacted]", 1, true))
    err = caught(c.get, c, SYNC_ID)
    assert.equal("proxy said: [redacted]", err.message)
  end)

  it("cuts an echoed Basic credential too", function()
    local c = client_with({ { status = 400, body = "seen: b3JnLTE6azN5 from you" } }, { org_id = "org-1", api_key = "k3y" })
    local err = caught(c.get, c, SYNC_ID)
    assert.equal("seen: [redacted] from you", err.body)
  end)

  it("cuts the key out of a 2xx body that is not the expected JSON", function()
    local c = client_with({ { status = 200, body = "<p>Authorization: Bearer " .. KEY .. "</p>" },
      { status = 200, body = '{"echo":"Bearer ' .. KEY .. '"}' } })
    local err = caught(c.get, c, SYNC_ID)
    assert.equal("DecodeError", err.kind)
    assert.equal("<p>Authorization: Bearer [redacted]</p>", err.body)
    err = caught(c.get, c, SYNC_ID)
    assert.equal('{"echo":"Bearer [redacted]"}', err.body)
  end)

  it("does not quote a bad id back (it may be the key passed by mistake)", function()
    local c = client_with({ OK })
    local err = caught(c.get, c, KEY)
    assert.equal("id", err.errors[1].path)
  end)

  it("keeps the key out of everything reachable from the client table", function()
    local c = client_with({ OK }, { org_id = "org-1" })
    local seen = {}
    local function walk(v, path)
      if type(v) == "string" then
        assert.falsy(v:find(KEY, 1, true), path)
        assert.falsy(v:find("Basic ", 1, true), path)
      elseif type(v) == "table" and not seen[v] then
        seen[v] = true
        for k, x in pairs(v) do walk(k, path .. ".<key>"); walk(x, path .. "." .. tostring(k)) end
      end
    end
    walk(c, "client")
  end)

  it("never shows the API key in any error raised above", function()
    assert.truthy(#seen_errors > 20)
    for _, err in ipairs(seen_errors) do
      local text = tostring(err)
      if type(err) == "table" then
        for _, p in ipairs(err.errors or {}) do text = text .. p.path .. p.problem end
        text = text .. tostring(err.message) .. tostring(err.url)
      end
      assert.falsy(text:find(KEY, 1, true), text)
      assert.falsy(text:find("Bearer", 1, true), text)
    end
  end)
end)
