-- bulksync inside a real OpenResty-style host: Debian's nginx with the Lua
-- module, one worker, a content_by_lua_block handler
-- (spec/nginx/bulksync_spec_handler.lua) that updates a sync on the local
-- stand-in. Proves the transport is picked by itself, the update lands,
-- typed errors survive pcall, retries wait with ngx.sleep, and the worker
-- keeps serving other requests while one waits on the API.
local nginx = require "spec.support.nginx"
local standin = require "spec.support.standin"
local raw = require "spec.support.rawserver"
local socket = require "socket"
local cjson = require "cjson"

local KEY = "sk_live_openresty-SECRET-7d1f0c"
local SYNC = "6b0e7d1c-4a53-4f0e-9d2a-1c5e8f3a7b01"      -- the seed's "orders" sync
local UNKNOWN = "6b0e7d1c-4a53-4f0e-9d2a-1c5e8f3a7bff"   -- a UUID that is no sync

local available, why = nginx.available()

if not available then
  describe("inside OpenResty", function()
    pending("nginx with the Lua module is not installed, so the OpenResty specs are skipped: " .. why)
  end)
  return
end

-- Sends GET path to nginx on a new connection and returns the socket
-- without reading: several can be in flight at once.
local function fire(port, path)
  local c = assert(socket.tcp())
  c:settimeout(30)
  assert(c:connect("127.0.0.1", port))
  assert(c:send("GET " .. path .. " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"))
  return c
end

local function collect(c)
  local got, err, partial = c:receive("*a")
  c:close()
  got = got or partial or ""
  assert(got ~= "", "no answer from nginx: " .. tostring(err))
  return tonumber(got:match("^HTTP/%d%.%d (%d+)")), cjson.decode(got:match("\r\n\r\n(.*)$"))
end

local function puts(srv)
  local n = 0
  for _, r in ipairs(srv:requests()) do if r.method == "PUT" then n = n + 1 end end
  return n
end

-- How many of the sockets have an answer waiting, right now.
local function answered(socks)
  local ready = socket.select(socks, nil, 0)
  return #ready
end

-- Fires n handler requests at once and waits until the stand-in has
-- received `seen` PUTs; returns how many answers had reached us by then,
-- and the sockets.
local function overlap_probe(ngx_srv, api, n, seen, query)
  local socks = {}
  for i = 1, n do
    socks[i] = fire(ngx_srv.port, "/update?id=" .. SYNC .. "&name=concurrent-" .. i .. (query or ""))
  end
  local give_up = socket.gettime() + 60
  while puts(api) < seen do
    assert(socket.gettime() < give_up, "the stand-in never saw " .. seen .. " PUTs:\n" .. ngx_srv:error_log())
    socket.sleep(0.01)
  end
  return answered(socks), socks
end

