-- Secrets and hostile input. Every error path is driven with a distinctive
-- key, through the curl transport, the OpenResty transport (its HTTP/1.1
-- client on luasocket stand-ins for cosockets) and a custom transport, and
-- every string reachable from each error (tostring, message, body, nested
-- fields, keys) is searched for the key and the Authorization value. The
-- last test checks that every error kind was produced, so a new kind cannot
-- slip past unsearched. The servers' records show the key only ever travels
-- in the Authorization header. TLS is verified, always.
local bulksync = require "bulksync"
local raw = require "spec.support.rawserver"
local socket = require "socket"
local mime = require "mime"

local KEY = "sk-CANARY-5e1f0c7a-9d2b-LEAK-CHECK"
local ORG = "org-canary-77"
local BASIC = (mime.b64(ORG .. ":" .. KEY))
local ID = "0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a51"
local DATA = '{"data":{"id":"' .. ID .. '","name":"orders"}}'

-- What must never show: the key, any 12-byte piece of its ends (a cut
-- message), and the Basic credential.
local SECRETS = { KEY, KEY:sub(1, 12), KEY:sub(-12), BASIC, BASIC:sub(1, 16) }

local function body()
  return {
    name = "orders", mode = "replicate",
    source_connection_id = "6b1f7a3e-1111-4c2d-8e9f-0a1b2c3d4e5f",
    destination_connection_id = "9c2e8b4f-2222-4d3e-9f0a-1b2c3d4e5f60",
    destination_configuration = { schema = "analytics" },
    default_schedule = { frequency = "manual" },
  }
end

