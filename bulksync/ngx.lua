-- bulksync.ngx: the OpenResty transport.
--
-- Inside nginx a blocking libcurl call would stall every request on the
-- worker, so the exchange goes through cosockets (ngx.socket.tcp), which
-- yield to the event loop while they wait. lua-resty-http is used when it
-- is installed; otherwise a small HTTP/1.1 client below speaks to the
-- socket directly.
--
--   local t = require("bulksync.ngx").new(config)
--   local resp, err = t.request(req)
--
-- config, req, resp and err are the ones described in bulksync/curl.lua,
-- the libcurl transport; err carries a `cause` for bulksync.retry. Timeouts: connect_timeout bounds the connect (and TLS
-- handshake); timeout bounds the whole exchange, so a server that trickles
-- bytes cannot hold a request longer than that. A timeout of 0 falls back
-- to nginx's lua_socket_*_timeout settings.
--
-- TLS is always verified against lua_ssl_trusted_certificate: cosockets
-- take their CA list from nginx, not per socket, so config.ca_file is not
-- used here. Host names need a `resolver` directive. Idle connections go
-- back to the worker's keep-alive pool (lua_socket_keepalive_timeout,
-- lua_socket_pool_size), one pool per host, port and scheme.
--
-- Runs on LuaJIT (the Lua 5.1 language): no goto, no integer division.

local type, pairs, ipairs, tostring, tonumber, pcall, require = type, pairs, ipairs, tostring, tonumber,
  pcall, require
local setmetatable, rawget, error, _G = setmetatable, rawget, error, _G
local concat, sort = table.concat, table.sort
local find, lower, match, gmatch, gsub, format = string.find, string.lower, string.match,
  string.gmatch, string.gsub, string.format
local floor = math.floor

local M = {}

local READ_CHUNK = 65536

-- cause says what went wrong, for bulksync.retry to decide on: "timeout",
-- "network" (the connection failed or broke), "protocol" (an answer that
-- breaks HTTP or the size limit) or "config" (TLS verification, a bad URL
-- or header, a phase that cannot yield, no resolver).
local function terror(kind, message, cause)
  return nil, { kind = kind, message = message, cause = cause }
end

