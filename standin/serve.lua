-- The stand-in's server: option parsing and the serve loop, as a module so
-- that standin/server.lua (the script the specs and the demo run) and the
-- `bulksync standin` command share it.
--
--   local serve = require "standin.serve"   -- or bulksync.standin.serve, installed
--   os.exit(serve.run(arg, hooks))           -- the exit status: 0, 1, or 2 for bad usage
--
-- hooks (optional): setup(app) runs once the app exists, before listening
-- (to seed it); listening(port) replaces the "standin listening on" line.
--
--   lua5.4 standin/server.lua [--port N] [--port-file PATH] [--api-key KEY]
--                             [--org-id ORG] [--watch-pid PID] [--quiet]
--
-- Listens on 127.0.0.1 only. --port 0 (the default) picks a free port; the
-- port is written to --port-file (atomically, once listening) and printed
-- unless --quiet. Auth: "Bearer KEY" or "Basic base64(ORG:KEY)"; defaults are
-- in standin/seed.lua. --watch-pid makes the server exit when that process is
-- gone, so a crashed test run cannot leave it behind.
--
-- Stopping: SIGTERM ends the process (the default action; nothing to clean up
-- but the port file, which belongs to the caller). SIGINT ends it cleanly within
-- a quarter second. POST /_standin/shutdown also ends it.
--
-- One thread: each TCP connection is a coroutine that yields whenever it would
-- block (read, write, or a configured response delay) and socket.select wakes
-- it, so a slow response never holds up other connections. HTTP/1.1 keep-alive,
-- pipelining, Content-Length and chunked request bodies, Expect: 100-continue.
--
-- The control API under /_standin/ (no auth) is documented in standin/README.md.

local prefix = (...):match("^(.-)[^.]*$")
local socket = require "socket"
local json = require(prefix .. "json")
local api = require(prefix .. "api")

local M = {}

-- A usage error or --help, unwinding out of the option parsing.
local Usage = {}
local function USAGE(code) return setmetatable({ code = code }, Usage) end