-- Every string reachable from v: strings, table keys and values,
-- tostring() of tables with a __tostring, recursively.
local function strings_of(v, out, seen, path)
  out, seen, path = out or {}, seen or {}, path or "err"
  local t = type(v)
  if t == "string" then
    out[#out + 1] = { path = path, text = v }
  elseif t == "table" then
    if seen[v] then return out end
    seen[v] = true
    local mt = getmetatable(v)
    if mt and mt.__tostring then out[#out + 1] = { path = "tostring(" .. path .. ")", text = tostring(v) } end
    for k, x in pairs(v) do
      strings_of(k, out, seen, path .. "[key]")
      strings_of(x, out, seen, path .. "." .. tostring(k))
    end
  elseif t ~= "nil" then
    out[#out + 1] = { path = path, text = tostring(v) }
  end
  return out
end

local function assert_clean(v, where)
  for _, s in ipairs(strings_of(v)) do
    for _, secret in ipairs(SECRETS) do
      assert.is_nil(s.text:find(secret, 1, true),
        (where or "") .. ": " .. s.path .. " shows a secret: " .. s.text:sub(1, 300))
    end
  end
end

local kinds_seen = {}
local errors_seen = 0

-- Runs f, which must fail; checks the error and records its kind.
local function check_error(where, f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, where .. ": expected an error")
  assert_clean(err, where)
  errors_seen = errors_seen + 1
  if bulksync.is_error(err) then kinds_seen[err.kind] = true end
  return err
end

local function start(steps, opts)
  local srv = raw.start(steps, opts)
  finally(function() srv:stop() end)
  return srv
end

local free_port = require "spec.support.ports"

-- The key appears in a recorded request only as the Authorization header.
local function assert_key_only_in_authorization(srv, org)
  local reqs = srv:received()
  assert.truthy(#reqs > 0)
  for i, rawreq in ipairs(reqs) do
    local head, rest = rawreq:match("^(.-\r\n\r\n)(.*)$")
    local auth_lines = 0
    for line in head:gmatch("([^\r\n]*)\r\n") do
      if line:lower():find("^authorization:") then
        auth_lines = auth_lines + 1
        assert.equal(org and ("Authorization: Basic " .. BASIC) or ("Authorization: Bearer " .. KEY), line)
      else
        for _, secret in ipairs(SECRETS) do
          assert.is_nil(line:find(secret, 1, true), "request " .. i .. " line: " .. line)
        end
      end
    end
    assert.equal(1, auth_lines)
    for _, secret in ipairs(SECRETS) do
      assert.is_nil(rest:find(secret, 1, true), "request " .. i .. " body")
    end
    if org then assert.is_nil(rawreq:find(KEY, 1, true)) end
  end
end

-- The OpenResty transport's own HTTP/1.1 client, on luasocket sockets in
-- place of cosockets (blocking, which is all a spec needs).
local function luasocket_ngx()
  local ngx = { null = bulksync.null }
  ngx.now = socket.gettime
  ngx.sleep = function() end
  ngx.socket = {}
  function ngx.socket.tcp()
    local s = { ms = { 1000, 1000, 1000 } }
    function s:settimeouts(c, w, r) self.ms = { c, w, r } end
    function s:connect(host, port)
      self.sock = socket.tcp()
      self.sock:settimeout(self.ms[1] / 1000)
      local ok, err = self.sock:connect(host, port)
      if not ok then return nil, err end
      return 1
    end
    function s:getreusedtimes() return 0 end
    function s:sslhandshake() return nil, "no TLS in this stand-in" end
    function s:send(data)
      self.sock:settimeout(self.ms[2] / 1000)
      if type(data) == "table" then data = table.concat(data) end
      return self.sock:send(data)
    end
    function s:receive(pattern)
      self.sock:settimeout(self.ms[3] / 1000)
      return self.sock:receive(pattern)
    end
    function s:setkeepalive() self.sock:close(); return 1 end
    function s:close() if self.sock then self.sock:close() end; return 1 end
    return s
  end
  return ngx
end

local TRANSPORTS = { "curl", "ngx" }

local function client(transport, url, opts)
  local o = { api_key = KEY, base_url = url, transport = transport, timeout = 1, connect_timeout = 1,
    retries = 1, retry_base = 0.01, sleep = function() end }
  for k, v in pairs(opts or {}) do o[k] = v end
  if transport == "ngx" then
    local saved = rawget(_G, "ngx")
    rawset(_G, "ngx", luasocket_ngx())
    finally(function() rawset(_G, "ngx", saved) end)
  end
  local c = bulksync.new(o)
  finally(function() c:close() end)
  assert.equal(transport, c.transport.name)
  assert_clean(tostring(c), "tostring(client)")
  return c
end

local function json_step(status, text, headers)
  local h = { "Content-Type: application/json" }
  for _, x in ipairs(headers or {}) do h[#h + 1] = x end
  return { status = status, reason = "Status", headers = h, body = text }
end

describe("secrets", function()
  describe("options refused without echoing the key", function()
    it("a key with CR or LF, in org_id, user_agent, headers, names or base_url", function()
      local cases = {
        { api_key = KEY .. "\r\nX-Injected: 1" },
        { api_key = KEY, org_id = ORG .. "\n" .. KEY },
        { api_key = KEY, user_agent = KEY .. "\r\n" },
        { api_key = KEY, headers = { ["X-Key"] = KEY .. "\r\nX-Injected: 1" } },
        { api_key = KEY, headers = { ["Authorization"] = "Bearer " .. KEY } },
        { api_key = KEY, headers = { ["Authorization: Bearer " .. KEY] = "x" } },
        { api_key = KEY, headers = { "Authorization: Bearer " .. KEY } },
        { api_key = KEY, ["Authorization: Bearer " .. KEY] = true },
        { api_key = KEY, [KEY] = true },
        { api_key = KEY, base_url = "https://user:" .. KEY .. "@example.com" },
        { api_key = KEY, base_url = "https://example.com/?key=" .. KEY },
        { api_key = KEY, base_url = "https://example.com/#" .. KEY },
        { api_key = KEY, base_url = "ftp://" .. KEY .. "@example.com" },
        { api_key = KEY, transport = "carrier-pigeon" },
        { api_key = KEY, sleep = KEY },
        { api_key = KEY, timeout = KEY },
      }
      for i, opts in ipairs(cases) do
        local err = check_error("options case " .. i, bulksync.new, opts)
        assert.equal("ValidationError", err.kind)
      end
    end)

    it("bad call options and a closed client", function()
      local c = bulksync.new { api_key = KEY, transport = function() return { status = 200, body = DATA } end }
      check_error("idempotency key", c.update, c, ID, body(), { idempotency_key = KEY .. "!" })
      check_error("retries", c.get, c, ID, { retries = -1 })
      check_error("changes", c.patch, c, ID, { id = KEY })
      check_error("body", c.update, c, ID, { name = 5 })
      c:close()
      check_error("closed", c.get, c, ID)
      check_error("closed update", c.update, c, ID, body())
    end)
  end)

  for _, transport in ipairs(TRANSPORTS) do
    describe("errors from the " .. transport .. " transport", function()
      it("HTTP error statuses, with the key in no message, body or header kept", function()
        local cases = {
          { 400, "BadRequestError" }, { 401, "UnauthorizedError" }, { 403, "ForbiddenError" },
          { 404, "NotFoundError" }, { 409, "ConflictError" }, { 422, "UnprocessableEntityError" },
          { 429, "RateLimitError" }, { 500, "InternalServerError" }, { 503, "ServerError" },
          { 418, "HTTPError" }, { 408, "RequestTimeoutError" },
        }
        for _, case in ipairs(cases) do
          local srv = start({}, { default = json_step(case[1],
            '{"message":"refused","status":' .. case[1] .. '}', { "Retry-After: 0" }) })
          local c = client(transport, srv.url)
          local err = check_error(transport .. " " .. case[1], c.update, c, ID, body())
          assert.equal(case[2], err.kind)
          assert_key_only_in_authorization(srv)
        end
      end)

      it("a wait that runs out of time, its execution echoing the key", function()
        local exec = "7c1e2d3f-4a5b-4c6d-8e7f-901a2b3c4d5e"
        local srv = start({}, { default = json_step(200,
          '{"data":{"id":"' .. exec .. '","status":"running","error":"key ' .. KEY .. '"}}') })
        local c = client(transport, srv.url)
        local err = check_error(transport .. " wait", c.wait, c, ID, exec, { interval = 1, timeout = 1 })
        assert.equal("WaitTimeoutError", err.kind)
      end)

      it("responses that do not decode", function()
        for _, text in ipairs { "", "{", "[1]", '{"other":1}', "<html>oops</html>" } do
          local srv = start { json_step(200, text) }
          local c = client(transport, srv.url)
          assert.equal("DecodeError", check_error(transport .. " decode", c.get, c, ID).kind)
        end
      end)

      it("connection failures, timeouts, garbage and oversized responses", function()
        local c = client(transport, "http://127.0.0.1:" .. free_port())
        assert.equal("TransportError", check_error(transport .. " refused", c.update, c, ID, body()).kind)

        local srv = start({}, { default = { hang = true } })
        c = client(transport, srv.url, { timeout = 0.3, retries = 0 })
        assert.equal("TimeoutError", check_error(transport .. " timeout", c.update, c, ID, body()).kind)

        srv = start({}, { default = { send = "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{", reset = true } })
        c = client(transport, srv.url)
        assert.equal("TransportError", check_error(transport .. " reset", c.update, c, ID, body()).kind)
        assert_key_only_in_authorization(srv)

        srv = start({}, { default = { send = "NOT HTTP AT ALL " .. string.rep("x", 50) .. "\r\n\r\n", close = true } })
        c = client(transport, srv.url)
        assert.equal("TransportError", check_error(transport .. " garbage", c.get, c, ID).kind)

        srv = start({}, { default = { status = 200, body_size = 5000 } })
        c = client(transport, srv.url, { max_response_size = 1000 })
        assert.equal("TransportError", check_error(transport .. " size", c.get, c, ID).kind)
      end)

      it("organization keys travel only as the Basic credential", function()
        local srv = start({}, { default = json_step(404, '{"message":"no such sync","status":404}') })
        local c = client(transport, srv.url, { org_id = ORG })
        assert.equal("NotFoundError", check_error(transport .. " org", c.get, c, ID).kind)
        assert_key_only_in_authorization(srv, true)
      end)
    end)
  end

  describe("errors from a custom transport", function()
    it("failures and statuses it reports", function()
      local answers = {
        function() return nil, { kind = "TimeoutError", message = "took too long", retryable = true } end,
        function() return nil, "plain string failure" end,
        function() return { status = 502, headers = {}, body = "<title>Bad Gateway</title>" } end,
        function() return { status = 200, headers = {}, body = "not json" } end,
      }
      for i, answer in ipairs(answers) do
        local seen_auth
        local c = bulksync.new { api_key = KEY, retries = 0, transport = function(req)
          seen_auth = req.headers.Authorization
          return answer(req)
        end }
        check_error("custom " .. i, c.update, c, ID, body())
        assert.equal("Bearer " .. KEY, seen_auth)
        c:close()
      end
    end)
  end)

  describe("tostring", function()
    it("of a client and of its libcurl handle never shows the key", function()
      for _, opts in ipairs { { api_key = KEY }, { api_key = KEY, org_id = ORG } } do
        opts.transport = "curl"
        local c = bulksync.new(opts)
        assert_clean(tostring(c), "client")
        assert_clean(tostring(c.transport.handle), "handle")
        c:close()
        assert_clean(tostring(c), "closed client")
      end
    end)
  end)

  it("every error kind was produced above, and none showed a secret", function()
    for _, kind in ipairs(bulksync.errors) do
      assert.is_true(kinds_seen[kind] == true, "no spec above produced a " .. kind)
    end
    assert.truthy(errors_seen > 60)
  end)
end)

describe("hostile input", function()
  it("refuses ids that are not UUIDs, sending nothing", function()
    local srv = start({}, { default = json_step(200, DATA) })
    local c = client("curl", srv.url)
    for _, id in ipairs { "../../admin", "..%2F..%2Fadmin", ID .. "/../../x", ID .. "?active=false",
      ID .. "#x", ID .. "%00", " " .. ID, ID .. "\r\nX-Injected: 1", ID:gsub("%-", "/"), "", 42 } do
      local err = check_error("id " .. tostring(id), c.get, c, id)
      assert.equal("ValidationError", err.kind)
      assert.equal("id", err.errors[1].path)
      check_error("id update", c.update, c, id, body())
    end
    assert.equal(0, #srv:received())
  end)

  it("refuses a base_url that is not http(s) with a host and no credentials", function()
    for _, url in ipairs { "ftp://example.com", "file:///etc/passwd", "gopher://h", "https://", "http:///x",
      "https://u:p@example.com", "https://@example.com", "example.com", "//example.com",
      "https://example.com/\r\nX: 1", "https://example.com/a b" } do
      local err = check_error("base_url " .. url, bulksync.new, { api_key = KEY, base_url = url })
      assert.equal("base_url", err.errors[1].path, url)
    end
  end)

  it("refuses header values with CR or LF before sending anything", function()
    for _, opts in ipairs {
      { headers = { ["X-Trace"] = "a\r\nX-Evil: 1" } }, { headers = { ["X-Trace"] = "a\nb" } },
      { user_agent = "ua\rX" }, { org_id = "org\n" },
    } do
      opts.api_key = KEY
      local err = check_error("header value", bulksync.new, opts)
      assert.equal("ValidationError", err.kind)
    end
  end)

  it("does not follow a redirect, which would resend the key elsewhere", function()
    local srv = start { { status = 307, reason = "Temporary Redirect",
      headers = { "Location: http://127.0.0.1:" .. free_port() .. "/steal" } } }
    local c = client("curl", srv.url)
    local err = check_error("redirect", c.get, c, ID)
    assert.equal("HTTPError", err.kind)
    assert.equal(307, err.status)
    assert.equal(1, #srv:received())
  end)
end)

-- A real TLS server (openssl s_server) with a self-signed certificate.
describe("TLS through the client", function()
  local tls = require "spec.support.tls"
  local server, www, cert, pid, port

  setup(function()
    if not tls.available() then return end
    -- -HTTP serves a file holding a whole HTTP response, by request path.
    www = tls.tempdir()
    assert(os.execute("mkdir -p " .. www .. "/api/bulk/syncs"))
    local f = assert(io.open(www .. "/api/bulk/syncs/" .. ID, "wb"))
    f:write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " .. #DATA ..
      "\r\nConnection: close\r\n\r\n" .. DATA)
    f:close()
    server = tls.serve { www = www }
    cert, pid, port = server.cert, server.pid, server.port
  end)

  teardown(function()
    if server then server:stop() end
    if www then os.execute("rm -rf '" .. www .. "'") end
  end)

  it("fails verification of a self-signed certificate: TransportError naming it, not retried", function()
    assert.truthy(pid, "openssl s_server did not start")
    local sleeps = 0
    local c = bulksync.new { api_key = KEY, base_url = "https://127.0.0.1:" .. port, transport = "curl",
      sleep = function() sleeps = sleeps + 1 end }
    finally(function() c:close() end)
    local ok, err = pcall(c.get, c, ID)
    assert.is_false(ok)
    assert_clean(err, "tls")
    assert.equal("TransportError", err.kind)
    assert.truthy(err.message:lower():find("certificate"), err.message)
    assert.equal(60, err.curl_code)   -- CURLE_PEER_FAILED_VERIFICATION
    assert.equal(1, err.attempts)
    assert.equal(0, sleeps)
  end)

  it("succeeds when ca_file names that certificate", function()
    assert.truthy(pid, "openssl s_server did not start")
    local c = bulksync.new { api_key = KEY, base_url = "https://127.0.0.1:" .. port, transport = "curl",
      ca_file = cert }
    finally(function() c:close() end)
    local data, meta = c:get(ID)
    assert.equal(ID, data.id)
    assert.equal(200, meta.status)
  end)

  it("has no option to turn verification off", function()
    for _, name in ipairs { "insecure", "verify", "ssl_verify", "verify_peer", "tls_verify", "ssl_verify_peer",
      "skip_verify", "no_verify" } do
      local err = check_error("option " .. name, bulksync.new, { api_key = KEY, [name] = false })
      assert.matches("^unknown option", err.errors[1].problem)
      assert.equal(name, err.errors[1].path)
    end
  end)
end)
