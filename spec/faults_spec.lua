-- Network faults end to end: bulksync.new{...} and client:update/get over
-- the libcurl transport, against the raw fault server. Each fault ends in
-- the documented result or typed error, with the attempts counted, every
-- attempt carrying the whole body and the same Idempotency-Key, and the
-- client still usable afterwards. Waits go through a recording `sleep`, so
-- nothing here depends on timings.
local bulksync = require "bulksync"
local raw = require "spec.support.rawserver"
local socket = require "socket"

local KEY = "sk-FAULTS-3b9d2e71-NEVER-SHOW"
local ID = "0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a51"
local IDEM = "faults-idem-0001"
local DATA = '{"data":{"id":"' .. ID .. '","name":"orders","active":true}}'

local function body()
  return {
    name = "orders to warehouse",
    mode = "replicate",
    source_connection_id = "6b1f7a3e-1111-4c2d-8e9f-0a1b2c3d4e5f",
    destination_connection_id = "9c2e8b4f-2222-4d3e-9f0a-1b2c3d4e5f60",
    destination_configuration = { schema = "analytics", note = string.rep("long ", 400) },
    default_schedule = { frequency = "daily", hour = "05", minute = "00" },
  }
end
local JSON = bulksync.encode(body())

local function ok_step()
  return { status = 200, reason = "OK", headers = { "Content-Type: application/json" }, body = DATA }
end

local function status_step(status, reason, text, headers)
  return { status = status, reason = reason, headers = headers, body = text or "" }
end

local function start(steps, opts)
  local srv = raw.start(steps, opts)
  finally(function() srv:stop() end)
  return srv
end