local function run(arg, hooks)
  local A = json.array

  ---------------------------------------------------------------- options

  local function usage(msg)
    io.stderr:write((msg and ("standin: " .. msg .. "\n") or ""),
      "usage: lua5.4 standin/server.lua [--port N] [--port-file PATH] [--api-key KEY]",
      " [--org-id ORG] [--watch-pid PID] [--quiet]\n")
    error(USAGE(msg and 2 or 0), 0)
  end

  local opts = { port = 0, quiet = false }
  do
    local i = 1
    while arg[i] do
      local a = arg[i]
      local function value()
        i = i + 1
        if arg[i] == nil then usage(a .. " needs a value") end
        return arg[i]
      end
      if a == "--port" then opts.port = tonumber(value()) or usage("--port needs a number")
      elseif a == "--port-file" then opts.port_file = value()
      elseif a == "--api-key" then opts.api_key = value()
      elseif a == "--org-id" then opts.org_id = value()
      elseif a == "--watch-pid" then opts.watch_pid = tonumber(value()) or usage("--watch-pid needs a number")
      elseif a == "--quiet" then opts.quiet = true
      elseif a == "--help" or a == "-h" then usage()
      else usage("unknown argument " .. a) end
      i = i + 1
    end
  end

  local function log(fmt, ...)
    if not opts.quiet then io.stderr:write("standin: ", string.format(fmt, ...), "\n") end
  end

  math.randomseed(os.time(), math.floor(socket.gettime() * 1e6) % 2^31)

  local app = api.new { api_key = opts.api_key, org_id = opts.org_id }
  if hooks.setup then hooks.setup(app) end

  ---------------------------------------------------------------- shared state

  local IDLE_TIMEOUT = 120    -- seconds a keep-alive connection may sit idle
  local WRITE_TIMEOUT = 30
  local MAX_HEAD = 64 * 1024
  local TICK = 0.25           -- longest select wait, so SIGINT is noticed quickly

  local state = {
    requests = A {},  -- API requests since reset
    script = {},      -- queued scripted responses
    delay = 0,        -- seconds added before every API response
    epoch = 1,        -- bumped on reset; connections from older epochs are not counted
    accepted = 0,     -- API connections accepted in this epoch
    next_id = 0,
    stopping = false,
  }

  local function reset()
    app:reset()
    state.requests = A {}
    state.script = {}
    state.delay = 0
    state.epoch = state.epoch + 1
    state.accepted = 0
  end

  ---------------------------------------------------------------- connection I/O
  -- These run inside a connection's coroutine.

  local function fill(c)
    while true do
      local data, err, partial = c.sock:receive(65536)
      local got = data or partial
      if got and #got > 0 then
        c.buf = c.buf .. got
        return true
      end
      if err ~= "timeout" then return false end
      if coroutine.yield("read", socket.gettime() + IDLE_TIMEOUT) == "timeout" then return false end
    end
  end

  local function read_until(c, delim, limit)
    while true do
      local i, j = c.buf:find(delim, 1, true)
      if i then
        local s = c.buf:sub(1, i - 1)
        c.buf = c.buf:sub(j + 1)
        return s
      end
      if #c.buf > limit then return nil, "too large" end
      if not fill(c) then return nil, "closed" end
    end
  end

  local function read_n(c, n)
    while #c.buf < n do
      if not fill(c) then return nil end
    end
    local s = c.buf:sub(1, n)
    c.buf = c.buf:sub(n + 1)
    return s
  end

  local function send_all(c, data)
    local i = 1
    while i <= #data do
      local last, err, partial = c.sock:send(data, i)
      if last then
        i = last + 1
      elseif err == "timeout" then
        i = partial + 1
        if i <= #data and coroutine.yield("write", socket.gettime() + WRITE_TIMEOUT) == "timeout" then
          return false
        end
      else
        return false
      end
    end
    return true
  end

  local function sleep(seconds)
    if seconds and seconds > 0 then coroutine.yield("sleep", socket.gettime() + seconds) end
  end

  ---------------------------------------------------------------- HTTP

  local REASONS = {
    [100] = "Continue", [200] = "OK", [201] = "Created", [204] = "No Content",
    [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
    [405] = "Method Not Allowed", [408] = "Request Timeout", [409] = "Conflict",
    [413] = "Payload Too Large", [422] = "Unprocessable Entity", [429] = "Too Many Requests",
    [500] = "Internal Server Error", [502] = "Bad Gateway", [503] = "Service Unavailable",
    [504] = "Gateway Timeout",
  }

  -- Returns the request, or nil and "closed" / an error text for a 400.
  local function read_request(c)
    -- Tolerate stray CRLFs between requests (RFC 9112 2.2).
    while true do
      local s = c.buf:match("^\r?\n")
      if s then
        c.buf = c.buf:sub(#s + 1)
      elseif c.buf == "" then
        if not fill(c) then return nil, "closed" end
      else
        break
      end
    end
    local head, err = read_until(c, "\r\n\r\n", MAX_HEAD)
    if not head then return nil, err == "too large" and "request head too large" or "closed" end
    local line, rest = head:match("^([^\r\n]*)\r?\n?(.*)$")
    local method, target, proto = line:match("^(%u+) (%S+) HTTP/(%d%.%d)$")
    if not method then return nil, "malformed request line" end
    local headers = {}
    for hl in (rest .. "\r\n"):gmatch("(.-)\r\n") do
      if hl ~= "" then
        local name, value = hl:match("^([^:%s]+):%s*(.-)%s*$")
        if not name then return nil, "malformed header line" end
        name = name:lower()
        headers[name] = headers[name] and (headers[name] .. ", " .. value) or value
      end
    end
    local path, query = target:match("^([^?]*)%??(.*)$")
    local req = { method = method, path = path, query = query, headers = headers, proto = proto }

    local te = (headers["transfer-encoding"] or ""):lower()
    local chunked = te:find("chunked", 1, true) ~= nil
    local length = headers["content-length"]
    if length and not length:match("^%d+$") then return nil, "bad Content-Length" end
    length = tonumber(length)
    if (chunked or (length or 0) > 0) and (headers["expect"] or ""):lower() == "100-continue"
        and proto == "1.1" then
      if not send_all(c, "HTTP/1.1 100 Continue\r\n\r\n") then return nil, "closed" end
    end

    if chunked then
      local parts = {}
      while true do
        local size_line = read_until(c, "\r\n", 1024)
        if not size_line then return nil, "closed" end
        local size = tonumber(size_line:match("^%s*(%x+)") or "", 16)
        if not size then return nil, "malformed chunk size" end
        if size == 0 then
          -- Trailer fields, ended by an empty line; ignored.
          repeat
            local trailer = read_until(c, "\r\n", MAX_HEAD)
            if not trailer then return nil, "closed" end
          until trailer == ""
          break
        end
        local data = read_n(c, size)
        if not data or read_n(c, 2) ~= "\r\n" then return nil, "closed" end
        parts[#parts + 1] = data
      end
      req.body = table.concat(parts)
    elseif length then
      req.body = read_n(c, length)
      if not req.body then return nil, "closed" end
    else
      req.body = ""
    end
    return req
  end

  local function wants_keep_alive(req)
    local conn = (req.headers["connection"] or ""):lower()
    if conn:find("close", 1, true) then return false end
    if req.proto == "1.0" then return conn:find("keep-alive", 1, true) ~= nil end
    return true
  end

  -- headers: list of {name, value}; a later name replaces an earlier one.
  local function set_header(list, name, value)
    local lname = name:lower()
    for _, h in ipairs(list) do
      if h[1]:lower() == lname then
        h[1], h[2] = name, value
        return
      end
    end
    list[#list + 1] = { name, value }
  end

  local function send_response(c, req, status, headers, body, keep)
    local out = { string.format("HTTP/1.1 %d %s\r\n", status, REASONS[status] or "Status") }
    set_header(headers, "Content-Length", tostring(#body))
    if not keep then
      set_header(headers, "Connection", "close")
    elseif req and req.proto == "1.0" then
      set_header(headers, "Connection", "keep-alive")
    end
    for _, h in ipairs(headers) do out[#out + 1] = h[1] .. ": " .. h[2] .. "\r\n" end
    out[#out + 1] = "\r\n"
    out[#out + 1] = body
    return send_all(c, table.concat(out))
  end

  local function json_headers(extra)
    local h = { { "Content-Type", "application/json" } }
    for _, x in ipairs(extra or {}) do set_header(h, x[1], x[2]) end
    return h
  end

  ---------------------------------------------------------------- control API

  local function control_error(status, msg)
    return status, { error = msg }
  end

  local function decode_object(body)
    local v, err = json.decode(body ~= "" and body or "{}")
    if v == nil then return nil, "invalid JSON: " .. err end
    if not json.is_object(v) then return nil, "body must be a JSON object" end
    return v
  end

  local function parse_script(body)
    local v, err = decode_object(body)
    if not v then return nil, err end
    if not json.is_array(v.responses) then return nil, "'responses' must be an array" end
    local list = {}
    for i, r in ipairs(v.responses) do
      local where = "responses[" .. (i - 1) .. "]"
      if not json.is_object(r) then return nil, where .. " must be an object" end
      for k in pairs(r) do
        if k ~= "status" and k ~= "body" and k ~= "headers" and k ~= "delay" and k ~= "drop" then
          return nil, where .. " has unknown key '" .. k .. "'"
        end
      end
      local status = r.status or 200
      if math.type(status) ~= "integer" or status < 100 or status > 599 then
        return nil, where .. ".status must be an integer HTTP status"
      end
      local item = { status = status, headers = {}, delay = r.delay, drop = r.drop == true }
      if r.body == nil or r.body == json.null then
        item.body = ""
      elseif type(r.body) == "string" then
        item.body = r.body
      else
        item.body = json.encode(r.body)
      end
      if r.headers ~= nil then
        if not json.is_object(r.headers) then return nil, where .. ".headers must be an object" end
        for name, value in pairs(r.headers) do
          if type(value) ~= "string" and type(value) ~= "number" then
            return nil, where .. ".headers values must be strings"
          end
          item.headers[#item.headers + 1] = { name, tostring(value) }
        end
        table.sort(item.headers, function(a, b) return a[1] < b[1] end)
      end
      if item.delay ~= nil and (type(item.delay) ~= "number" or item.delay < 0) then
        return nil, where .. ".delay must be a number of seconds >= 0"
      end
      list[i] = item
    end
    return list
  end

  -- Returns status, body table.
  local function control(req)
    local m, path = req.method, req.path:gsub("(.)/$", "%1")
    if path == "/_standin/requests" and m == "GET" then
      return 200, state.requests
    elseif path == "/_standin/connections" and m == "GET" then
      return 200, { accepted = state.accepted }
    elseif path == "/_standin/reset" and m == "POST" then
      reset()
      return 200, { ok = true }
    elseif path == "/_standin/script" and m == "POST" then
      local list, err = parse_script(req.body)
      if not list then return control_error(400, err) end
      state.script = list
      return 200, { ok = true, queued = #list }
    elseif path == "/_standin/config" and (m == "POST" or m == "GET") then
      if m == "POST" then
        local v, err = decode_object(req.body)
        if not v then return control_error(400, err) end
        for k, x in pairs(v) do
          if k == "delay" then
            if type(x) ~= "number" or x < 0 then return control_error(400, "delay must be a number >= 0") end
          else
            local why = api.check_config(k, x)
            if why then return control_error(400, why) end
          end
        end
        for k, x in pairs(v) do
          if k == "delay" then state.delay = x else app.config[k] = x end
        end
      end
      local cur = { delay = state.delay }
      for k, x in pairs(app.config) do cur[k] = x end
      return 200, cur
    elseif path == "/_standin/seed_many" and m == "POST" then
      local v, err = decode_object(req.body)
      if not v then return control_error(400, err) end
      for k in pairs(v) do
        if k ~= "count" and k ~= "replace" then return control_error(400, "unknown seed_many key '" .. k .. "'") end
      end
      local n = v.count
      if math.type(n) ~= "integer" or n < 0 or n > 10000 then
        return control_error(400, "count must be an integer from 0 to 10000")
      end
      if v.replace ~= nil and type(v.replace) ~= "boolean" then
        return control_error(400, "replace must be true or false")
      end
      return 200, { syncs = app:seed_many(n, v.replace == true) }
    elseif path:match("^/_standin/state/[^/]+$") and m == "GET" then
      local st = app:state(path:match("([^/]+)$"))
      if not st then return control_error(404, "no such sync") end
      return 200, st
    elseif path == "/_standin/shutdown" and m == "POST" then
      state.shutdown_requested = true
      return 200, { ok = true }
    end
    return control_error(404, "no such control endpoint: " .. m .. " " .. path)
  end

  ---------------------------------------------------------------- serving

  -- Connection counting: every accepted connection counts until its first
  -- request turns out to be a control request; one that later carries an API
  -- request counts again. So `accepted` is the number of TCP connections the
  -- API side saw since the last reset, and a test's own control calls (each on
  -- a fresh connection) do not disturb it.
  local function classify(c, is_control)
    if c.epoch ~= state.epoch then return end
    if is_control then
      if c.kind == nil then
        c.kind = "control"
        state.accepted = state.accepted - 1
      end
    elseif c.kind ~= "api" then
      if c.kind == "control" then state.accepted = state.accepted + 1 end
      c.kind = "api"
    end
  end

  local function api_response(req)
    local ok, status, body, version = pcall(app.handle, app, req)
    if not ok then
      log("internal error: %s", tostring(status))
      return 500, json_headers { { "X-Polytomic-Version", api.default_version } },
        json.encode { key = "internal_error", message = "stand-in internal error", metadata = {}, status = 500 }
    end
    -- A nil body is an answer without content (DELETE's 200).
    if body == nil then return status, { { "X-Polytomic-Version", version } }, "" end
    return status, json_headers { { "X-Polytomic-Version", version } }, json.encode(body)
  end

  local function scripted_response(req, item)
    local version = req.headers["x-polytomic-version"]
    if version == nil or version == "" then version = api.default_version end
    local ctype = json.decode(item.body) ~= nil and "application/json" or "text/plain; charset=utf-8"
    local headers = { { "Content-Type", ctype }, { "X-Polytomic-Version", version } }
    for _, h in ipairs(item.headers) do set_header(headers, h[1], h[2]) end
    return item.status, headers, item.body
  end

  local function serve(c)
    while true do
      local req, err = read_request(c)
      if not req then
        if err ~= "closed" then
          send_response(c, nil, 400, { { "Content-Type", "text/plain; charset=utf-8" } }, err .. "\n", false)
        end
        return
      end
      local keep = wants_keep_alive(req)
      local status, headers, body
      if req.path:sub(1, 10) == "/_standin/" then
        classify(c, true)
        local s, b = control(req)
        status, headers, body = s, json_headers(), json.encode(b)
        if state.shutdown_requested then keep = false end
      else
        classify(c, false)
        state.requests[#state.requests + 1] = {
          method = req.method, path = req.path, query = req.query,
          headers = req.headers, body = req.body, connection = c.id,
        }
        local item = table.remove(state.script, 1)
        local delay = state.delay
        if item then
          if item.delay then delay = item.delay end
          if item.drop then
            sleep(delay)
            log("%s %s -> (dropped)", req.method, req.path)
            return
          end
          status, headers, body = scripted_response(req, item)
        else
          status, headers, body = api_response(req)
        end
        sleep(delay)
      end
      log("%s %s -> %d", req.method, req.path, status)
      local sent = send_response(c, req, status, headers, body, keep)
      -- Stop only once the shutdown reply is out.
      if state.shutdown_requested then state.stopping = true end
      if not sent or not keep then return end
    end
  end

  ---------------------------------------------------------------- main loop

  local server = assert(socket.tcp4())
  assert(server:setoption("reuseaddr", true))
  local ok, err = server:bind("127.0.0.1", opts.port)
  if not ok then
    io.stderr:write("standin: cannot listen on 127.0.0.1:", opts.port, ": ", tostring(err), "\n")
    return 1
  end
  assert(server:listen(128))
  server:settimeout(0)
  local _, port = server:getsockname()
  port = tonumber(port)

  if opts.port_file then
    local tmp = opts.port_file .. ".tmp"
    local f = assert(io.open(tmp, "w"))
    f:write(port, "\n")
    f:close()
    assert(os.rename(tmp, opts.port_file))
  end
  if hooks.listening then
    hooks.listening(port)
  elseif not opts.quiet then
    io.stdout:write("standin listening on http://127.0.0.1:", port, "\n")
    io.stdout:flush()
  end

  local conns = {}

  local function close(c)
    c.sock:close()
    conns[c] = nil
  end

  local function resume(c, ...)
    local okr, kind, deadline = coroutine.resume(c.co, ...)
    if not okr then
      log("connection %d failed: %s", c.id, tostring(kind))
      close(c)
    elseif coroutine.status(c.co) == "dead" then
      close(c)
    else
      c.wait, c.deadline = kind, deadline
    end
  end

  local function accept_all()
    while true do
      local sock = server:accept()
      if not sock then return end
      sock:settimeout(0)
      sock:setoption("tcp-nodelay", true)
      state.next_id = state.next_id + 1
      state.accepted = state.accepted + 1
      local c = { sock = sock, id = state.next_id, epoch = state.epoch, buf = "" }
      c.co = coroutine.create(serve)
      conns[c] = true
      resume(c, c)
    end
  end

  local watch_ok = opts.watch_pid and io.open("/proc/self/stat") ~= nil
  local next_watch = 0

  local function parent_gone()
    if not watch_ok then return false end
    local now = socket.gettime()
    if now < next_watch then return false end
    next_watch = now + 1
    local f = io.open("/proc/" .. opts.watch_pid .. "/stat")
    if not f then return true end
    local stat = f:read("a") or ""
    f:close()
    -- A zombie has exited too.
    return stat:match("^%d+ %b() Z") ~= nil
  end

  local function loop()
    while not state.stopping and not parent_gone() do
      local recvt, sendt = { server }, {}
      local now = socket.gettime()
      local timeout = TICK
      for c in pairs(conns) do
        if c.wait == "read" then
          recvt[#recvt + 1] = c.sock
        elseif c.wait == "write" then
          sendt[#sendt + 1] = c.sock
        end
        if c.deadline then timeout = math.min(timeout, math.max(0, c.deadline - now)) end
      end
      local r, w = socket.select(recvt, sendt, timeout)
      if r[server] then accept_all() end
      now = socket.gettime()
      local ready = {}
      for c in pairs(conns) do ready[#ready + 1] = c end
      table.sort(ready, function(a, b) return a.id < b.id end)
      for _, c in ipairs(ready) do
        if conns[c] then
          if (c.wait == "read" and r[c.sock]) or (c.wait == "write" and w[c.sock]) then
            resume(c, "ready")
          elseif c.deadline and now >= c.deadline then
            resume(c, "timeout")
          end
        end
      end
    end
  end

  local okl, lerr = pcall(loop)
  for c in pairs(conns) do c.sock:close() end
  server:close()
  if not okl and not tostring(lerr):find("interrupted", 1, true) then
    io.stderr:write("standin: ", tostring(lerr), "\n")
    return 1
  end
  return 0
end

function M.run(argv, hooks)
  local ok, code = pcall(run, argv or {}, hooks or {})
  if ok then return code end
  if getmetatable(code) == Usage then return code.code end
  error(code, 0)
end

return M