-- Every spec below runs twice: with the transport's own HTTP/1.1 client,
-- and with lua-resty-http first on lua_package_path, which the transport
-- then picks. Debian packages no lua-resty-http, so the second run uses
-- an unmodified copy kept beside the project (BULKSYNC_RESTY_HTTP names
-- another lib/ directory); without it that run is pending.
local function suite(client)
  describe("inside OpenResty (nginx + the Lua module), " .. client.label, function()
    local api, srv

    setup(function()
      api = standin.start { api_key = KEY }
      srv = nginx.start {
        conf = "spec/nginx/bulksync.conf.in",
        env = { POLYTOMIC_API_KEY = KEY, BULKSYNC_BASE_URL = api.url },
        lua_path_first = client.path_first,
      }
    end)

    teardown(function()
      if srv then srv:stop() end
      if api then api:stop() end
      nginx.cleanup()
    end)

    before_each(function() api:reset() end)

    local function get(path)
      local status, body = srv:get(path)
      assert.equal(200, status, body .. "\n" .. srv:error_log())
      return cjson.decode(body)
    end

    it("picks the cosocket transport by itself and the update lands with its headers", function()
      local out = get("/update?id=" .. SYNC .. "&name=set-in-nginx")
      assert.is_nil(out.error, out.error and out.error.text)
      assert.equal("ngx", out.transport)
      client.check(out)
      assert.is_true(out.sleep_is_ngx_sleep)
      assert.equal(200, out.status)
      assert.equal("set-in-nginx", out.name)

      local reqs = api:requests()
      assert.equal(1, #reqs)
      local r = reqs[1]
      assert.equal("PUT", r.method)
      assert.equal("/api/bulk/syncs/" .. SYNC, r.path)
      assert.equal("Bearer " .. KEY, r.headers["authorization"])
      assert.equal("2025-09-18", r.headers["x-polytomic-version"])
      assert.equal("application/json", r.headers["content-type"])
      assert.equal(tostring(#r.body), r.headers["content-length"])
      local sent = cjson.decode(r.body)
      assert.equal("set-in-nginx", sent.name)
      assert.equal("replicate", sent.mode)
      assert.equal("daily", sent.default_schedule.frequency)
      -- And the stand-in stored it.
      assert.equal("set-in-nginx", api:state(SYNC).sync.name)
    end)

    it("returns a typed API error with its fields under pcall, and tostring(err) reads well", function()
      local out = get("/update?id=" .. UNKNOWN .. "&name=x")
      local e = out.error
      assert.is_table(e)
      assert.is_true(e.is_error)
      assert.equal("NotFoundError", e.kind)
      assert.equal(404, e.status)
      assert.equal("bulk sync not found", e.message)
      assert.equal("PUT", e.method)
      assert.equal(api.url .. "/api/bulk/syncs/" .. UNKNOWN, e.url)
      assert.equal("bulksync: NotFoundError (404): bulk sync not found", e.text)
      -- The handler logged the text, not "unknown reason"; the key is nowhere.
      local log = srv:error_log()
      assert.truthy(log:find("sync update failed: bulksync: NotFoundError (404): bulk sync not found", 1, true))
      assert.is_nil(log:find(KEY, 1, true))
    end)

    it("raises a ValidationError before sending anything", function()
      local out = get("/update?id=" .. SYNC .. "&name=x&bad=1")
      assert.equal("ValidationError", out.error.kind)
      assert.is_true(out.error.is_error)
      assert.same({ "mode" }, out.error.paths)
      assert.equal(0, #api:requests())
    end)

    it("reports a refused connection as a TransportError with its fields", function()
      -- A port that nothing listens on: the stand-in's, once it is gone,
      -- is not ours to stop here; use a fresh free port instead.
      local port = nginx.free_port()
      local bad = nginx.start {
        conf = "spec/nginx/bulksync.conf.in",
        env = { POLYTOMIC_API_KEY = KEY, BULKSYNC_BASE_URL = "http://127.0.0.1:" .. port },
        lua_path_first = client.path_first,
      }
      local ok, status, body = pcall(bad.get, bad, "/update?id=" .. SYNC .. "&name=x")
      local log = bad:error_log()
      bad:stop()
      assert.is_true(ok, tostring(status))
      assert.equal(200, status)
      local e = cjson.decode(body).error
      assert.equal("TransportError", e.kind)
      assert.is_true(e.is_error)
      assert.is_true(e.retryable)
      assert.equal(1, e.attempts)
      assert.truthy(e.message:find("connection refused", 1, true), e.message)
      assert.is_nil(log:find(KEY, 1, true))
    end)

    it("reports a phase without cosockets as a typed error, not a crash", function()
      local c = fire(srv.port, "/header-filter?id=" .. SYNC .. "&name=x")
      local rawtext = c:receive("*a")
      c:close()
      assert.equal("TransportError", rawtext:match("X%-Bulksync%-Kind: ([^\r\n]+)"), rawtext)
      local text = rawtext:match("X%-Bulksync%-Result: ([^\r\n]+)")
      assert.truthy(text:find("cosocket request failed: API disabled in the context of header_filter_by_lua", 1, true),
        text)
      assert.equal(0, #api:requests())
    end)

    it("retries a 503 after an ngx.sleep wait, with the same idempotency key", function()
      api:script { { status = 503, body = '{"message":"try again","status":503}' } }
      local out = get("/update?id=" .. SYNC .. "&name=second-try&retries=1&key=nginx-retry-0001")
      assert.is_nil(out.error, out.error and out.error.text)
      assert.equal(2, out.attempts)
      local reqs = api:requests()
      assert.equal(2, #reqs)
      assert.equal("nginx-retry-0001", reqs[1].headers["idempotency-key"])
      assert.equal("nginx-retry-0001", reqs[2].headers["idempotency-key"])
      assert.equal(reqs[1].body, reqs[2].body)
    end)

    it("keeps the connection in the worker's pool from one request to the next", function()
      get("/update?id=" .. SYNC .. "&name=first")
      get("/update?id=" .. SYNC .. "&name=second")
      local reqs = api:requests()
      assert.equal(2, #reqs)
      assert.equal(reqs[1].connection, reqs[2].connection)
    end)

    it("reads a chunked response that arrives in pieces", function()
      local body = '{"data":{"id":"' .. SYNC .. '","name":"chunked reply"}}'
      local chunks = { body:sub(1, 5), body:sub(6, 30), body:sub(31) }
      local framed = {}
      for i, c in ipairs(chunks) do framed[i] = string.format("%x\r\n%s\r\n", #c, c) end
      local rs = raw.start({ {
        send = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        drip = table.concat(framed) .. "0\r\n\r\n", chunk = 7, interval = 0.005,
      } })
      local ok, out = pcall(get, "/update?id=" .. SYNC .. "&name=x&base=" .. rs.url)
      local reqs = rs:requests()
      rs:stop()
      assert.is_true(ok, tostring(out))
      assert.is_nil(out.error, out.error and out.error.text)
      assert.equal("chunked reply", out.name)
      assert.equal(1, #reqs)
      assert.equal("PUT", reqs[1].method)
    end)

    it("gives up on a server that never answers with a TimeoutError", function()
      local rs = raw.start({ { hang = true } })
      local ok, out = pcall(get, "/update?id=" .. SYNC .. "&name=x&timeout=0.3&base=" .. rs.url)
      rs:stop()
      assert.is_true(ok, tostring(out))
      assert.equal("TimeoutError", out.error.kind)
      assert.is_true(out.error.is_error)
      assert.is_true(out.error.retryable)
    end)

    it("does not block the worker: all requests reach the API before any answer leaves", function()
      -- With the stand-in holding every answer for D seconds, a worker that
      -- blocked would send request k+1 to the API only after answering
      -- request k. So if the stand-in holds all N PUTs while none of our N
      -- requests has an answer, they were in flight together on one worker.
      local N, D = 4, 2
      api:config { delay = D }
      local early, socks = overlap_probe(srv, api, N, N)
      assert.equal(0, early, "an answer came back before all requests reached the API: the worker blocked")
      for i, c in ipairs(socks) do
        local status, out = collect(c)
        assert.equal(200, status)
        assert.is_nil(out.error, out.error and out.error.text)
        assert.equal("ngx", out.transport)
        assert.equal("concurrent-" .. i, out.name)
      end
      -- Each PUT had its own connection: none was free in the pool yet.
      local conns = {}
      for _, r in ipairs(api:requests()) do conns[r.connection] = true end
      local distinct = 0
      for _ in pairs(conns) do distinct = distinct + 1 end
      assert.equal(N, distinct)
    end)

    it("(control) the same probe catches a blocking transport", function()
      -- libcurl inside the worker blocks it: by the time the API sees the
      -- second PUT, the first answer has already been sent.
      api:config { delay = 0.3 }
      local early, socks = overlap_probe(srv, api, 3, 2, "&transport=curl")
      for _, c in ipairs(socks) do collect(c) end
      assert.is_true(early >= 1, "the probe did not notice a blocked worker")
    end)
  end)

  describe("inside OpenResty, over TLS, " .. client.label, function()
    local tls = require "spec.support.tls"
    local srv, certs, tls_port, untrusted_port
    local have_openssl = tls.available()

    setup(function()
      if not have_openssl then return end
      certs = tls.tempdir()
      -- Certificates for the address itself: cosockets connect to an IP
      -- without a resolver, and the name checked is that IP.
      for _, name in ipairs({ "trusted", "untrusted" }) do tls.certificate(certs, name) end
      tls_port, untrusted_port = nginx.free_port(), nginx.free_port()
      srv = nginx.start {
        conf = "spec/nginx/tls.conf.in",
        vars = { CERTS = certs, TLS_PORT = tostring(tls_port), UNTRUSTED_PORT = tostring(untrusted_port),
          SYNC = SYNC },
        env = { POLYTOMIC_API_KEY = KEY },
        lua_path_first = client.path_first,
      }
    end)

    teardown(function()
      if srv then srv:stop() end
      if certs then os.execute("rm -rf '" .. certs .. "'") end
      nginx.cleanup()
    end)

    it("verifies the server against lua_ssl_trusted_certificate and talks to it", function()
      if not have_openssl then return pending("openssl is not installed") end
      local status, body = srv:get("/update?id=" .. SYNC .. "&name=x&base=https://127.0.0.1:" .. tls_port)
      assert.equal(200, status)
      local out = cjson.decode(body)
      assert.is_nil(out.error, out.error and out.error.text)
      assert.equal("over verified TLS", out.name)
    end)

    it("refuses a certificate it cannot verify, without retrying", function()
      if not have_openssl then return pending("openssl is not installed") end
      local status, body = srv:get("/update?id=" .. SYNC .. "&name=x&retries=2&base=https://127.0.0.1:" ..
        untrusted_port)
      assert.equal(200, status)
      local e = cjson.decode(body).error
      assert.equal("TransportError", e.kind)
      assert.is_false(e.retryable)
      assert.equal(1, e.attempts)
      assert.truthy(e.message:find("TLS handshake", 1, true), e.message)
      assert.truthy(e.message:find("lua_ssl_trusted_certificate", 1, true), e.message)
      assert.is_nil(srv:error_log():find(KEY, 1, true))
    end)
  end)

  describe("examples/openresty, " .. client.label, function()
    local api, srv

    setup(function()
      api = standin.start { api_key = KEY }
      local repo = nginx.repo_root()
      -- The example as written, but daemonised on a free port with this
      -- checkout's files and the LuaJIT build of the core.
      srv = nginx.start {
        conf = "examples/openresty/nginx.conf",
        replace = {
          { "daemon off;", "daemon on;" },
          { "pid logs/nginx.pid;", "pid ${PREFIX}/nginx.pid;" },
          { "listen 127.0.0.1:8080;", "listen 127.0.0.1:${PORT};" },
          { '"$prefix/../../?.lua;$prefix/?.lua;;"',
            '"' .. client.path_first .. repo .. '/?.lua;' .. repo .. '/examples/openresty/?.lua;;"' },
          { '"$prefix/../../?.so;;"', '"${LIB}/?.so;;"' },
        },
        env = { POLYTOMIC_API_KEY = KEY, BULKSYNC_BASE_URL = api.url },
        lua_path_first = client.path_first,
      }
    end)

    teardown(function()
      if srv then srv:stop() end
      if api then api:stop() end
      nginx.cleanup()
    end)

    local function call(method, path, body)
      local c = assert(socket.tcp())
      c:settimeout(30)
      assert(c:connect("127.0.0.1", srv.port))
      assert(c:send(method .. " " .. path .. " HTTP/1.0\r\nHost: x\r\nContent-Length: " .. #(body or "") ..
        "\r\n\r\n" .. (body or "")))
      local status, out = collect(c)
      return status, out
    end

    it("pauses a sync with patch and keeps the rest", function()
      local before = api:state(SYNC).sync
      assert.is_true(before.active)
      local status, out = call("POST", "/syncs/" .. SYNC .. "/pause")
      assert.equal(200, status, srv:error_log())
      assert.is_false(out.active)
      local after = api:state(SYNC).sync
      assert.is_false(after.active)
      assert.equal(before.name, after.name)
      assert.equal(before.automatically_add_new_fields, after.automatically_add_new_fields)
      assert.equal(before.concurrency_limit, after.concurrency_limit)
    end)

    it("answers a bad body with the ValidationError and logs it as text", function()
      local status, out = call("PUT", "/syncs/" .. SYNC, '{"name":"x"}')
      assert.equal(400, status)
      assert.equal("ValidationError", out.error)
      assert.is_table(out.problems)
      local log = srv:error_log()
      assert.truthy(log:find("sync update failed: bulksync: ValidationError", 1, true), log)
      assert.is_nil(log:find(KEY, 1, true))
    end)

    it("passes an API error through with its kind", function()
      local status, out = call("POST", "/syncs/" .. UNKNOWN .. "/pause")
      assert.equal(404, status)
      assert.equal("NotFoundError", out.error)
      assert.equal(404, out.status)
    end)
  end)
end

local repo = nginx.repo_root()
local resty_lib = os.getenv("BULKSYNC_RESTY_HTTP") or (repo .. "/../shared/vendor/lua-resty-http/lib")
local resty_file = resty_lib .. "/resty/http.lua"
local have_resty = io.open(resty_file, "rb")
if have_resty then have_resty:close() end

suite {
  label = "built-in HTTP client",
  path_first = "",
  check = function(out)
    assert.equal("cosocket", out.http_client, "lua-resty-http was found on the default path")
    assert.is_nil(out.resty_http_version)
  end,
}

if have_resty then
  suite {
    label = "lua-resty-http",
    path_first = resty_lib .. "/?.lua;",
    check = function(out)
      assert.equal("lua-resty-http", out.http_client)
      assert.equal("0.17.1", out.resty_http_version)
      -- The copy named here, not one found elsewhere on the path.
      assert.equal(resty_file, out.resty_http_file)
    end,
  }
else
  describe("inside OpenResty, lua-resty-http", function()
    pending("lua-resty-http 0.17.1 was not found at " .. resty_lib ..
      " (set BULKSYNC_RESTY_HTTP to its lib/ directory), so the specs with it are skipped")
  end)
end
