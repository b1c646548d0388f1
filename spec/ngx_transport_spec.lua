-- The OpenResty transport's HTTP/1.1 client, driven by a scripted fake
-- cosocket so it runs under every Lua: what it sends, how it reads
-- content-length, chunked and close-delimited bodies, when it returns a
-- connection to the pool, and which errors it reports. The real nginx run
-- is in openresty_spec.lua.
local transport = require "bulksync.ngx"
-- Whether the client would try again after this transport error: the
-- transport says what went wrong (err.cause), bulksync.retry decides.
local function retryable(err) return require("bulksync.retry").transport_retryable(err) end

-- A fake ngx whose sockets answer from `script`: one entry per connection,
-- each the bytes the server sends (or { bytes, err = "timeout" } to end the
-- stream with that error). Every socket records what it saw.
local function fake_ngx(script)
  local ngx = { sockets = {}, slept = {}, clock = 1000 }
  local pools = {}
  ngx.now = function() return ngx.clock end
  ngx.sleep = function(s) ngx.slept[#ngx.slept + 1] = s end
  ngx.socket = {}
  function ngx.socket.tcp()
    local s = { sent = {}, receives = 0, closed = false, kept = false }
    ngx.sockets[#ngx.sockets + 1] = s
    local input, pos, final_err = "", 1, "closed"
    function s:settimeouts(c, w, r) self.timeouts = { c, w, r } end
    function s:connect(host, port, opts)
      self.host, self.port, self.pool = host, port, opts and opts.pool
      if ngx.refuse then return nil, ngx.refuse end
      local pooled = pools[self.pool]
      if pooled and #pooled > 0 then
        local old = table.remove(pooled)
        self.reused = old.reused + 1
        input, pos, final_err = old.next_input()
      else
        self.reused = 0
        local entry = table.remove(script, 1) or ""
        if type(entry) == "table" then input, final_err = entry[1], entry.err or "closed"
        else input = entry end
        pos = 1
      end
      -- A pooled connection serves the next scripted answer.
      self.next_input = function()
        local entry = table.remove(script, 1) or ""
        if type(entry) == "table" then return entry[1], 1, entry.err or "closed" end
        return entry, 1, "closed"
      end
      return 1
    end
    function s:getreusedtimes() return self.reused end
    function s:sslhandshake(reused, name, verify)
      self.tls = { reused = reused, name = name, verify = verify }
      if ngx.tls_fail then return nil, ngx.tls_fail end
      return true
    end
    function s:send(data)
      self.sent[#self.sent + 1] = type(data) == "table" and table.concat(data) or data
      return #self.sent[#self.sent]
    end
    function s:receive(pat)
      self.receives = self.receives + 1
      if pat == "*l" then
        local nl = input:find("\n", pos, true)
        if not nl then
          local rest = input:sub(pos); pos = #input + 1
          return nil, final_err, rest
        end
        local line = input:sub(pos, nl - 1):gsub("\r", "")
        pos = nl + 1
        return line
      end
      local want = pat
      if pos + want - 1 > #input then
        local rest = input:sub(pos); pos = #input + 1
        return nil, final_err, rest
      end
      local data = input:sub(pos, pos + want - 1)
      pos = pos + want
      return data
    end
    function s:setkeepalive()
      self.kept = true
      pools[self.pool] = pools[self.pool] or {}
      table.insert(pools[self.pool], self)
      return 1
    end
    function s:close() self.closed = true; return 1 end
    return s
  end
  return ngx
end

local saved_ngx
local function with_ngx(script, config)
  local ngx = fake_ngx(script)
  _G.ngx = ngx
  local t = transport.new(config or { timeout = 5, connect_timeout = 2, max_response_size = 1024 })
  return t, ngx
end

local function req(over)
  local r = { method = "PUT", url = "http://127.0.0.1:8080/api/bulk/syncs/abc",
    headers = { Authorization = "Bearer sk_SECRET", ["X-Polytomic-Version"] = "2025-09-18" },
    body = '{"name":"x"}', timeout = 5, connect_timeout = 2 }
  for k, v in pairs(over or {}) do r[k] = v end
  return r
end

local OK_CL = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"data\":{}}"

describe("bulksync.ngx transport", function()
  setup(function() saved_ngx = rawget(_G, "ngx"); package.loaded["resty.http"] = nil end)
  teardown(function() _G.ngx = saved_ngx end)

  it("refuses to start outside OpenResty", function()
    _G.ngx = nil
    local ok, err = pcall(transport.new, {})
    assert.is_false(ok)
    assert.matches("ngx.socket.tcp is not available", err, 1, true)
  end)

  it("names itself and uses ngx.sleep for retry waits", function()
    local t, ngx = with_ngx({})
    assert.equal("ngx", t.name)
    assert.equal(ngx.sleep, t.sleep)
    assert.equal("cosocket", t.client)
    assert.is_function(t.close)
  end)

  it("sends an HTTP/1.1 request with Host, the headers and Content-Length", function()
    local t, ngx = with_ngx({ OK_CL })
    local resp, err = t.request(req())
    assert.is_nil(err)
    local s = ngx.sockets[1]
    assert.equal("127.0.0.1", s.host)
    assert.equal(8080, s.port)
    assert.equal("bulksync:127.0.0.1:8080:plain", s.pool)
    assert.same({ 2000, 5000, 5000 }, s.timeouts)
    assert.equal("PUT /api/bulk/syncs/abc HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n" ..
      "Authorization: Bearer sk_SECRET\r\nX-Polytomic-Version: 2025-09-18\r\n" ..
      "Content-Length: 12\r\n\r\n{\"name\":\"x\"}", s.sent[1])
    assert.equal(200, resp.status)
    assert.equal("application/json", resp.headers["content-type"])
    assert.equal('{"data":{}}', resp.body)
  end)

  it("sends no body and no Content-Length on a GET; default ports stay out of Host", function()
    local t, ngx = with_ngx({ OK_CL })
    local r = req { method = "GET", url = "http://api.example/x?active=true" }
    r.body = nil
    t.request(r)
    assert.equal("GET /x?active=true HTTP/1.1\r\nHost: api.example\r\n" ..
      "Authorization: Bearer sk_SECRET\r\nX-Polytomic-Version: 2025-09-18\r\n\r\n", ngx.sockets[1].sent[1])
    assert.equal(80, ngx.sockets[1].port)
  end)

  it("verifies TLS with the host as server name, in a pool of its own", function()
    local t, ngx = with_ngx({ OK_CL })
    local resp = t.request(req { url = "https://app.example.com/api" })
    assert.equal(200, resp.status)
    local s = ngx.sockets[1]
    assert.equal(443, s.port)
    assert.equal("bulksync:app.example.com:443:tls", s.pool)
    assert.same({ reused = false, name = "app.example.com", verify = true }, s.tls)
  end)

  it("reports a failed verification as a TransportError that is not retried", function()
    local t, ngx = with_ngx({ OK_CL })
    ngx.tls_fail = "20: unable to get local issuer certificate"
    local resp, err = t.request(req { url = "https://app.example.com/api" })
    assert.is_nil(resp)
    assert.equal("TransportError", err.kind)
    assert.is_false(retryable(err))
    assert.matches("lua_ssl_trusted_certificate", err.message, 1, true)
    assert.is_true(ngx.sockets[1].closed)
  end)

  it("reads a chunked body and lower-cases header names", function()
    local t = with_ngx({ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Polytomic-Version: v\r\n" ..
      "Set-A: 1\r\nset-a: 2\r\n\r\n5;ext=1\r\n{\"dat\r\n6\r\na\":{}}\r\n0\r\nX-Trailer: t\r\n\r\n" })
    local resp, err = t.request(req())
    assert.is_nil(err)
    assert.equal('{"data":{}}', resp.body)
    assert.equal("v", resp.headers["x-polytomic-version"])
    assert.equal("1, 2", resp.headers["set-a"])
    assert.equal("t", resp.headers["x-trailer"])
  end)

  it("returns a complete keep-alive connection to the pool and reuses it", function()
    local t, ngx = with_ngx({ OK_CL, OK_CL })
    assert.equal(200, t.request(req()).status)
    assert.is_true(ngx.sockets[1].kept)
    assert.is_false(ngx.sockets[1].closed)
    assert.equal(200, t.request(req()).status)
    assert.equal(1, ngx.sockets[2].reused)
  end)

  it("closes instead when the server says close, on HTTP/1.0, and on a close-delimited body", function()
    local t, ngx = with_ngx({
      "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}",
      "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}",
      "HTTP/1.1 200 OK\r\n\r\n{\"till\":\"close\"}",
    })
    for i = 1, 3 do
      local resp = t.request(req())
      assert.equal(200, resp.status)
      assert.is_true(ngx.sockets[i].closed)
      assert.is_false(ngx.sockets[i].kept)
    end
  end)

  it("skips 1xx interim responses", function()
    local t = with_ngx({ "HTTP/1.1 100 Continue\r\n\r\n" .. OK_CL })
    assert.equal(200, t.request(req()).status)
  end)

  it("passes error statuses through as responses", function()
    local t = with_ngx({ "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}" })
    local resp = t.request(req())
    assert.equal(404, resp.status)
    assert.equal("{}", resp.body)
  end)

  it("enforces max_response_size for every body framing", function()
    local big = string.rep("x", 2000)
    local t, ngx = with_ngx({
      "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" .. big,
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n" .. big .. "\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\n\r\n" .. big,
    }, { timeout = 5, connect_timeout = 2, max_response_size = 1024 })
    for i = 1, 3 do
      local resp, err = t.request(req())
      assert.is_nil(resp)
      assert.equal("TransportError", err.kind)
      assert.is_false(retryable(err))
      assert.matches("max_response_size", err.message, 1, true)
      assert.is_true(ngx.sockets[i].closed)
    end
  end)

  it("reports a timeout as a retryable TimeoutError", function()
    local t = with_ngx({ { "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{", err = "timeout" } })
    local resp, err = t.request(req())
    assert.is_nil(resp)
    assert.equal("TimeoutError", err.kind)
    assert.is_true(retryable(err))
  end)

  it("stops reading once the whole-request deadline has passed", function()
    local t, ngx = with_ngx({ OK_CL })
    local sock_receive
    local orig_tcp = ngx.socket.tcp
    ngx.socket.tcp = function()
      local s = orig_tcp()
      sock_receive = s.receive
      s.receive = function(self, p) ngx.clock = ngx.clock + 2; return sock_receive(self, p) end
      return s
    end
    local resp, err = t.request(req { timeout = 3 })
    assert.is_nil(resp)
    assert.equal("TimeoutError", err.kind)
  end)

  it("reports a refused connection as a retryable TransportError", function()
    local t, ngx = with_ngx({})
    ngx.refuse = "connection refused"
    local resp, err = t.request(req())
    assert.is_nil(resp)
    assert.equal("TransportError", err.kind)
    assert.is_true(retryable(err))
    assert.equal("connect to 127.0.0.1:8080 failed: connection refused", err.message)
  end)

  it("does not retry a missing resolver", function()
    local t, ngx = with_ngx({})
    ngx.refuse = "no resolver defined to resolve \"app.example.com\""
    local _, err = t.request(req())
    assert.is_false(retryable(err))
  end)

  it("tries once more on a fresh connection when a pooled one was closed by the server", function()
    local t, ngx = with_ngx({ OK_CL, "", OK_CL })
    assert.equal(200, t.request(req()).status)
    local resp, err = t.request(req())
    assert.is_nil(err)
    assert.equal(200, resp.status)
    assert.equal(3, #ngx.sockets)
    assert.equal(1, ngx.sockets[2].reused)
    assert.equal(0, ngx.sockets[3].reused)
  end)

  it("rejects malformed responses without retrying", function()
    local t = with_ngx({ "SSH-2.0-OpenSSH\r\n", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n" })
    for _ = 1, 2 do
      local _, err = t.request(req())
      assert.equal("TransportError", err.kind)
      assert.is_false(retryable(err))
      assert.matches("bad HTTP response", err.message, 1, true)
    end
  end)

  it("never puts a header value in an error message", function()
    local t = with_ngx({})
    local _, err = t.request(req { headers = { Authorization = "Bearer sk_SECRET\r\nX-Evil: 1" } })
    assert.equal("TransportError", err.kind)
    assert.is_nil(err.message:find("SECRET", 1, true))
    assert.matches("Authorization", err.message, 1, true)
  end)

  it("parses IPv6 literals and rejects other schemes", function()
    local u = transport._parse_url("https://[::1]:8443/a")
    assert.equal("[::1]", u.host)
    assert.equal("::1", u.server_name)
    assert.equal(8443, u.port)
    assert.equal("[::1]:8443", u.host_header)
    assert.is_nil(transport._parse_url("ftp://x/"))
    local t = with_ngx({})
    local _, err = t.request(req { url = "ftp://x/" })
    assert.equal("TransportError", err.kind)
  end)

  it("uses lua-resty-http when it is installed", function()
    local calls = {}
    package.loaded["resty.http"] = {
      _VERSION = "0.17.2",
      new = function()
        local c = {}
        function c:set_timeouts(...) calls.timeouts = { ... } end
        function c:connect(o) calls.connect = o; return true end
        function c:request(p)
          calls.request = p
          local chunks = { '{"data"', ':{}}' }
          return { status = 201, has_body = true,
            headers = { ["Content-Type"] = "application/json", ["X-Many"] = { "a", "b" } },
            body_reader = function() return table.remove(chunks, 1) end }
        end
        function c:set_keepalive() calls.kept = true; return 1 end
        function c:close() calls.closed = true end
        return c
      end,
    }
    local ok, resp = pcall(function()
      local t = with_ngx({})
      assert.equal("lua-resty-http", t.client)
      return t.request(req { url = "https://app.example.com/api" })
    end)
    package.loaded["resty.http"] = nil
    assert.is_true(ok, tostring(resp))
    assert.equal(201, resp.status)
    assert.equal('{"data":{}}', resp.body)
    assert.equal("application/json", resp.headers["content-type"])
    assert.equal("a, b", resp.headers["x-many"])
    assert.same({ 2000, 5000, 5000 }, calls.timeouts)
    assert.is_true(calls.connect.ssl_verify)
    assert.equal("app.example.com", calls.connect.ssl_server_name)
    assert.equal("https", calls.connect.scheme)
    assert.equal("12", calls.request.headers["Content-Length"])
    assert.equal("Bearer sk_SECRET", calls.request.headers.Authorization)
    assert.is_true(calls.kept)
  end)

  it("tells a refused certificate from a failed connect under lua-resty-http", function()
    -- lua-resty-http connects and shakes hands in one call; a failed
    -- verification must still be the unretried TLS refusal.
    local answers = { "18: self-signed certificate", "connection refused" }
    package.loaded["resty.http"] = {
      _VERSION = "0.17.1",
      new = function()
        local c = {}
        function c.set_timeouts() end
        function c.connect() return nil, table.remove(answers, 1) end
        function c.close() end
        return c
      end,
    }
    local ok, tls_err, tcp_err = pcall(function()
      local t = with_ngx({})
      local _, e1 = t.request(req { url = "https://app.example.com/api" })
      local _, e2 = t.request(req { url = "https://app.example.com/api" })
      return e1, e2
    end)
    package.loaded["resty.http"] = nil
    assert.is_true(ok, tostring(tls_err))
    assert.equal("TransportError", tls_err.kind)
    assert.equal("config", tls_err.cause)
    assert.matches("TLS handshake with app.example.com:443 failed: 18: self-signed certificate", tls_err.message, 1, true)
    assert.matches("lua_ssl_trusted_certificate", tls_err.message, 1, true)
    assert.equal("network", tcp_err.cause)
    assert.matches("connect to app.example.com:443 failed: connection refused", tcp_err.message, 1, true)
  end)

  it("keeps its own client for a lua-resty-http too old for connect(options)", function()
    package.loaded["resty.http"] = { _VERSION = "0.15", new = function() error("not used") end }
    local t = with_ngx({ OK_CL })
    package.loaded["resty.http"] = nil
    assert.equal("cosocket", t.client)
    assert.equal(200, t.request(req()).status)
  end)

  it("does not resend when a pooled connection dies after the answer began", function()
    local t, ngx = with_ngx({ OK_CL, "HTTP/1.1 200 OK\r\nContent-Le", OK_CL })
    assert.equal(200, t.request(req()).status)
    local resp, err = t.request(req())
    assert.is_nil(resp)
    assert.equal("TransportError", err.kind)
    assert.equal(2, #ngx.sockets)
  end)
end)