-- A client over curl with small timeouts and a sleep that only records.
local function client(url, opts)
  local sleeps = {}
  local o = { api_key = KEY, base_url = url, transport = "curl", timeout = 2, connect_timeout = 1,
    retry_base = 0.01, retry_cap = 0.05, sleep = function(s) sleeps[#sleeps + 1] = s end }
  for k, v in pairs(opts or {}) do o[k] = v end
  local c = bulksync.new(o)
  finally(function() c:close() end)
  return c, sleeps
end

local free_port = require "spec.support.ports"

local function failure(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  assert.is_true(bulksync.is_error(err), tostring(err))
  assert.is_nil(tostring(err):find(KEY, 1, true))
  return err
end

local function update(c, opts)
  opts = opts or {}
  if opts.idempotency_key == nil then opts.idempotency_key = IDEM end
  return c:update(ID, body(), opts)
end

-- Every request the server saw was the full PUT: same body, same length,
-- same Idempotency-Key.
local function assert_identical_puts(srv, n)
  local reqs = srv:requests()
  assert.equal(n, #reqs)
  for i, r in ipairs(reqs) do
    assert.equal("PUT", r.method, "request " .. i)
    assert.equal("/api/bulk/syncs/" .. ID, r.target)
    assert.equal(tostring(#JSON), r.headers["content-length"], "request " .. i)
    assert.equal(JSON, r.body, "request " .. i)
    assert.equal(IDEM, r.headers["idempotency-key"], "request " .. i)
    assert.equal("Bearer " .. KEY, r.headers.authorization)
  end
end

-- After a fault the same client must work again: one more request, served
-- by the step queued after the fault ones.
local function assert_recovers(c)
  local data, meta = c:get(ID)
  assert.equal(ID, data.id)
  assert.equal(1, meta.attempts)
end

describe("faults through client:update over curl", function()

  describe("connection failures", function()
    it("connection refused: TransportError after every attempt, with the waits in between", function()
      local c, sleeps = client("http://127.0.0.1:" .. free_port())
      local err = failure(update, c)
      assert.equal("TransportError", err.kind)
      assert.equal(3, err.attempts)
      assert.is_true(err.retryable)
      assert.equal(7, err.curl_code)   -- CURLE_COULDNT_CONNECT
      assert.equal(2, #sleeps)
      assert.equal("PUT", err.method)
    end)

    it("a connect that never completes: the connect timeout fires, as a TimeoutError", function()
      -- A listening socket nobody accepts from, its queue filled: the
      -- kernel drops further SYNs, so the client's connect hangs.
      local l = assert(socket.tcp())
      assert(l:bind("127.0.0.1", 0))
      assert(l:listen(0))
      finally(function() l:close() end)
      local _, port = l:getsockname()
      local fillers = {}
      for i = 1, 4 do
        local f = socket.tcp()
        f:settimeout(0.2)
        f:connect("127.0.0.1", port)
        fillers[i] = f
      end
      finally(function() for _, f in ipairs(fillers) do f:close() end end)
      local c = client("http://127.0.0.1:" .. port, { connect_timeout = 0.3, timeout = 30, retries = 1 })
      local err = failure(update, c)
      assert.equal("TimeoutError", err.kind)
      assert.equal(28, err.curl_code)
      assert.truthy(err.message:lower():find("connect"), err.message)
      assert.equal(2, err.attempts)
    end)

    it("reset before the status line: retried, the body resent whole", function()
      local srv = start { { reset = true }, ok_step(), ok_step() }
      local c = client(srv.url)
      local data, meta = update(c)
      assert.equal(ID, data.id)
      assert.equal(2, meta.attempts)
      assert_identical_puts(srv, 2)
      assert_recovers(c)
    end)

    it("closed before the status line every time: TransportError after the retries", function()
      local srv = start({}, { default = { close = true } })
      local c = client(srv.url)
      local err = failure(update, c)
      assert.equal("TransportError", err.kind)
      assert.equal(3, err.attempts)
      assert_identical_puts(srv, 3)
    end)

    it("reset in the middle of the body: retried, the body resent whole", function()
      local srv = start { { send = "HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n{\"data\":{\"id\":", reset = true },
        ok_step(), ok_step() }
      local c = client(srv.url)
      local _, meta = update(c)
      assert.equal(2, meta.attempts)
      assert_identical_puts(srv, 2)
      assert_recovers(c)
    end)

    it("a body cut short by a close, every time: TransportError naming the attempts", function()
      local cut = { send = "HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n{\"data\":", close = true }
      local srv = start({ cut, cut, cut, ok_step() })
      local c = client(srv.url)
      local err = failure(update, c)
      assert.equal("TransportError", err.kind)
      assert.equal(3, err.attempts)
      assert.equal(18, err.curl_code)   -- CURLE_PARTIAL_FILE
      assert_identical_puts(srv, 3)
      assert_recovers(c)
    end)
  end)

  describe("timeouts", function()
    it("headers that never come: the total timeout fires, the retry resends the body", function()
      local srv = start { { hang = true }, ok_step(), ok_step() }
      local c, sleeps = client(srv.url, { timeout = 1 })
      local _, meta = update(c)
      assert.equal(2, meta.attempts)
      assert.equal(1, #sleeps)
      assert_identical_puts(srv, 2)
      assert_recovers(c)
    end)

    it("headers that never come on every attempt: TimeoutError", function()
      local srv = start({}, { default = { hang = true } })
      local c = client(srv.url, { timeout = 0.5, retries = 1 })
      local err = failure(update, c)
      assert.equal("TimeoutError", err.kind)
      assert.equal(28, err.curl_code)
      assert.equal(2, err.attempts)
      assert.is_true(err.retryable)
    end)

    it("a body that drips slower than the total timeout: TimeoutError", function()
      local srv = start { { send = "HTTP/1.1 200 OK\r\nContent-Length: 60\r\n\r\n",
        drip = string.rep(" ", 60), interval = 0.1 }, ok_step() }
      local c = client(srv.url, { timeout = 1 })
      local err = failure(c.get, c, ID, { retries = 0 })
      assert.equal("TimeoutError", err.kind)
      assert.equal(1, err.attempts)
      assert.equal("GET", err.method)
      assert_recovers(c)
    end)
  end)

  describe("responses that are not what was promised", function()
    local function decode_error(step)
      local srv = start { step, ok_step() }
      local c = client(srv.url)
      local err = failure(update, c)
      assert.equal("DecodeError", err.kind)
      -- The PUT reached the server and got a 200: resending would not help.
      assert.equal(1, #srv:requests())
      assert_recovers(c)
      return err
    end

    it("truncated JSON in a complete 200: DecodeError, not retried", function()
      local err = decode_error(status_step(200, "OK", '{"data":{"id":"' .. ID .. '","na'))
      assert.equal(200, err.status)
      assert.truthy(err.message:find("not JSON", 1, true))
    end)

    it("an empty 200: DecodeError", function()
      local err = decode_error(status_step(200, "OK", ""))
      assert.truthy(err.message:find("empty", 1, true))
    end)

    it("a 200 whose JSON is not an object: DecodeError", function()
      decode_error(status_step(200, "OK", "[1,2,3]"))
      decode_error(status_step(200, "OK", '"data"'))
      decode_error(status_step(200, "OK", "42"))
    end)

    it("a 200 without data: DecodeError", function()
      assert.truthy(decode_error(status_step(200, "OK", '{"other":1}')).message:find('"data"', 1, true))
      decode_error(status_step(200, "OK", '{"data":null}'))
    end)

    it("an HTML 200: DecodeError keeping the text", function()
      local err = decode_error(status_step(200, "OK", "<html><body>hello</body></html>",
        { "Content-Type: text/html" }))
      assert.equal("<html><body>hello</body></html>", err.body)
    end)

    it("a garbage status line: TransportError, not retried", function()
      local srv = start { { send = "SPDY/9 what is this\r\n\r\n", close = true }, ok_step() }
      local c = client(srv.url)
      local err = failure(update, c)
      assert.equal("TransportError", err.kind)
      assert.equal(1, err.attempts)
      assert.is_false(err.retryable)
      assert_recovers(c)
    end)

    it("an HTML 502 page: ServerError with the page's title, after the retries", function()
      local page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
      local step = status_step(502, "Bad Gateway", page, { "Content-Type: text/html" })
      local srv = start { step, step, step, ok_step() }
      local c, sleeps = client(srv.url)
      local err = failure(update, c)
      assert.equal("ServerError", err.kind)
      assert.equal(502, err.status)
      assert.equal("502 Bad Gateway", err.message)
      assert.equal(page, err.body)
      assert.equal(3, err.attempts)
      assert.equal(2, #sleeps)
      assert_identical_puts(srv, 3)
      assert_recovers(c)
    end)
  end)

  describe("the response size limit", function()
    it("refuses a body over the default 16 MiB from its Content-Length, not retried", function()
      local srv = start { { status = 200, body_size = 16 * 1024 * 1024 + 1 }, ok_step() }
      local c = client(srv.url)
      local err = failure(update, c)
      assert.equal("TransportError", err.kind)
      assert.equal("response larger than max_response_size (16777216 bytes)", err.message)
      assert.equal(1, err.attempts)
      assert.is_false(err.retryable)
      assert_recovers(c)
    end)

    it("stops reading a chunked body at max_response_size", function()
      local srv = start { { status = 200, body_size = 8 * 1024 * 1024, chunked = true }, ok_step() }
      local c = client(srv.url, { max_response_size = 64 * 1024 })
      local err = failure(c.get, c, ID)
      assert.equal("TransportError", err.kind)
      assert.equal("response larger than max_response_size (65536 bytes)", err.message)
      assert.equal(1, err.attempts)
      assert_recovers(c)
    end)

    it("accepts a body of exactly max_response_size", function()
      local padded = DATA:sub(1, -2) .. string.rep(" ", 1000 - #DATA) .. "}"
      local srv = start { status_step(200, "OK", padded) }
      local c = client(srv.url, { max_response_size = 1000 })
      assert.equal(ID, (c:get(ID)).id)
    end)
  end)

  describe("retry policy on the wire", function()
    it("503 then 200: succeeds on the second attempt with the identical PUT", function()
      local srv = start { status_step(503, "Service Unavailable", "busy"), ok_step(), ok_step() }
      local c, sleeps = client(srv.url)
      local data, meta = update(c)
      assert.equal(ID, data.id)
      assert.equal(2, meta.attempts)
      assert.equal(1, #sleeps)
      assert_identical_puts(srv, 2)
      assert_recovers(c)
    end)

    it("429 with Retry-After: 1 then 200: waits 1 s, succeeds", function()
      local srv = start { status_step(429, "Too Many Requests", '{"message":"slow down"}', { "Retry-After: 1" }),
        ok_step() }
      local c, sleeps = client(srv.url)
      local _, meta = update(c)
      assert.equal(2, meta.attempts)
      assert.same({ 1 }, sleeps)
      assert_identical_puts(srv, 2)
    end)

    it("Retry-After as an HTTP date in the past waits 0; X-RateLimit-Reset is used without it", function()
      local srv = start { status_step(429, "Too Many Requests", "", { "Retry-After: Thu, 01 Jan 2015 00:00:00 GMT" }),
        status_step(503, "Service Unavailable", "", { "X-RateLimit-Reset: 3" }), ok_step() }
      local c, sleeps = client(srv.url)
      local _, meta = update(c)
      assert.equal(3, meta.attempts)
      assert.same({ 0, 3 }, sleeps)
    end)

    it("caps every wait at max_retry_wait", function()
      local srv = start { status_step(503, "Service Unavailable", "", { "Retry-After: 3600" }), ok_step() }
      local c, sleeps = client(srv.url, { max_retry_wait = 2 })
      update(c)
      assert.same({ 2 }, sleeps)
    end)

    it("backs off exponentially, within base and cap, without a server hint", function()
      local srv = start({}, { default = status_step(500, "Internal Server Error", '{"message":"down","status":500}') })
      local c, sleeps = client(srv.url, { retries = 4, retry_base = 0.01, retry_cap = 0.03 })
      failure(update, c)
      assert.equal(4, #sleeps)
      local bounds = { 0.01, 0.02, 0.03, 0.03 }
      for i, s in ipairs(sleeps) do
        assert.truthy(s >= bounds[i] / 2 and s <= bounds[i], "wait " .. i .. " = " .. s)
      end
    end)

    it("permanent 500: InternalServerError after retries + 1 identical attempts", function()
      local srv = start({}, { default = status_step(500, "Internal Server Error", '{"message":"down","status":500}') })
      local c = client(srv.url)
      local err = failure(update, c)
      assert.equal("InternalServerError", err.kind)
      assert.equal(500, err.status)
      assert.equal("down", err.message)
      assert.equal(3, err.attempts)
      assert_identical_puts(srv, 3)
    end)

    it("retries 408, 502 and 504 too", function()
      for _, s in ipairs { { 408, "Request Timeout" }, { 502, "Bad Gateway" }, { 504, "Gateway Timeout" } } do
        local srv = start { status_step(s[1], s[2], ""), ok_step() }
        local c = client(srv.url)
        local _, meta = update(c)
        assert.equal(2, meta.attempts, s[1])
        assert_identical_puts(srv, 2)
      end
    end)

    it("never retries other 4xx, nor 409", function()
      for _, s in ipairs { { 400, "BadRequestError" }, { 401, "UnauthorizedError" }, { 403, "ForbiddenError" },
        { 404, "NotFoundError" }, { 409, "ConflictError" }, { 422, "UnprocessableEntityError" },
        { 413, "HTTPError" } } do
        local srv = start({}, { default = status_step(s[1], "X", '{"message":"no","status":' .. s[1] .. '}') })
        local c, sleeps = client(srv.url)
        local err = failure(update, c)
        assert.equal(s[2], err.kind)
        assert.equal(1, err.attempts)
        assert.equal(0, #sleeps)
        assert.equal(1, #srv:requests())
      end
    end)

    it("takes retries from the client and per call", function()
      local srv = start({}, { default = status_step(503, "Service Unavailable", "") })
      local c = client(srv.url, { retries = 0 })
      assert.equal(1, failure(update, c).attempts)
      assert.equal(4, failure(update, c, { retries = 3 }).attempts)
      assert.equal(5, #srv:requests())
    end)

    it("retries a GET the same way, sending no body", function()
      local srv = start { status_step(503, "Service Unavailable", ""), ok_step() }
      local c = client(srv.url)
      local _, meta = c:get(ID)
      assert.equal(2, meta.attempts)
      for _, r in ipairs(srv:requests()) do
        assert.equal("GET", r.method)
        assert.equal("", r.body)
      end
    end)
  end)
end)