-- Socket errors are short strings ("timeout", "closed", "connection
-- refused"); only a timeout has its own kind.
local function socket_error(what, err)
  if err == "timeout" then
    return terror("TimeoutError", what .. " timed out", "timeout")
  end
  local cause = find(tostring(err), "no resolver defined", 1, true) and "config" or "network"
  return terror("TransportError", what .. " failed: " .. tostring(err), cause)
end

-- scheme://host[:port][/path]. Brackets stay on an IPv6 literal for
-- connect() and come off for the TLS server name.
local function parse_url(url)
  local scheme, authority, path = match(url, "^(%a[%w+.-]*)://([^/?#]*)(.*)$")
  if not scheme then return nil end
  scheme = lower(scheme)
  if scheme ~= "http" and scheme ~= "https" then return nil end
  local host, port = match(authority, "^(%[[^%]]+%]):?(%d*)$")
  if not host then host, port = match(authority, "^([^:]+):?(%d*)$") end
  if not host or host == "" then return nil end
  local tls = scheme == "https"
  local default_port = tls and 443 or 80
  port = tonumber(port) or default_port
  if path == "" then path = "/" end
  local host_header = host
  if port ~= default_port then host_header = host .. ":" .. port end
  return {
    tls = tls, host = host, port = port, path = path, host_header = host_header,
    server_name = (gsub(host, "^%[(.*)%]$", "%1")),
  }
end

-- A failed verification is a refusal on principle: not retried.
local function tls_refused(t, where, err)
  return terror("TransportError", "TLS handshake with " .. where .. " failed: " .. tostring(err) ..
    " (certificates are checked against lua_ssl_trusted_certificate" ..
    (t.config.ca_file and "; ca_file is not used inside OpenResty" or "") .. ")", "config")
end

-- lua-resty-http connects and shakes hands in one call, so its error is
-- told apart by text: the cosocket's handshake errors are "handshake
-- failed", "certificate host mismatch" or "N: <verification result>";
-- no TCP connect error reads like those.
local function is_tls_failure(err)
  err = tostring(err)
  return err == "handshake failed" or find(err, "certificate", 1, true) ~= nil or match(err, "^%d+: ") ~= nil
end

local function ms(seconds)
  if type(seconds) ~= "number" or seconds <= 0 then return 0 end
  local v = floor(seconds * 1000 + 0.5)
  if v < 1 then v = 1 end
  return v
end

local function has_crlf(s)
  return find(s, "[\r\n]") ~= nil
end

-- Headers of one request: the client's, then Host and Content-Length,
-- which belong to the transport. Returns nil, name on a CR or LF in a
-- value (the transport is an extension point; the value is never echoed:
-- it may be the key).
local OWN = { host = true, ["content-length"] = true, ["transfer-encoding"] = true, connection = true }

local function request_headers(req)
  local out = {}
  for name, value in pairs(req.headers or {}) do
    if type(name) ~= "string" or type(value) ~= "string" or has_crlf(name) or has_crlf(value)
        or find(name, "[:%s]") then
      return nil, tostring(name)
    end
    if not OWN[lower(name)] then out[#out + 1] = { name, value } end
  end
  sort(out, function(a, b) return a[1] < b[1] end)
  return out
end

------------------------------------------------------------------------
-- HTTP/1.1 over ngx.socket.tcp
------------------------------------------------------------------------

-- Adds one header line to a table of lower-case name -> value; repeats
-- are joined with ", " as RFC 9110 allows for list-valued fields.
local function add_header(headers, line)
  local name, value = match(line, "^([^:%s]+)%s*:%s*(.-)%s*$")
  if not name then return false end
  name = lower(name)
  local old = headers[name]
  headers[name] = old and (old .. ", " .. value) or value
  return true
end

local function has_token(value, token)
  if not value then return false end
  for part in gmatch(lower(value), "[^,%s]+") do
    if part == token then return true end
  end
  return false
end

-- An exchange: the socket plus a deadline for the whole request.
local Exchange = {}
Exchange.__index = Exchange

-- Re-arms the send and read timeouts with what is left of the deadline.
function Exchange:arm()
  if not self.deadline then return true end
  local left = self.deadline - self.ngx.now()
  if left <= 0 then return false end
  local left_ms = ms(left)
  self.sock:settimeouts(self.connect_ms, left_ms, left_ms)
  return true
end

function Exchange:receive(pattern)
  if not self:arm() then return nil, "timeout" end
  local data, err, partial = self.sock:receive(pattern)
  if not data then self.partial = partial end
  if data or (partial and partial ~= "") then self.got_bytes = true end
  return data, err
end

-- Body by Content-Length, chunked, or up to the close.
function Exchange:read_body(headers, limit)
  local parts, size = {}, 0
  local te = headers["transfer-encoding"]
  if te and not has_token(te, "identity") then
    if not has_token(te, "chunked") then
      return nil, "protocol", "unsupported transfer-encoding"
    end
    while true do
      local line, err = self:receive("*l")
      if not line then return nil, err end
      local n = tonumber(match(line, "^%s*(%x+)"), 16)
      if not n then return nil, "protocol", "bad chunk size line" end
      if n == 0 then
        -- Trailers, up to the empty line; kept with the headers.
        while true do
          local trailer, terr = self:receive("*l")
          if not trailer then return nil, terr end
          if trailer == "" then break end
          add_header(headers, trailer)
        end
        break
      end
      size = size + n
      if limit > 0 and size > limit then return nil, "size" end
      local data, derr = self:receive(n)
      if not data then return nil, derr end
      parts[#parts + 1] = data
      local crlf, cerr = self:receive("*l")
      if not crlf then return nil, cerr end
      if crlf ~= "" then return nil, "protocol", "chunk not followed by CRLF" end
    end
    return concat(parts), nil, nil, true
  end

  local cl = headers["content-length"]
  if cl then
    local n = tonumber(match(cl, "^%s*(%d+)%s*$"))
    if not n then return nil, "protocol", "bad content-length" end
    if limit > 0 and n > limit then return nil, "size" end
    if n == 0 then return "", nil, nil, true end
    local data, err = self:receive(n)
    if not data then return nil, err end
    return data, nil, nil, true
  end

  -- Neither: the body ends when the server closes; never reused.
  while true do
    local data, err = self:receive(READ_CHUNK)
    local piece = data or self.partial
    if piece and piece ~= "" then
      size = size + #piece
      if limit > 0 and size > limit then return nil, "size" end
      parts[#parts + 1] = piece
    end
    if not data then
      if err == "closed" then break end
      return nil, err
    end
  end
  return concat(parts), nil, nil, false
end

-- Reads one response (skipping 1xx). Returns resp, keepalive or nil, err.
function Exchange:read_response(method, limit)
  local status, major, minor, headers
  while true do
    local line, err = self:receive("*l")
    if not line then return nil, err end
    local maj, mnr, st = match(line, "^HTTP/(%d)%.(%d) (%d%d%d)")
    if not maj then return nil, "protocol", "bad status line" end
    major, minor, status = tonumber(maj), tonumber(mnr), tonumber(st)
    headers = {}
    while true do
      local h, herr = self:receive("*l")
      if not h then return nil, herr end
      if h == "" then break end
      if not add_header(headers, h) then return nil, "protocol", "bad header line" end
    end
    if status >= 200 or status == 101 then break end
  end

  local body, complete = "", true
  if method ~= "HEAD" and status ~= 204 and status ~= 304 then
    local b, err, detail, done = self:read_body(headers, limit)
    if not b then return nil, err, detail end
    body, complete = b, done
  end

  local conn = headers["connection"]
  local keepalive = complete and not has_token(conn, "close") and
    (major > 1 or (major == 1 and minor >= 1) or has_token(conn, "keep-alive"))
  return { status = status, headers = headers, body = body }, keepalive
end

local function raw_request(t, req, u)
  local headers, bad = request_headers(req)
  if not headers then
    return terror("TransportError", "header " .. bad .. " has an invalid name or value", "config")
  end
  local ngx = t.ngx
  local sock = ngx.socket.tcp()
  local connect_ms = ms(req.connect_timeout or t.config.connect_timeout)
  local total = req.timeout or t.config.timeout
  local ex = setmetatable({ sock = sock, ngx = ngx, connect_ms = connect_ms,
    deadline = ms(total) > 0 and (ngx.now() + total) or nil }, Exchange)
  local total_ms = ms(total)
  sock:settimeouts(connect_ms, total_ms, total_ms)

  local where = u.host .. ":" .. u.port
  local pool = "bulksync:" .. where .. (u.tls and ":tls" or ":plain")
  local ok, err = sock:connect(u.host, u.port, { pool = pool })
  if not ok then return socket_error("connect to " .. where, err) end

  local reused = (sock:getreusedtimes() or 0) > 0
  if u.tls and not reused then
    local session, serr = sock:sslhandshake(false, u.server_name, true)
    if not session then
      sock:close()
      if serr == "timeout" then return socket_error("TLS handshake with " .. where, serr) end
      return tls_refused(t, where, serr)
    end
  end

  local method = req.method or "GET"
  local out = { method, " ", u.path, " HTTP/1.1\r\nHost: ", u.host_header, "\r\n" }
  for _, h in ipairs(headers) do
    out[#out + 1] = h[1]; out[#out + 1] = ": "; out[#out + 1] = h[2]; out[#out + 1] = "\r\n"
  end
  local body = req.body
  if body ~= nil or method == "PUT" or method == "POST" or method == "PATCH" then
    out[#out + 1] = "Content-Length: " .. #(body or "") .. "\r\n"
  end
  out[#out + 1] = "\r\n"
  if body and body ~= "" then out[#out + 1] = body end

  if not ex:arm() then sock:close(); return socket_error("request to " .. where, "timeout") end
  local sent, send_err = sock:send(out)
  if not sent then
    sock:close()
    local _, e = socket_error("send to " .. where, send_err)
    return nil, e, reused and send_err ~= "timeout"
  end

  local limit = t.config.max_response_size or 0
  local resp, keep_or_err, detail = ex:read_response(method, limit)
  if not resp then
    sock:close()
    if keep_or_err == "size" then
      return terror("TransportError", format("response from %s exceeds max_response_size (%d bytes)",
        where, limit), "protocol")
    end
    if keep_or_err == "protocol" then
      return terror("TransportError", "bad HTTP response from " .. where .. ": " .. detail, "protocol")
    end
    -- A pooled connection the server had already closed fails before any
    -- byte arrives: the caller may try once more on a fresh one.
    local stale = reused and not ex.got_bytes and
      (keep_or_err == "closed" or find(tostring(keep_or_err), "reset", 1, true) ~= nil)
    local _, e = socket_error("read from " .. where, keep_or_err)
    return nil, e, stale
  end
  if keep_or_err then
    local kept = sock:setkeepalive()
    if not kept then sock:close() end
  else
    sock:close()
  end
  return resp
end

------------------------------------------------------------------------
-- lua-resty-http
------------------------------------------------------------------------

local function resty_request(t, req, u)
  local httpc = t.resty_http.new()
  local connect_ms = ms(req.connect_timeout or t.config.connect_timeout)
  local total_ms = ms(req.timeout or t.config.timeout)
  httpc:set_timeouts(connect_ms, total_ms, total_ms)
  local where = u.host .. ":" .. u.port
  local ok, err = httpc:connect {
    scheme = u.tls and "https" or "http", host = u.host, port = u.port,
    ssl_verify = true, ssl_server_name = u.server_name,
    pool = "bulksync:" .. where .. (u.tls and ":tls" or ":plain"),
  }
  if not ok then
    if u.tls and err ~= "timeout" and is_tls_failure(err) then return tls_refused(t, where, err) end
    return socket_error("connect to " .. where, err)
  end

  local headers, bad = request_headers(req)
  if not headers then
    httpc:close()
    return terror("TransportError", "header " .. bad .. " has an invalid name or value", "config")
  end
  local h = { Host = u.host_header }
  for _, pair in ipairs(headers) do h[pair[1]] = pair[2] end
  local method = req.method or "GET"
  if req.body ~= nil or method == "PUT" or method == "POST" or method == "PATCH" then
    h["Content-Length"] = tostring(#(req.body or ""))
  end
  local res, rerr = httpc:request { method = method, path = u.path, headers = h, body = req.body }
  if not res then
    httpc:close()
    return socket_error("request to " .. where, rerr)
  end

  local limit = t.config.max_response_size or 0
  local parts, size = {}, 0
  if res.has_body ~= false and res.body_reader then
    while true do
      local chunk, cerr = res.body_reader(READ_CHUNK)
      if cerr then httpc:close(); return socket_error("read from " .. where, cerr) end
      if not chunk then break end
      size = size + #chunk
      if limit > 0 and size > limit then
        httpc:close()
        return terror("TransportError", format("response from %s exceeds max_response_size (%d bytes)",
          where, limit), "protocol")
      end
      parts[#parts + 1] = chunk
    end
  end
  local out = {}
  for name, value in pairs(res.headers or {}) do
    if type(name) == "string" then
      if type(value) == "table" then value = concat(value, ", ") end
      out[lower(name)] = tostring(value)
    end
  end
  -- set_keepalive closes instead when the response said so.
  local kept = httpc:set_keepalive()
  if not kept then httpc:close() end
  return { status = res.status, headers = out, body = concat(parts) }
end

------------------------------------------------------------------------
-- The transport
------------------------------------------------------------------------

--[[ request_many for a request function: light threads, each taking the
next request, at most `concurrency` at once, so while one waits on its
socket the others run. An error raised by on_done stops the others taking
more and is raised once all are done. ]]
function M.threaded(request)
  return function(reqs, concurrency, on_done)
    local thread = rawget(_G, "ngx").thread
    local n, next_i, failure = #reqs, 1, nil
    local function worker()
      while failure == nil and next_i <= n do
        local i = next_i
        next_i = i + 1
        local ok, e = pcall(on_done, i, request(reqs[i]))
        if not ok then failure = failure or { e } end
      end
    end
    local threads = {}
    for k = 1, (concurrency < n and concurrency or n) do threads[k] = thread.spawn(worker) end
    for k = 1, #threads do
      local ok, e = thread.wait(threads[k])
      if not ok then failure = failure or { e } end
    end
    if failure then error(failure[1], 0) end
  end
end

function M.new(config)
  config = config or {}
  local ngx = rawget(_G, "ngx")
  if type(ngx) ~= "table" or type(ngx.socket) ~= "table" or type(ngx.socket.tcp) ~= "function" then
    error("bulksync.ngx: ngx.socket.tcp is not available (this transport runs inside OpenResty)", 2)
  end
  local t = { name = "ngx", ngx = ngx, config = config, sleep = ngx.sleep }
  -- lua-resty-http 0.16 and later take connect(options) with TLS settings.
  local has_http, http = pcall(require, "resty.http")
  local major, minor = match(has_http and type(http) == "table" and tostring(http._VERSION) or "",
    "^(%d+)%.(%d+)")
  major, minor = tonumber(major), tonumber(minor)
  if major and (major > 0 or minor >= 16) and type(http.new) == "function" then
    t.resty_http = http
    t.client = "lua-resty-http"
  else
    t.client = "cosocket"
  end

  local function exchange(req, u)
    if t.resty_http then return resty_request(t, req, u) end
    local resp, err, stale = raw_request(t, req, u)
    if not resp and stale then
      resp, err = raw_request(t, req, u)
    end
    return resp, err
  end

  function t.request(req)
    local u = parse_url(req.url or "")
    if not u then
      return terror("TransportError", "cannot parse URL (only http:// and https:// are supported)", "config")
    end
    -- Cosockets raise in phases that cannot yield (set_by_lua,
    -- header_filter_by_lua, log_by_lua, init_by_lua): report that as a
    -- typed error. LuaJIT lets a cosocket yield through this pcall.
    local ok, resp, err = pcall(exchange, req, u)
    if not ok then
      local why = gsub(tostring(resp), "^[^\n]-:%d+: ", "")
      return terror("TransportError", "cosocket request failed: " .. why ..
        " (requests can be made from rewrite, access and content handlers and ngx.timer callbacks)", "config")
    end
    return resp, err
  end

  t.request_many = M.threaded(t.request)

  function t.close() end
  return t
end

M._parse_url = parse_url
return M
