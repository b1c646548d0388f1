-- core.http: the libcurl client, driven against the raw TCP server.

local core = require "bulksync.core"
local raw = require "spec.support.rawserver"

-- A distinctive fake key: no message may ever contain it.
local KEY = "sk-FAKE-7f3c9e1d-NEVER-SHOW"
local AUTH = "Authorization: Bearer " .. KEY
local VERSION = "X-Polytomic-Version: 2025-09-18"

local function client(opts)
  opts = opts or {}
  opts.headers = opts.headers or { AUTH, VERSION }
  opts.timeout = opts.timeout or 5
  return core.http(opts)
end

local function start(steps, opts)
  local srv = raw.start(steps, opts)
  finally(function() srv:stop() end)
  return srv
end

local function json(body, extra)
  local headers = { "Content-Type: application/json" }
  for _, h in ipairs(extra or {}) do headers[#headers + 1] = h end
  return { status = 200, reason = "OK", headers = headers, body = body }
end

local free_port = require "spec.support.ports"

local function count(list, pred)
  local n = 0
  for _, x in ipairs(list) do if pred(x) then n = n + 1 end end
  return n
end

local function has_line(req, pattern)
  return count(req.lines, function(l) return l:lower():find(pattern) ~= nil end) > 0
end

describe("core.http", function()

  describe("a successful exchange", function()
    it("returns the status, lower-cased headers and the body", function()
      local srv = start{ json('{"id":"abc"}', { "X-Request-ID: r-1", "Vary: a", "vary: b" }) }
      local h = client()
      local status, headers, body = h:perform("GET", srv.url .. "/api/bulk/syncs/abc")
      assert.are.equal(200, status)
      assert.are.equal('{"id":"abc"}', body)
      assert.are.equal("application/json", headers["content-type"])
      assert.are.equal("r-1", headers["x-request-id"])
      assert.are.equal("12", headers["content-length"])
      assert.are.equal("a, b", headers["vary"])
      assert.is_nil(headers["Content-Type"])
      h:close()
    end)

    it("returns an empty string when there is no body", function()
      local srv = start{ { status = 204, reason = "No Content" } }
      local h = client()
      local status, headers, body = h:perform("DELETE", srv.url .. "/x")
      assert.are.equal(204, status)
      assert.are.equal("table", type(headers))
      assert.are.equal("", body)
    end)

    it("keeps only the final response's headers after an informational one", function()
      local srv = start{ { send = "HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n" ..
                                  "HTTP/1.1 200 OK\r\nX-Final: yes\r\nContent-Length: 2\r\n\r\n{}" } }
      local h = client()
      local status, headers, body = h:perform("GET", srv.url .. "/")
      assert.are.equal(200, status)
      assert.are.equal("yes", headers["x-final"])
      assert.is_nil(headers["link"])
      assert.are.equal("{}", body)
    end)

    it("returns non-2xx statuses as responses, not failures", function()
      local srv = start{ { status = 429, reason = "Too Many Requests",
                           headers = { "Retry-After: 3" }, body = "slow down" } }
      local h = client()
      local status, headers, body = h:perform("GET", srv.url .. "/")
      assert.are.equal(429, status)
      assert.are.equal("3", headers["retry-after"])
      assert.are.equal("slow down", body)
    end)
  end)

  describe("what goes on the wire", function()
    it("sends the method, path, static and extra headers and the body exactly", function()
      local srv = start{ json("{}") }
      local h = client()
      local payload = '{"name":"sync","active":true}'
      local status = h:perform("PUT", srv.url .. "/api/bulk/syncs/abc?x=1", payload,
                               { "Content-Type: application/json", "X-Extra: one" })
      assert.are.equal(200, status)
      local req = srv:requests()[1]
      assert.are.equal("PUT", req.method)
      assert.are.equal("/api/bulk/syncs/abc?x=1", req.target)
      assert.are.equal("HTTP/1.1", req.version)
      assert.are.equal("Bearer " .. KEY, req.headers["authorization"])
      assert.are.equal("2025-09-18", req.headers["x-polytomic-version"])
      assert.are.equal("one", req.headers["x-extra"])
      assert.are.equal("application/json", req.headers["content-type"])
      assert.are.equal(1, count(req.lines, function(l) return l:lower():find("^content%-type:") end))
      assert.are.equal(tostring(#payload), req.headers["content-length"])
      assert.is_nil(req.headers["expect"])
      assert.are.equal(payload, req.body)
    end)

    it("never asks for 100-continue, even for a large body", function()
      local srv = start{ json("{}") }
      local h = client()
      local payload = '"' .. string.rep("y", 2 * 1024 * 1024) .. '"'
      assert.are.equal(200, (h:perform("PUT", srv.url .. "/big", payload)))
      local req = srv:requests()[1]
      assert.is_nil(req.headers["expect"])
      assert.are.equal(tostring(#payload), req.headers["content-length"])
      assert.are.equal(payload, req.body)
    end)

    it("says JSON when a body is sent without a Content-Type", function()
      local srv = start{ json("{}"), json("{}") }
      local h = client()
      h:perform("POST", srv.url .. "/a", "{}")
      h:perform("PUT", srv.url .. "/b")
      local reqs = srv:requests()
      assert.are.equal("POST", reqs[1].method)
      assert.are.equal("application/json", reqs[1].headers["content-type"])
      -- A body-less PUT still says how long its (empty) body is, and is no form.
      assert.are.equal("PUT", reqs[2].method)
      assert.are.equal("0", reqs[2].headers["content-length"])
      assert.is_nil(reqs[2].headers["content-type"])
      assert.are.equal("", reqs[2].body)
    end)

    it("sends a real GET after a PUT, and the extra headers only once", function()
      local srv = start{ json("{}"), json("{}"), json("{}") }
      local h = client()
      h:perform("PUT", srv.url .. "/one", '{"a":1}', { "X-Once: 1" })
      h:perform("GET", srv.url .. "/two")
      h:perform("DELETE", srv.url .. "/three")
      local reqs = srv:requests()
      assert.are.equal(3, #reqs)
      assert.are.equal("GET", reqs[2].method)
      assert.are.equal("/two", reqs[2].target)
      assert.are.equal("", reqs[2].body)
      assert.is_false(has_line(reqs[2], "^content%-length:"))
      assert.is_false(has_line(reqs[2], "^content%-type:"))
      assert.is_nil(reqs[2].headers["x-once"])
      assert.are.equal("Bearer " .. KEY, reqs[2].headers["authorization"])
      assert.are.equal("DELETE", reqs[3].method)
      assert.is_false(has_line(reqs[3], "^content%-length:"))
      assert.are.equal("", reqs[3].body)
    end)

    it("reuses one connection for sequential requests", function()
      local srv = start{ json("{}"), json("{}"), json("{}") }
      local h = client()
      local connects = {}
      for i = 1, 3 do
        assert.are.equal(200, (h:perform("GET", srv.url .. "/" .. i)))
        connects[i] = h:info().connects
      end
      assert.are.same({ 1, 0, 0 }, connects)
      assert.are.equal(1, srv:connections())
      assert.are.equal(3, #srv:received())
      assert.are.equal(3, h:info().requests)
    end)

    it("gives back the memory of a large response and keeps working", function()
      local srv = start{ { status = 200, body_size = 3 * 1024 * 1024 }, json("{}") }
      local h = client{ max_response_size = 4 * 1024 * 1024 }
      local status, _, body = h:perform("GET", srv.url .. "/big")
      assert.are.equal(200, status)
      assert.are.equal(3 * 1024 * 1024, #body)
      status, _, body = h:perform("GET", srv.url .. "/small")
      assert.are.equal(200, status)
      assert.are.equal("{}", body)
    end)
  end)

  describe("failures", function()
    local messages   -- every failure message, checked for the key at the end

    before_each(function() messages = {} end)
    after_each(function()
      for _, m in ipairs(messages) do
        assert.is_nil(m:find(KEY, 1, true))
        assert.is_nil(m:find("Bearer", 1, true))
      end
    end)

    local function fail(h, ...)
      local status, kind, message, code = h:perform(...)
      assert.is_nil(status)
      assert.are.equal("string", type(message))
      assert.are.equal("number", type(code))
      messages[#messages + 1] = message
      return kind, message, code
    end

    it("reports a refused connection as a TransportError", function()
      local h = client()
      local kind, message = fail(h, "GET", "http://127.0.0.1:" .. free_port() .. "/")
      assert.are.equal("TransportError", kind)
      assert.is_truthy(message:lower():find("connect"))
    end)

    it("reports headers that never come as a TimeoutError", function()
      local srv = start{ { hang = true } }
      local h = client{ timeout = 0.5 }
      local kind, _, code = fail(h, "GET", srv.url .. "/")
      assert.are.equal("TimeoutError", kind)
      assert.are.equal(28, code)   -- CURLE_OPERATION_TIMEDOUT
    end)

    it("reports a body dripping past the timeout as a TimeoutError", function()
      local srv = start{ { send = "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n",
                           drip = string.rep("x", 50), interval = 0.2 } }
      local h = client{ timeout = 0.5 }
      assert.are.equal("TimeoutError", (fail(h, "GET", srv.url .. "/")))
    end)

    it("refuses a response larger than max_response_size (Content-Length known)", function()
      local srv = start{ { status = 200, body_size = 200000 } }
      local h = client{ max_response_size = 1000 }
      local kind, message = fail(h, "GET", srv.url .. "/")
      assert.are.equal("TransportError", kind)
      assert.are.equal("response larger than max_response_size (1000 bytes)", message)
    end)

    it("aborts a chunked response once it passes max_response_size", function()
      local srv = start{ { status = 200, body_size = 20 * 1024 * 1024, chunked = true }, json("{}") }
      local h = client{ max_response_size = 100000 }
      local kind, message = fail(h, "GET", srv.url .. "/")
      assert.are.equal("TransportError", kind)
      assert.are.equal("response larger than max_response_size (100000 bytes)", message)
      -- The client is still usable afterwards.
      assert.are.equal(200, (h:perform("GET", srv.url .. "/after")))
    end)

    it("reports a reset in the middle of the body as a TransportError", function()
      local srv = start{ { send = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial", reset = true } }
      local h = client()
      assert.are.equal("TransportError", (fail(h, "GET", srv.url .. "/")))
    end)

    it("reports a connection closed in the middle of the body as a TransportError", function()
      local srv = start{ { status = 200, body = string.rep("x", 100), close_after_headers = true } }
      local h = client()
      assert.are.equal("TransportError", (fail(h, "GET", srv.url .. "/")))
    end)

    it("reports a connection closed before the status line as a TransportError", function()
      local srv = start{ { close = true } }
      local h = client()
      assert.are.equal("TransportError", (fail(h, "GET", srv.url .. "/")))
    end)

    it("reports a garbage status line as a TransportError", function()
      local srv = start{ { send = "SPDY/9 what is this\r\n\r\n", close = true } }
      local h = client()
      assert.are.equal("TransportError", (fail(h, "GET", srv.url .. "/")))
    end)

    it("refuses protocols other than http and https", function()
      local h = client()
      assert.are.equal("TransportError", (fail(h, "GET", "file:///etc/passwd")))
    end)

    it("does not follow redirects", function()
      local srv = start{ { status = 302, reason = "Found", headers = { "Location: /elsewhere" } } }
      local h = client()
      local status, headers = h:perform("GET", srv.url .. "/")
      assert.are.equal(302, status)
      assert.are.equal("/elsewhere", headers["location"])
      assert.are.equal(1, #srv:received())
    end)

  end)

  -- A real TLS server (openssl s_server) with a self-signed certificate:
  -- verification must reject it, and trust it only through ca_file.
  describe("TLS", function()
    local tls = require "spec.support.tls"
    local server, cert, pid, port

    setup(function()
      if not tls.available() then return end
      server = tls.serve()
      cert, pid, port = server.cert, server.pid, server.port
    end)

    teardown(function()
      if server then server:stop() end
    end)

    it("rejects a certificate it cannot verify, naming the problem", function()
      if not pid then return pending("openssl is not installed") end
      local h = client()
      local status, kind, message = h:perform("GET", "https://127.0.0.1:" .. port .. "/")
      h:close()
      assert.is_nil(status)
      assert.are.equal("TransportError", kind)
      assert.is_truthy(message:lower():find("certificate"))
      assert.is_nil(message:find(KEY, 1, true))
    end)

    it("trusts the certificate given as ca_file", function()
      if not pid then return pending("openssl is not installed") end
      local h = client{ ca_file = cert }
      local status, _, body = h:perform("GET", "https://127.0.0.1:" .. port .. "/")
      h:close()
      assert.are.equal(200, status)
      assert.are.equal("string", type(body))
    end)
  end)

  describe("lifecycle", function()
    it("closes idempotently and refuses methods afterwards", function()
      local h = client()
      assert.is_truthy(tostring(h):find("^bulksync%.http %("))
      h:close()
      h:close()
      assert.are.equal("bulksync.http (closed)", tostring(h))
      assert.has_error(function() h:perform("GET", "http://127.0.0.1:1/") end, "bulksync: client is closed")
      assert.has_error(function() h:info() end, "bulksync: client is closed")
    end)

    it("never shows the headers in tostring", function()
      local h = client()
      assert.is_nil(tostring(h):find(KEY, 1, true))
      h:close()
    end)

    it("is released by the garbage collector without a close", function()
      local h = client()
      local weak = setmetatable({ h }, { __mode = "v" })
      h = nil
      collectgarbage()
      collectgarbage()
      assert.is_nil(weak[1])
    end)

    if _VERSION == "Lua 5.4" then
      -- Building the results allocates, which may run finalizers; one that
      -- closes the client must not free the buffers being read (valgrind
      -- and ASan runs of this spec catch it if it does).
      it("survives a finalizer closing it while the results are built", function()
        local lines = {}
        for i = 1, 200 do lines[i] = "X-H" .. i .. ": value-" .. i end
        local srv = start{ { status = 200, headers = lines, body = string.rep("b", 5000) } }
        local h = client()
        local url = srv.url .. "/"
        local inside, ran_inside = false, false
        collectgarbage("collect")
        collectgarbage("stop")
        for _ = 1, 50 do
          setmetatable({}, { __gc = function()
            if inside then ran_inside = true end
            h:close()
            pcall(h.perform, h, "GET", url)
          end })
        end
        collectgarbage("incremental", 1, 1000)   -- a new cycle at almost every allocation
        collectgarbage("restart")
        inside = true
        local ok, status, headers, body = pcall(h.perform, h, "GET", url)
        inside = false
        collectgarbage("incremental", 200, 100)
        collectgarbage("collect")
        assert.is_true(ok)
        assert.is_true(ran_inside)
        assert.are.equal(200, status)
        assert.are.equal("value-1", headers["x-h1"])
        assert.are.equal("value-200", headers["x-h200"])
        assert.are.equal(5000, #body)
        assert.are.equal("bulksync.http (closed)", tostring(h))
      end)

      it("closes as a to-be-closed variable", function()
        local chunk = assert(load([[
          local core = ...
          local keep
          do
            local h <close> = core.http{}
            keep = h
          end
          return keep
        ]]))
        local h = chunk(core)
        assert.are.equal("bulksync.http (closed)", tostring(h))
      end)
    end
  end)

  describe("options", function()
    local function creation_error(opts)
      local ok, err = pcall(core.http, opts)
      assert.is_false(ok)
      err = tostring(err)
      assert.is_nil(err:find(KEY, 1, true))
      return err
    end

    it("refuses a header line with CR or LF at creation, without echoing it", function()
      local err = creation_error{ headers = { VERSION, "Authorization: Bearer " .. KEY .. "\r\nX-Injected: 1" } }
      assert.is_truthy(err:find("header value contains CR or LF", 1, true))
      err = creation_error{ headers = { "X-A: " .. KEY .. "\n" } }
      assert.is_truthy(err:find("header value contains CR or LF", 1, true))
    end)

    it("refuses a CR or LF in extra header lines, without echoing them", function()
      local h = client()
      local ok, err = pcall(h.perform, h, "GET", "http://127.0.0.1:1/", nil, { "X-K: " .. KEY .. "\r\n" })
      assert.is_false(ok)
      assert.is_truthy(tostring(err):find("header value contains CR or LF", 1, true))
      assert.is_nil(tostring(err):find(KEY, 1, true))
      h:close()
    end)

    it("refuses lines that are not headers and values of the wrong type", function()
      assert.is_truthy(creation_error{ headers = { KEY } }:find("Name: value", 1, true))
      assert.is_truthy(creation_error{ headers = { 42 } }:find("must be a string", 1, true))
      assert.is_truthy(creation_error{ headers = AUTH }:find("list of header lines", 1, true))
      assert.is_truthy(creation_error{ timeout = "60" }:find("timeout", 1, true))
      assert.is_truthy(creation_error{ timeout = 0 }:find("timeout", 1, true))
      assert.is_truthy(creation_error{ connect_timeout = -1 }:find("connect_timeout", 1, true))
      assert.is_truthy(creation_error{ max_response_size = 0 }:find("max_response_size", 1, true))
      assert.is_truthy(creation_error{ max_response_size = 1.5 }:find("max_response_size", 1, true))
      assert.is_truthy(creation_error{ ca_file = true }:find("ca_file", 1, true))
      assert.is_truthy(creation_error{ verify = false }:find("unknown option verify", 1, true))
      local err = creation_error{ [AUTH] = true }
      assert.is_truthy(err:find("unknown option", 1, true))
      assert.is_nil(err:find("Bearer", 1, true))
    end)

    it("refuses unsupported methods and a body on GET", function()
      local h = client()
      assert.has_error(function() h:perform("TRACE", "http://127.0.0.1:1/") end)
      assert.has_error(function() h:perform("GET", "http://127.0.0.1:1/", "{}") end)
      h:close()
    end)

    it("uses ca_file for verification (a missing file fails the TLS request)", function()
      local srv = start{ { close = true } }
      local h = client{ ca_file = "/nonexistent/ca.pem" }
      local status, kind = h:perform("GET", "https://127.0.0.1:" .. srv.port .. "/")
      assert.is_nil(status)
      assert.are.equal("TransportError", kind)
      h:close()
    end)

    it("works with no options at all", function()
      local srv = start{ json("{}") }
      local h = core.http()
      assert.are.equal(200, (h:perform("GET", srv.url .. "/")))
      h:close()
    end)
  end)
end)
