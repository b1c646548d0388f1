-- bulksync: manage Polytomic bulk syncs from Lua.
--
-- The checks, JSON and libcurl live in C (bulksync.core). This file keeps
-- what has to run in a Lua frame: the request loop with its retry waits,
-- and transports whose socket calls may yield (OpenResty cosockets), which
-- a C function calling Lua could not allow.

local core = require "bulksync.core"

local type, pairs, ipairs, tostring, tonumber = type, pairs, ipairs, tostring, tonumber
local setmetatable, getmetatable, error, pcall = setmetatable, getmetatable, error, pcall
local next = next
local concat = table.concat
local format, sub, byte, find, gsub, lower = string.format, string.sub, string.byte,
    string.find, string.gsub, string.lower
local floor, huge, min = math.floor, math.huge, math.min

local M = {
  _VERSION = core._VERSION,
  API_VERSIONS = core.API_VERSIONS,
  null = core.null,
  array = core.array,
  array_mt = core.array_mt,
}

local DEFAULT_BASE_URL   = "https://app.polytomic.com"
local DEFAULT_VERSION    = core.API_VERSIONS[1]
local DEFAULT_TIMEOUT    = 60
local DEFAULT_CONNECT    = 10
local DEFAULT_RETRIES    = 2
local DEFAULT_RETRY_BASE = 0.5
local DEFAULT_RETRY_CAP  = 8
local DEFAULT_MAX_WAIT   = 60
local DEFAULT_MAX_SIZE   = 16 * 1024 * 1024
local MAX_ERROR_TEXT     = 2048   -- raw error bodies are cut to this many bytes
-- What libcurl takes (milliseconds in a 32-bit long; 0 would mean "no
-- limit"), the same bounds src/http.c checks.
local MIN_TIMEOUT, MAX_TIMEOUT = 0.001, 2000000
local MAX_SIZE           = 4294967295
local SECONDS_TEXT       = "must be a number of seconds from " .. MIN_TIMEOUT .. " to " .. MAX_TIMEOUT

------------------------------------------------------------------------
-- Errors
------------------------------------------------------------------------

local KINDS = {
  "ValidationError", "BadRequestError", "UnauthorizedError", "ForbiddenError",
  "NotFoundError", "ConflictError", "UnprocessableEntityError", "RateLimitError",
  "InternalServerError", "ServerError", "HTTPError", "TimeoutError",
  "TransportError", "DecodeError",
}
M.errors = {}
for i, kind in ipairs(KINDS) do M.errors[i] = kind; M.errors[kind] = kind end

local STATUS_KINDS = {
  [400] = "BadRequestError", [401] = "UnauthorizedError", [403] = "ForbiddenError",
  [404] = "NotFoundError", [409] = "ConflictError", [422] = "UnprocessableEntityError",
  [429] = "RateLimitError", [500] = "InternalServerError",
}

-- 409 is left out on purpose: with an Idempotency-Key it means the first
-- request is still in flight, and otherwise a real conflict.
local RETRY_STATUS = { [408] = true, [429] = true, [500] = true, [502] = true, [503] = true, [504] = true }

local Error = {}
Error.__index = Error
Error.__name = "bulksync.error"

function Error.__tostring(e)
  local head = "bulksync: " .. e.kind
  if e.status then head = head .. " (" .. tostring(e.status) .. ")" end
  return head .. ": " .. tostring(e.message)
end

local function new_error(kind, fields)
  local e = fields or {}
  e.kind = kind
  e.message = e.message or kind
  return setmetatable(e, Error)
end
M.new_error = new_error

function M.is_error(v)
  return getmetatable(v) == Error
end

local function raise(kind, fields)
  error(new_error(kind, fields), 0)
end

-- A server or proxy that echoes request headers into an error would put
-- the key into it: every secret is cut out of anything taken from the
-- wire. Raw text is searched for each secret as written and as JSON may
-- escape it ("/" as "\/"); decoded values are searched after decoding,
-- which undoes every other escape (\u0038...).
local function replace_plain(text, secret)
  if secret == "" or not find(text, secret, 1, true) then return text end
  local parts, from = {}, 1
  while true do
    local i, j = find(text, secret, from, true)
    if not i then break end
    parts[#parts + 1] = sub(text, from, i - 1)
    parts[#parts + 1] = "[redacted]"
    from = j + 1
  end
  parts[#parts + 1] = sub(text, from)
  return concat(parts)
end

local function redact(text, secrets)
  if not secrets then return text end
  for _, secret in ipairs(secrets) do
    text = replace_plain(text, secret)
    if find(secret, "/", 1, true) then text = replace_plain(text, (gsub(secret, "/", "\\/"))) end
  end
  return text
end

-- Every string of a decoded value, keys included, in place (the value is
-- fresh from the decoder or a copy). Depth is bounded by the decoder.
local function redact_value(v, secrets)
  if type(v) == "string" then return redact(v, secrets) end
  if type(v) ~= "table" or not secrets then return v end
  local renamed = {}
  for k, x in pairs(v) do
    v[k] = redact_value(x, secrets)
    if type(k) == "string" then
      local clean = redact(k, secrets)
      if clean ~= k then renamed[#renamed + 1] = { k, clean } end
    end
  end
  for _, pair in ipairs(renamed) do
    v[pair[2]], v[pair[1]] = v[pair[1]], nil
  end
  return v
end

local function redacted_headers(headers, secrets)
  if type(headers) ~= "table" then return headers end
  local copy = {}
  for k, x in pairs(headers) do copy[k] = x end
  return redact_value(copy, secrets)
end

-- One message that names every problem, so a script's log says it all.
local function validation_error(problems, count, what, secrets)
  local parts = {}
  for i, p in ipairs(problems) do
    -- A key pasted into a body (as a value, or as a field's name) must not
    -- come back in the problem that names it.
    if secrets then p.path, p.problem = redact(p.path, secrets), redact(p.problem, secrets) end
    parts[i] = (p.path ~= "" and (p.path .. ": ") or "") .. p.problem
  end
  count = count or #problems
  local msg = format("%s has %d problem%s: %s", what or "body", count, count == 1 and "" or "s",
    concat(parts, "; "))
  if count > #problems then msg = msg .. format("; and %d more", count - #problems) end
  return new_error("ValidationError", { message = msg, errors = problems })
end

local function problem(path, text)
  return { path = path, problem = text }
end

local function raise_invalid(path, text, what)
  error(validation_error({ problem(path, text) }, 1, what), 0)
end

-- The options each function takes. A misspelt one (`stric`, `paln`) would
-- otherwise be ignored, and the full-replacement PUT it was meant to stop
-- would go out: every name is checked before anything is sent.
local OPTIONS = {
  encode     = { "version", "strict", "max_values", "max_bytes" },
  to_update  = { "version", "schemas", "keep_organization" },
  diff       = { "version", "schemas", "id" },
  update     = { "version", "strict", "plan", "retries", "idempotency_key" },
  get        = { "refresh_schemas", "retries" },
  list       = { "active", "limit", "retries" },
  schema     = { "retries" },
  schemas    = { "details", "retries" },
  patch      = { "version", "schemas", "keep_organization", "retries", "idempotency_key" },
  plan       = { "version", "retries" },
  update_many = { "version", "strict", "schemas", "keep_organization", "retries", "concurrency",
    "on_progress" },
  item       = { "id", "body", "patch", "idempotency_key" },
  new        = { "api_key", "org_id", "base_url", "version", "timeout", "connect_timeout", "user_agent",
    "ca_file", "headers", "retries", "retry_base", "retry_cap", "max_retry_wait", "max_response_size",
    "transport", "sleep", "proxy", "max_values", "max_bytes" },
}
OPTIONS.validate, OPTIONS.each_sync = OPTIONS.encode, OPTIONS.list
for name, list in pairs(OPTIONS) do
  local set = {}
  for _, option in ipairs(list) do set[option] = true end
  OPTIONS[name] = { list = list, set = set }
end

-- A name is quoted only when it looks like one: a key used as a table key
-- by mistake must not reach the message.
local function shown_name(name)
  if type(name) == "string" and #name <= 64 and find(name, "^[%a_][%w_]*$") then return name end
  return "(name not shown)"
end

-- A problem for each name of opts that `which` does not take, naming the
-- closest known one (the core's measure, as for fields).
local function unknown_options(opts, which, problems, shown)
  local known = OPTIONS[which]
  for k in next, opts do
    if not known.set[k] then
      local near = type(k) == "string" and core.closest(k, known.list)
      problems[#problems + 1] = problem((shown or shown_name)(k), "unknown option" ..
        (near and format("; did you mean `%s`?", near) or format(" (known: %s)", concat(known.list, ", "))))
    end
  end
  return problems
end

-- Every function's options: nil or a table of known names. Anything else
-- (a string such as "strict") would otherwise be indexed as if it were one.
local function call_options(opts, which, what)
  if opts == nil then return {} end
  if type(opts) ~= "table" then raise_invalid("", "options must be a table", what or "options") end
  local problems = unknown_options(opts, which, {})
  if #problems > 0 then error(validation_error(problems, #problems, what or "options"), 0) end
  return opts
end

------------------------------------------------------------------------
-- JSON
------------------------------------------------------------------------

function M.decode(text)
  if type(text) ~= "string" then
    raise("DecodeError", { message = "decode expects a string, got " .. type(text) })
  end
  local value, err = core.decode(text)
  if value == nil then raise("DecodeError", { message = "invalid JSON: " .. err }) end
  return value
end

-- A set, so the check on every request is one lookup.
local KNOWN_VERSION = {}
for _, v in ipairs(core.API_VERSIONS) do KNOWN_VERSION[v] = true end

local function check_version(version, path)
  version = version or DEFAULT_VERSION
  if KNOWN_VERSION[version] then return version end
  raise_invalid(path or "version", format("unsupported API version %q; supported: %s",
    tostring(version), concat(core.API_VERSIONS, ", ")), "options")
end

-- How much work one body may cost the walk: a table reused at every level
-- of a deep nest is legitimate but visits 2^depth values, so the walk stops
-- at max_values values or max_bytes of JSON (core.LIMITS has the defaults
-- and the ceilings). nil: the defaults.
local function check_limits(opts, problems)
  local limits
  for _, name in ipairs { "max_values", "max_bytes" } do
    local v, ceiling = opts[name], core.LIMITS.ceiling[name]
    if v ~= nil then
      if type(v) ~= "number" or v ~= floor(v) or v < 1 or v > ceiling then
        problems[#problems + 1] = problem(name, format("must be a whole number from 1 to %.0f (default %.0f)",
          ceiling, core.LIMITS[name]))
      else
        limits = limits or {}
        limits[name] = v
      end
    end
  end
  return limits
end

local function call_limits(opts)
  local problems = {}
  local limits = check_limits(opts, problems)
  if #problems > 0 then error(validation_error(problems, #problems, "options"), 0) end
  return limits
end

-- The JSON of a body, or a ValidationError naming every problem (with a
-- client's secrets taken out of them).
local function encode_body(body, version, strict, secrets, limits)
  local json, problems, count = core.encode(body, version, strict, limits)
  if not json then error(validation_error(problems, count, nil, secrets), 0) end
  return json
end

function M.encode(body, opts)
  opts = call_options(opts, "encode")
  return encode_body(body, check_version(opts.version), opts.strict, nil, call_limits(opts))
end

function M.validate(body, opts)
  opts = call_options(opts, "validate")
  local ok, problems, count = core.validate(body, check_version(opts.version), opts.strict, call_limits(opts))
  if ok then return true end
  return false, validation_error(problems, count)
end

function M.schema(version)
  return core.schema(check_version(version))
end

------------------------------------------------------------------------
-- Small helpers
------------------------------------------------------------------------

local function is_uuid(s)
  return type(s) == "string" and #s == 36 and
    find(s, "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") ~= nil
end
M.is_uuid = is_uuid

-- The last id that passed and its lower-case form: the same string (a
-- value, so it cannot have changed) passes again without the pattern match.
local last_id, last_lower

local function check_id(id)
  if last_id ~= nil and id == last_id then return last_lower end
  if not is_uuid(id) then
    -- The value is not quoted: a script that passes the wrong variable may
    -- be passing its API key.
    raise_invalid("id", "must be a UUID (8-4-4-4-12 hex digits), got " ..
      (type(id) == "string" and format("a string of %d bytes", #id) or type(id)), "request")
  end
  last_id, last_lower = id, lower(id)
  return last_lower
end

-- Percent-encodes all but RFC 3986's unreserved characters: for a path
-- segment (schema ids are free-form) or a query value (page tokens).
local function escape(s)
  return (gsub(s, "[^%w%-%._~]", function(c) return format("%%%02X", byte(c)) end))
end

-- Schema ids are the source's own names ("public.orders", "Account"): any
-- non-empty string, escaped in the path. Not quoted back, like ids.
local function check_schema_id(schema_id, path)
  if type(schema_id) ~= "string" or schema_id == "" then
    raise_invalid(path or "schema_id", "must be a non-empty string, got " ..
      (type(schema_id) == "string" and "an empty string" or type(schema_id)), "request")
  end
  return schema_id
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- Basic auth needs base64; it is twenty lines, not worth a dependency.
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = byte(s, i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = floor(n / 262144) % 64
    local c2 = floor(n / 4096) % 64
    local c3 = floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = sub(B64, c1 + 1, c1 + 1) .. sub(B64, c2 + 1, c2 + 1) ..
      (b and sub(B64, c3 + 1, c3 + 1) or "=") .. (c and sub(B64, c4 + 1, c4 + 1) or "=")
  end
  return concat(out)
end

-- CR, LF or NUL: a header line split in two, or cut short by C.
local function has_crlf(s)
  return find(s, "[\r\n%z]") ~= nil
end

-- Idempotency keys: the documented alphabet and length.
local function check_idempotency_key(key)
  if key == nil then return nil end
  if type(key) ~= "string" or #key < 8 or #key > 255 or find(key, "[^%w_%-]") then
    raise_invalid("idempotency_key", "must be 8 to 255 characters of A-Z a-z 0-9 _ -", "options")
  end
  return key
end

local function positive_number(opts, name, default, problems)
  local v = opts[name]
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v < 0 or v == huge then
    problems[#problems + 1] = problem(name, "must be a non-negative number of seconds")
    return default
  end
  return v
end

-- A number in [lo, hi]: the limits the libcurl transport enforces too, so
-- a value it would refuse is a ValidationError here, not an error raised
-- later from inside the C core.
local function number_in(opts, name, default, lo, hi, whole, text, problems)
  local v = opts[name]
  if v == nil then return default end
  if type(v) ~= "number" or not (v >= lo and v <= hi) or (whole and v ~= floor(v)) then
    problems[#problems + 1] = problem(name, text)
    return default
  end
  return v
end

local function whole_number(opts, name, default, problems)
  local v = opts[name]
  if v == nil then return default end
  if type(v) ~= "number" or v ~= floor(v) or v < 0 or v == huge then
    problems[#problems + 1] = problem(name, "must be a whole number >= 0")
    return default
  end
  return v
end

-- http(s)://host[:port][/prefix], no credentials, no query: the key goes in
-- a header, never in a URL that could end up in a log.
local function check_base_url(url, problems)
  if url == nil then return DEFAULT_BASE_URL end
  if type(url) ~= "string" then
    problems[#problems + 1] = problem("base_url", "must be a string")
    return DEFAULT_BASE_URL
  end
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  scheme = scheme and lower(scheme)
  if scheme ~= "http" and scheme ~= "https" then
    problems[#problems + 1] = problem("base_url", "must start with http:// or https://")
    return DEFAULT_BASE_URL
  end
  local authority = rest:match("^([^/?#]*)")
  if authority == "" then
    problems[#problems + 1] = problem("base_url", "has no host")
  elseif find(authority, "@", 1, true) then
    problems[#problems + 1] = problem("base_url", "must not contain credentials; use api_key")
  elseif find(rest, "[?#%s%c]") then
    -- %c also catches a NUL byte, which libcurl would refuse at the first request.
    problems[#problems + 1] = problem("base_url", "must not contain a query, fragment, spaces or control characters")
  end
  return (gsub(url, "/+$", ""))
end

-- A proxy URL for libcurl, or false to ignore the *_proxy environment
-- variables. Without it libcurl honours http_proxy, HTTPS_PROXY,
-- ALL_PROXY and no_proxy, as every curl does.
local PROXY_SCHEMES = { http = true, https = true, socks4 = true, socks4a = true, socks5 = true, socks5h = true }

local function check_proxy(proxy, problems)
  if proxy == nil or proxy == false then return proxy end
  local scheme = type(proxy) == "string" and proxy:match("^(%a[%w+.-]*)://[^%s%c]+$")
  if not (scheme and PROXY_SCHEMES[lower(scheme)]) then
    problems[#problems + 1] = problem("proxy", "must be a proxy URL (http, https, socks4, socks4a, socks5 or"
      .. " socks5h://host:port, no spaces or control characters), or false to ignore the environment")
    return nil
  end
  return proxy
end

------------------------------------------------------------------------
-- Transports
--
-- A transport is function(request) -> response | nil, err, where
--   request  = { method, url, headers = {name = value}, body, timeout, connect_timeout }
--   response = { status = int, headers = {lower-case name = value}, body = string }
--   err      = { kind = "TimeoutError" | "TransportError", message, retryable, curl_code }
-- The client may also pass `header_lines` (the same headers as "Name: value"
-- lines) for transports that want them pre-built. curl_code is set only by
-- the libcurl transport; bulksync/ngx.lua is the OpenResty one.
------------------------------------------------------------------------

-- curl codes worth another attempt: the connection failed or broke, not a
-- refusal on principle (TLS verification, bad URL, size limit).
local CURL_RETRYABLE = {
  [5] = true, [6] = true, [7] = true, [16] = true, [18] = true, [28] = true,
  [52] = true, [55] = true, [56] = true,
}

-- Marks a response whose headers table is new for this response alone, so
-- the client can hand it out instead of copying it. A private key: a
-- custom transport cannot set it by accident.
local FRESH_HEADERS = {}

local function curl_transport(config)
  local handle = core.http {
    headers = config.header_lines,
    timeout = config.timeout,
    connect_timeout = config.connect_timeout,
    ca_file = config.ca_file,
    max_response_size = config.max_response_size,
    proxy = config.proxy,
  }
  -- Reused: the client copies what it keeps, but for the headers, which
  -- core.http builds afresh for every response (FRESH_HEADERS says so).
  local response = { [FRESH_HEADERS] = true }
  local t = {}
  function t.request(req)
    local status, headers, body, code = handle:perform(req.method, req.url, req.body, req.extra_lines)
    if status then
      response.status, response.headers, response.body = status, headers, body
      return response
    end
    return nil, { kind = headers, message = body, curl_code = code, retryable = CURL_RETRYABLE[code] or false }
  end
  -- on_done(i, response | nil, err) as each exchange ends (completion
  -- order), called between libcurl calls, never from inside one.
  function t.request_many(reqs, concurrency, on_done)
    handle:perform_many(reqs, concurrency, function(i, r)
      if r.status then return on_done(i, r) end
      return on_done(i, nil, { kind = r.kind, message = r.message, curl_code = r.curl_code,
        retryable = CURL_RETRYABLE[r.curl_code] or false })
    end)
  end
  t.sleep = core.sleep
  t.handle = handle
  function t.close() handle:close() end
  t.name = "curl"
  return t
end

local function in_openresty()
  local ngx = rawget(_G, "ngx")
  return type(ngx) == "table" and type(ngx.socket) == "table" and type(ngx.socket.tcp) == "function"
end

local function make_transport(opts, config)
  local choice = opts.transport
  local openresty = in_openresty()
  if choice == nil then choice = openresty and "ngx" or "curl" end
  -- Inside nginx a retry wait must yield, not block the worker.
  local default_sleep = openresty and rawget(_G, "ngx").sleep or core.sleep
  if choice == "curl" then return curl_transport(config) end
  if type(config.proxy) == "string" then
    raise_invalid("proxy", "applies to the libcurl transport only; inside nginx, or with a transport of"
      .. " your own, the proxy is that transport's business", "options")
  end
  if choice == "ngx" then return require("bulksync.ngx").new(config) end
  if type(choice) == "function" then
    return { request = choice, sleep = opts.sleep or default_sleep, name = "custom", close = function() end }
  end
  if type(choice) == "table" and type(choice.request) == "function" then
    local t = { request = choice.request, sleep = choice.sleep or opts.sleep or default_sleep,
      name = choice.name or "custom", close = choice.close or function() end }
    return t
  end
  raise_invalid("transport", 'must be "curl", "ngx", a function or a table with request()', "options")
end

------------------------------------------------------------------------
-- Retry policy
------------------------------------------------------------------------

-- Retry-After as an HTTP date, in any of the three forms RFC 9110 requires
-- (IMF-fixdate, RFC 850, asctime): libcurl's parser.
M._http_date = core.getdate

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
  seed = seed % 2147483646 + 1   -- 1 .. 2^31 - 2
  return seed
end

local function jitter()
  jitter_state = (jitter_state or jitter_seed()) * 16807 % 2147483647
  return (jitter_state - 1) / 2147483646
end

-- How long to wait before attempt n+1: what the server asked for, else
-- exponential backoff with jitter; never more than max_retry_wait.
local function retry_wait(policy, attempt, headers, now)
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
M._retry_wait = retry_wait

------------------------------------------------------------------------
-- Responses
------------------------------------------------------------------------

local function cut(text)
  if #text > MAX_ERROR_TEXT then return sub(text, 1, MAX_ERROR_TEXT) .. "..." end
  return text
end

-- Both error shapes the API uses: {key, message, metadata, status:int} and
-- {code, context, error, status:string}. Anything else is kept as text.
local function http_error(status, headers, text, secrets)
  local kind = STATUS_KINDS[status] or (status >= 500 and status <= 599 and "ServerError") or "HTTPError"
  local e = { status = status, retryable = RETRY_STATUS[status] or false,
    headers = redacted_headers(headers, secrets) }
  local decoded = text ~= "" and core.decode(text) or nil
  -- Redacted after decoding (escapes undone), and the raw text as it is,
  -- before anything is cut from it.
  text = redact(text, secrets)
  if type(decoded) == "table" then
    decoded = redact_value(decoded, secrets)
    e.body = decoded
    local msg = decoded.message or decoded.error
    if type(msg) == "string" and msg ~= "" then e.message = msg end
    e.key = type(decoded.key) == "string" and decoded.key or nil
    e.metadata = type(decoded.metadata) == "table" and decoded.metadata
      or type(decoded.context) == "table" and decoded.context or nil
    if decoded.code ~= nil then e.code = decoded.code end
  else
    e.body = cut(text)
  end
  if not e.message then
    local first = text:match("<title>%s*(.-)%s*</title>") or text:match("^%s*([^\r\n]+)")
    e.message = first and cut(first) or ("HTTP status " .. status)
    if #e.message > 200 then e.message = sub(e.message, 1, 200) .. "..." end
  end
  return new_error(kind, e)
end

-- The data of a 2xx response. A DecodeError keeps the raw text, cut and
-- with the secrets taken out (a server could echo the request).
local function decode_envelope(resp, what, secrets, null_is_empty)
  local body = resp.body
  if body == nil or body == "" then
    raise("DecodeError", { status = resp.status, message = what .. ": empty response body", body = "" })
  end
  local value, err = core.decode(body)
  if value == nil then
    raise("DecodeError", { status = resp.status, message = what .. ": response is not JSON (" .. err .. ")",
      body = cut(redact(body, secrets)) })
  end
  if type(value) ~= "table" or value.data == nil or (value.data == core.null and not null_is_empty) then
    raise("DecodeError", { status = resp.status, message = what .. ': response has no "data"',
      body = cut(redact(body, secrets)) })
  end
  if value.data == core.null then return setmetatable({}, core.array_mt), value end
  return value.data, value
end

-- The list in a list envelope. The published type of `data` there is
-- array-or-null, and null is an empty list (an account or sync with none).
local function decode_list(resp, what, secrets)
  local data, value = decode_envelope(resp, what, secrets, true)
  if type(data) ~= "table" then
    raise("DecodeError", { status = resp.status, message = what .. ': "data" is not a list' })
  end
  return data, value
end

------------------------------------------------------------------------
-- Client
------------------------------------------------------------------------

local Client = {}
Client.__index = Client
Client.__name = "bulksync.client"

-- Per-client state that must not be reachable from the client table
-- (headers holding the key). Weak keys: it goes with its client.
local private = setmetatable({}, { __mode = "k" })


function M.new(opts)
  if type(opts) ~= "table" then raise_invalid("", "bulksync.new expects a table of options", "options") end
  local problems = {}
  local key = opts.api_key
  -- A name is echoed only when it looks like one: a misplaced header line
  -- or the key itself used as a table key must not reach the message.
  local function shown(name, pattern)
    if type(name) ~= "string" or #name > 64 or not find(name, pattern) or
       (type(key) == "string" and key ~= "" and find(name, key, 1, true)) then
      return "(name not shown)"
    end
    return name
  end
  unknown_options(opts, "new", problems, function(k) return shown(k, "^[%a_][%w_]*$") end)
  if type(key) ~= "string" or key == "" then
    problems[#problems + 1] = problem("api_key", "must be a non-empty string")
  elseif has_crlf(key) then
    problems[#problems + 1] = problem("api_key", "contains CR, LF or a NUL byte")
  end
  if opts.org_id ~= nil and (type(opts.org_id) ~= "string" or opts.org_id == "" or has_crlf(opts.org_id)) then
    problems[#problems + 1] = problem("org_id", "must be a non-empty string without CR, LF or NUL")
  end
  local version = opts.version or DEFAULT_VERSION
  local known = false
  for _, v in ipairs(core.API_VERSIONS) do if v == version then known = true end end
  if not known then
    problems[#problems + 1] = problem("version", format("unsupported API version %q; supported: %s",
      tostring(version), concat(core.API_VERSIONS, ", ")))
  end
  local config = {
    base_url = check_base_url(opts.base_url, problems),
    timeout = number_in(opts, "timeout", DEFAULT_TIMEOUT, MIN_TIMEOUT, MAX_TIMEOUT, false,
      SECONDS_TEXT, problems),
    connect_timeout = number_in(opts, "connect_timeout", DEFAULT_CONNECT, MIN_TIMEOUT, MAX_TIMEOUT, false,
      SECONDS_TEXT, problems),
    ca_file = opts.ca_file,
    max_response_size = number_in(opts, "max_response_size", DEFAULT_MAX_SIZE, 1, MAX_SIZE, true,
      "must be a whole number of bytes from 1 to " .. MAX_SIZE, problems),
  }
  local policy = {
    retries = whole_number(opts, "retries", DEFAULT_RETRIES, problems),
    retry_base = positive_number(opts, "retry_base", DEFAULT_RETRY_BASE, problems),
    retry_cap = positive_number(opts, "retry_cap", DEFAULT_RETRY_CAP, problems),
    max_retry_wait = positive_number(opts, "max_retry_wait", DEFAULT_MAX_WAIT, problems),
  }
  if opts.ca_file ~= nil and (type(opts.ca_file) ~= "string" or find(opts.ca_file, "%z")) then
    problems[#problems + 1] = problem("ca_file", "must be a path string without NUL bytes")
  end
  if opts.user_agent ~= nil and (type(opts.user_agent) ~= "string" or has_crlf(opts.user_agent)) then
    problems[#problems + 1] = problem("user_agent", "must be a string without CR, LF or NUL")
  end
  config.proxy = check_proxy(opts.proxy, problems)
  local limits = check_limits(opts, problems)
  if opts.sleep ~= nil and type(opts.sleep) ~= "function" then
    problems[#problems + 1] = problem("sleep", "must be a function(seconds)")
  end

  -- Headers are built once per client, not per request.
  local headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
    ["User-Agent"] = opts.user_agent or ("lua-bulksync/" .. core._VERSION),
    ["X-Polytomic-Version"] = version,
  }
  if opts.headers ~= nil then
    if type(opts.headers) ~= "table" then
      problems[#problems + 1] = problem("headers", "must be a table of name = value")
    else
      for name, value in pairs(opts.headers) do
        local token = "^[%w!#$%%&'*+.^_`|~-]+$"
        local path = "headers." .. shown(name, token)
        if type(name) ~= "string" or not find(name, token) then
          problems[#problems + 1] = problem(path, "is not a valid header name")
        elseif lower(name) == "authorization" then
          problems[#problems + 1] = problem(path, "is set from api_key and org_id")
        elseif type(value) ~= "string" then
          problems[#problems + 1] = problem(path, "value must be a string")
        elseif has_crlf(value) then
          problems[#problems + 1] = problem(path, "value contains CR, LF or a NUL byte")
        else
          headers[name] = value
        end
      end
    end
  end
  if #problems > 0 then error(validation_error(problems, #problems, "options"), 0) end

  if opts.org_id then
    headers["Authorization"] = "Basic " .. base64(opts.org_id .. ":" .. key)
  else
    headers["Authorization"] = "Bearer " .. key
  end
  local lines = {}
  for name, value in pairs(headers) do lines[#lines + 1] = name .. ": " .. value end
  table.sort(lines)
  config.headers = headers
  config.header_lines = lines
  config.version = version

  local transport = make_transport(opts, config)
  if opts.sleep then transport.sleep = opts.sleep end
  local client = setmetatable({
    version = version,
    base_url = config.base_url,
    -- What a script may look at; the transport itself holds the headers.
    transport = { name = transport.name, handle = transport.handle, sleep = transport.sleep,
      client = transport.client },
    policy = policy,
    closed = false,
  }, Client)
  -- The key stays out of the client table, so a table dumper printing a
  -- client never shows it.
  private[client] = {
    config = config,
    transport = transport,
    -- The Authorization value's last word is the key itself or its Basic
    -- credential, which a proxy could echo without the scheme.
    secrets = { key, (headers["Authorization"]:match("(%S+)$")), opts.org_id },
    limits = limits,
  }
  return client
end

function Client:__tostring()
  return format("bulksync.client(%s, %s%s)", self.base_url, self.version, self.closed and ", closed" or "")
end

function Client:close()
  if not self.closed then
    self.closed = true
    private[self].transport.close()
  end
end
Client.__close = Client.close
Client.__gc = Client.close   -- tables run __gc on 5.2+; the curl handle has its own on 5.1

local function check_open(self)
  if getmetatable(self) ~= Client then error("bulksync: use client:method(...), not client.method(...)", 3) end
  if self.closed then error("bulksync: client is closed", 3) end
end

local function check_retries(retries, default)
  if retries == nil then return default end
  if type(retries) ~= "number" or retries < 0 or retries ~= floor(retries) then
    raise_invalid("retries", "must be a whole number >= 0", "options")
  end
  return retries
end

-- The request a transport gets; key (checked) adds an Idempotency-Key.
local function build_request(self, method, path, body, key)
  local config = private[self].config
  local req = {
    method = method,
    url = self.base_url .. path,
    body = body,
    headers = config.headers,
    header_lines = config.header_lines,
    timeout = config.timeout,
    connect_timeout = config.connect_timeout,
  }
  if key then
    local h = {}
    for k, v in pairs(config.headers) do h[k] = v end
    h["Idempotency-Key"] = key
    req.headers = h
    req.extra_lines = { "Idempotency-Key: " .. key }
  end
  return req
end

-- What one attempt came to: nil for a 2xx response, else its typed error
-- (err.retryable says whether another attempt may help).
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

local function attempt_error(req, attempt, resp, terr, secrets)
  local err
  local broken = resp ~= nil and broken_response(resp)
  if broken then
    err = new_error("TransportError", { message = "the transport returned " .. broken, retryable = false })
  elseif resp then
    local status = resp.status
    if status >= 200 and status < 300 then return nil end
    err = http_error(status, resp.headers, resp.body or "", secrets)
  else
    terr = type(terr) == "table" and terr or { kind = "TransportError", message = tostring(terr) }
    err = new_error(terr.kind == "TimeoutError" and "TimeoutError" or "TransportError", {
      message = redact(tostring(terr.message or "transport failed"), secrets), curl_code = terr.curl_code,
      retryable = terr.retryable ~= false,
    })
  end
  err.attempts = attempt
  err.method, err.url = req.method, req.url
  return err
end

-- One exchange with the retry policy. Every attempt sends the identical
-- body and the same Idempotency-Key: a full-replacement PUT is idempotent.
function Client:_request(method, path, body, opts)
  local retries = check_retries(opts.retries, self.policy.retries)
  local req = build_request(self, method, path, body, check_idempotency_key(opts.idempotency_key))
  local transport, secrets = private[self].transport, private[self].secrets
  local attempts = retries + 1
  for attempt = 1, attempts do
    local resp, terr = transport.request(req)
    local err = attempt_error(req, attempt, resp, terr, secrets)
    if not err then return resp, attempt end
    if not err.retryable or attempt == attempts then error(err, 0) end
    transport.sleep(retry_wait(self.policy, attempt, resp and resp.headers))
  end
end

local function meta_of(resp, attempts, version)
  local h = resp.headers or {}
  local copy = h
  if not resp[FRESH_HEADERS] then
    copy = {}
    for k, v in pairs(h) do copy[k] = v end
  end
  return { status = resp.status, headers = copy, version = h["x-polytomic-version"] or version,
    attempts = attempts }
end

local function sync_path(id)
  return "/api/bulk/syncs/" .. id
end

local function update_result(resp, attempts, version, secrets)
  return decode_envelope(resp, "update", secrets), meta_of(resp, attempts, version)
end

function Client:update(id, body, opts)
  check_open(self)
  opts = call_options(opts, "update")
  id = check_id(id)
  local version = check_version(opts.version or self.version)
  if opts.plan then return self:plan(id, body, { version = version, retries = opts.retries }) end
  local json = encode_body(body, version, opts.strict, private[self].secrets, private[self].limits)
  local resp, attempts = self:_request("PUT", sync_path(id), json, opts)
  return update_result(resp, attempts, version, private[self].secrets)
end

function Client:get(id, opts)
  check_open(self)
  opts = call_options(opts, "get")
  id = check_id(id)
  local path = sync_path(id)
  if opts.refresh_schemas then path = path .. "?refresh_schemas=true" end
  local resp, attempts = self:_request("GET", path, nil, opts)
  return decode_envelope(resp, "get", private[self].secrets), meta_of(resp, attempts, self.version)
end

------------------------------------------------------------------------
-- Many requests at once
------------------------------------------------------------------------

local DEFAULT_CONCURRENCY = 8
local MAX_CONCURRENCY     = 1000

-- Runs reqs through the transport, at most `concurrency` in flight, and
-- calls on_done(i, response | nil, err) as each ends. libcurl: one multi
-- handle. OpenResty: light threads, each taking the next request. Any
-- other transport: one after another.
local function exchange_many(transport, reqs, concurrency, on_done)
  local n = #reqs
  if transport.request_many then return transport.request_many(reqs, concurrency, on_done) end
  local ngx = transport.name == "ngx" and (transport.ngx or rawget(_G, "ngx"))
  if ngx and type(ngx.thread) == "table" then
    local next_i, failure = 1, nil
    local function worker()
      while failure == nil and next_i <= n do
        local i = next_i
        next_i = i + 1
        local ok, e = pcall(on_done, i, transport.request(reqs[i]))
        if not ok then failure = failure or { e } end
      end
    end
    local threads = {}
    for k = 1, min(concurrency, n) do threads[k] = ngx.thread.spawn(worker) end
    for k = 1, #threads do
      local ok, e = ngx.thread.wait(threads[k])
      if not ok then failure = failure or { e } end
    end
    if failure then error(failure[1], 0) end
    return
  end
  for i = 1, n do on_done(i, transport.request(reqs[i])) end
end

-- The retry policy for many requests, in rounds: every job ({ req, max =
-- attempts allowed }) runs once; those whose error is retryable and that
-- have attempts left run again in the next round, after one sleep of the
-- longest wait any of them needs. done(job, response | nil, attempts, err)
-- is called once per job, as it ends for good.
local function run_rounds(self, jobs, concurrency, done)
  local transport, policy, secrets = private[self].transport, self.policy, private[self].secrets
  local pending = jobs
  while #pending > 0 do
    local again, wait, reqs = {}, 0, {}
    for i, job in ipairs(pending) do reqs[i] = job.req end
    exchange_many(transport, reqs, concurrency, function(i, resp, terr)
      local job = pending[i]
      job.attempt = (job.attempt or 0) + 1
      local err = attempt_error(job.req, job.attempt, resp, terr, secrets)
      if err and err.retryable and job.attempt < job.max then
        again[#again + 1] = job
        local w = retry_wait(policy, job.attempt, resp and resp.headers)
        if w > wait then wait = w end
        return
      end
      return done(job, not err and resp or nil, job.attempt, err)
    end)
    pending = again
    if #pending > 0 then transport.sleep(wait) end
  end
end

-- Checks one item; raises a ValidationError, or returns what to send.
local function protect(f, ...)
  local ok, a, b = pcall(f, ...)
  if ok then return a, b end
  if not M.is_error(a) then error(a, 0) end   -- a bug, not an item's failure
  return nil, a
end

------------------------------------------------------------------------
-- Reads
------------------------------------------------------------------------

local MAX_PAGE = 50   -- the list's largest (and default) page

local function check_list_options(opts)
  if opts.active ~= nil and type(opts.active) ~= "boolean" then
    raise_invalid("active", "must be true (active syncs), false (paused ones) or nil (both)", "options")
  end
  local limit = opts.limit
  if limit ~= nil and (type(limit) ~= "number" or limit ~= floor(limit) or limit < 1 or limit > MAX_PAGE) then
    raise_invalid("limit", "must be a whole number of syncs per page from 1 to " .. MAX_PAGE, "options")
  end
end

local function list_path(opts, token)
  local query = {}
  if opts.active ~= nil then query[#query + 1] = "active=" .. tostring(opts.active) end
  if opts.limit ~= nil then query[#query + 1] = format("limit=%d", opts.limit) end
  if token then query[#query + 1] = "page_token=" .. escape(token) end
  return "/api/bulk/syncs" .. (#query > 0 and "?" .. concat(query, "&") or "")
end

-- A function that returns the next page of the list and its meta, or nil
-- after the last one. Pages are followed by `pagination.next_page_token`; a
-- token seen before would loop forever, so it is a DecodeError.
local function list_pager(self, opts)
  local token, seen, finished = nil, {}, false
  return function()
    if finished then return nil end
    local resp, attempts = self:_request("GET", list_path(opts, token), nil, opts)
    local data, envelope = decode_list(resp, "list", private[self].secrets)
    local pagination = envelope.pagination
    local next_token = type(pagination) == "table" and pagination.next_page_token
    if type(next_token) ~= "string" or next_token == "" then
      finished = true
    elseif seen[next_token] then
      raise("DecodeError", { status = resp.status,
        message = "list: the server sent a page token it had sent before; stopped instead of looping" })
    else
      seen[next_token], token = true, next_token
    end
    return data, meta_of(resp, attempts, self.version)
  end
end

--- client:list(opts) -> every sync, following every page; meta is the last
-- page's, with `pages` counted.
function Client:list(opts)
  check_open(self)
  opts = call_options(opts, "list")
  check_list_options(opts)
  local all, pages, meta = setmetatable({}, core.array_mt), 0, nil
  for page, page_meta in list_pager(self, opts) do
    for _, sync in ipairs(page) do all[#all + 1] = sync end
    pages, meta = pages + 1, page_meta
  end
  meta.pages = pages
  return all, meta
end

--- for sync in client:each_sync(opts) do ... end: one page in memory at a
-- time, the next fetched when the loop reaches it.
function Client:each_sync(opts)
  check_open(self)
  opts = call_options(opts, "each_sync")
  check_list_options(opts)
  local next_page = list_pager(self, opts)
  local page, i = {}, 0
  return function()
    while page and i >= #page do page, i = next_page(), 0 end
    if not page then return nil end
    i = i + 1
    return page[i]
  end
end

local function schema_path(id, schema_id)
  return sync_path(id) .. "/schemas/" .. escape(schema_id)
end

local function schema_data(resp, secrets)
  local data = decode_envelope(resp, "schema", secrets)
  if type(data) ~= "table" then
    raise("DecodeError", { status = resp.status, message = 'schema: "data" is not an object' })
  end
  return data
end

--- client:schema(id, schema_id): one schema with its fields and filters.
function Client:schema(id, schema_id, opts)
  check_open(self)
  opts = call_options(opts, "schema")
  id = check_id(id)
  schema_id = check_schema_id(schema_id)
  local resp, attempts = self:_request("GET", schema_path(id, schema_id), nil, opts)
  return schema_data(resp, private[self].secrets), meta_of(resp, attempts, self.version)
end

--[[ GETs the details of every schema in each group's listing, all at
once: groups[k] = { id = sync id, listing = list }. Sets groups[k].details
(in listing order) or groups[k].err, the group's first failure. ]]
local function fetch_details(self, groups, concurrency, max)
  local jobs, secrets = {}, private[self].secrets
  for _, g in ipairs(groups) do
    g.details = setmetatable({}, core.array_mt)
    for pos, item in ipairs(g.listing) do
      if type(item) ~= "table" or type(item.id) ~= "string" or item.id == "" then
        g.err = g.err or new_error("DecodeError", { message = format("schemas: item %d of the listing has no id", pos) })
      else
        jobs[#jobs + 1] = { group = g, pos = pos, max = max,
          req = build_request(self, "GET", schema_path(g.id, item.id), nil) }
      end
    end
  end
  run_rounds(self, jobs, concurrency, function(job, resp, _, err)
    local g = job.group
    if resp then g.details[job.pos], err = protect(schema_data, resp, secrets) end
    g.err = g.err or err
  end)
end

--- client:schemas(id, opts): the sync's schemas listing (no fields or
-- filters), or with `details = true` every schema's own record, fetched in
-- parallel (1 + N requests).
function Client:schemas(id, opts)
  check_open(self)
  opts = call_options(opts, "schemas")
  id = check_id(id)
  local resp, attempts = self:_request("GET", sync_path(id) .. "/schemas", nil, opts)
  local listing = decode_list(resp, "schemas", private[self].secrets)
  local meta = meta_of(resp, attempts, self.version)
  if not opts.details then return listing, meta end
  local group = { id = id, listing = listing }
  fetch_details(self, { group }, DEFAULT_CONCURRENCY,
    check_retries(opts.retries, self.policy.retries) + 1)
  if group.err then error(group.err, 0) end
  return group.details, meta
end

------------------------------------------------------------------------
-- Read-modify-write
------------------------------------------------------------------------

local plan_lib
local function plan_module()
  plan_lib = plan_lib or require "bulksync.plan"
  return plan_lib
end

-- What a plan function raised: a problem with the caller's input (a table
-- nested too deep, or containing itself) becomes a ValidationError.
local function plan_result(what, ok, ...)
  if ok then return ... end
  local e = ...
  if plan_module().is_problem(e) then
    error(validation_error({ problem(e.path or "", e.problem) }, 1, what), 0)
  end
  error(e, 0)
end

-- The plan functions index what they are given: a table, or a typed error.
local function check_table(v, path, what, shape, optional)
  if type(v) == "table" or (optional and v == nil) then return v end
  raise_invalid(path, "must be " .. shape .. ", got " .. (v == core.null and "null" or type(v)), what)
end

local function check_schemas_list(schemas)
  return check_table(schemas, "schemas", "options", "the schemas listing (a table)", true)
end

function M.to_update(sync, opts)
  opts = call_options(opts, "to_update")
  check_table(sync, "sync", "request", "a table (a GET response)")
  local body, problems = plan_result("fetched sync", pcall(plan_module().to_update, sync, {
    version = check_version(opts.version), schemas = check_schemas_list(opts.schemas),
    keep_organization = opts.keep_organization,
  }))
  if not body then error(validation_error(problems, #problems, "fetched sync"), 0) end
  return body
end

function M.diff(current, body, opts)
  opts = call_options(opts, "diff")
  check_table(current, "current", "request", "a table (a GET response)")
  check_table(body, "body", "request", "a table (an update body)")
  return plan_result("body", pcall(plan_module().diff, current, body, {
    version = check_version(opts.version), schemas = check_schemas_list(opts.schemas), id = opts.id,
  }))
end

-- Fields a GET returns that a body never carries: naming them as
-- read-only reads better than "unknown field".
local READ_ONLY = { id = true, created_at = true, created_by = true, updated_at = true, updated_by = true }

local function check_changes(changes, version, secrets)
  if type(changes) ~= "table" or getmetatable(changes) == core.array_mt then
    raise_invalid("", "changes must be a table of field = value", "changes")
  end
  local problems = {}
  for k in pairs(changes) do
    if type(k) ~= "string" then
      problems[#problems + 1] = problem(tostring(k), "field names must be strings")
    elseif READ_ONLY[k] then
      problems[#problems + 1] = problem(k, "is read-only and cannot be changed")
    end
  end
  -- Unknown names and bad values (a wrong type, null where it cannot be,
  -- a table that contains itself) are refused before the GET: nothing is
  -- sent for changes that could never be applied. Missing required fields
  -- are the merge's business.
  local probe = {}
  for k, v in pairs(changes) do
    if type(k) == "string" and not READ_ONLY[k] then probe[k] = v end
  end
  if next(probe) then
    local _, ps = core.validate(probe, version)
    for _, p in ipairs(ps or {}) do
      if p.problem ~= "is required" and probe[(p.path:match("^[^.%[]+"))] ~= nil then problems[#problems + 1] = p end
    end
  end
  if #problems > 0 then error(validation_error(problems, #problems, "changes", secrets), 0) end
end

local function check_schemas_mode(mode)
  mode = mode or "keep"
  if mode ~= "keep" and mode ~= "omit" then
    raise_invalid("schemas", 'must be "keep" or "omit"', "options")
  end
  return mode
end

-- The complete body for a PUT: the fetched sync (and its schemas' details)
-- with changes applied, refused when it would still lose something.
local function patched_body(sync, schemas, changes, version, keep_organization)
  local P = plan_module()
  local body, problems = plan_result("fetched sync", pcall(P.project, sync, { version = version,
    schemas = schemas, keep_organization = keep_organization }))
  if not body then error(validation_error(problems, #problems, "fetched sync"), 0) end
  body = plan_result("changes", pcall(P.apply, body, changes, version))
  local lossy = P.lossy_problem(body, version)
  if lossy then error(validation_error({ lossy }, 1, "patch"), 0) end
  return body
end

--- client:patch(id, changes, opts): get -> to_update -> apply -> update.
-- The API has no version check on PUT: a change made by someone else
-- between our GET and PUT is overwritten (a lost update).
function Client:patch(id, changes, opts)
  check_open(self)
  opts = call_options(opts, "patch")
  id = check_id(id)
  local version = check_version(opts.version or self.version)
  check_changes(changes, version, private[self].secrets)
  local mode = check_schemas_mode(opts.schemas)
  local sync = self:get(id, { retries = opts.retries })
  local schemas
  if mode == "keep" and changes.schemas == nil then
    schemas = self:schemas(id, { retries = opts.retries, details = true })
  end
  local body = patched_body(sync, schemas, changes, version, opts.keep_organization)
  local data, meta = self:update(id, body, {
    version = version, idempotency_key = opts.idempotency_key, retries = opts.retries,
  })
  return data, meta
end

--- client:plan(id, body): what sending body would change; sends nothing.
function Client:plan(id, body, opts)
  check_open(self)
  opts = call_options(opts, "plan")
  id = check_id(id)
  local version = check_version(opts.version or self.version)
  check_table(body, "body", "request", "a table (an update body)")
  local current = self:get(id, { retries = opts.retries })
  local schemas = self:schemas(id, { retries = opts.retries, details = true })
  return plan_result("body", pcall(plan_module().diff, current, body,
    { version = version, schemas = schemas, id = id }))
end

------------------------------------------------------------------------
-- Many updates at once
------------------------------------------------------------------------

local function prepare_item(item, version, strict, secrets, limits)
  if type(item) ~= "table" then
    raise_invalid("", "must be a table { id = ..., body = ... } or { id = ..., patch = ... }", "item")
  end
  call_options(item, "item", "item")
  local id = check_id(item.id)
  local key = check_idempotency_key(item.idempotency_key)
  if item.patch ~= nil then
    if item.body ~= nil then raise_invalid("", "give body or patch, not both", "item") end
    check_changes(item.patch, version, secrets)
    return { id = id, key = key, patch = item.patch }
  end
  return { id = id, key = key, json = encode_body(item.body, version, strict, secrets, limits) }
end

--- client:update_many(items, opts) -> results
-- items: list of { id =, body = } or { id =, patch = changes }, each with an
-- optional idempotency_key. results[i] (input order) is { ok = true, data =,
-- meta = } or { ok = false, err = <typed error> }. An item that fails
-- validation is not sent. Patch items first fetch their sync (and schemas)
-- in one parallel pass; then every PUT goes out in a second pass.
function Client:update_many(items, opts)
  check_open(self)
  opts = call_options(opts, "update_many")
  if type(items) ~= "table" then
    raise_invalid("items", "must be a list of { id = ..., body = ... }", "request")
  end
  -- Keys exactly 1..n. Only 1..#items would be run, and # of a table with
  -- holes differs between Luas: a map (say, id -> item) came back as an
  -- empty result list, and items after a nil were dropped on some Luas.
  local count, highest = 0, 0
  for k in next, items do
    if type(k) ~= "number" or k < 1 or k ~= floor(k) then
      raise_invalid("items", "must be a list of { id = ..., body = ... }, got a table with a "
        .. (type(k) == "number" and "number key that is not a position 1..n" or type(k) .. " key"),
        "request")
    end
    count = count + 1
    if k > highest then highest = k end
  end
  if highest ~= count then
    raise_invalid("items", format("must be a list without holes, got %d items and highest index %d",
      count, highest), "request")
  end
  local version = check_version(opts.version or self.version)
  local concurrency = opts.concurrency
  if concurrency == nil then
    concurrency = DEFAULT_CONCURRENCY
  elseif type(concurrency) ~= "number" or concurrency ~= floor(concurrency) or concurrency < 1
      or concurrency > MAX_CONCURRENCY then
    raise_invalid("concurrency", "must be a whole number from 1 to " .. MAX_CONCURRENCY, "options")
  end
  local on_progress = opts.on_progress
  if on_progress ~= nil and type(on_progress) ~= "function" then
    raise_invalid("on_progress", "must be a function(done, total, item, result)", "options")
  end
  local max = check_retries(opts.retries, self.policy.retries) + 1
  local mode = check_schemas_mode(opts.schemas)

  local n, results, finished = count, {}, 0
  local function finish(i, result)
    results[i] = result
    finished = finished + 1
    if on_progress then on_progress(finished, n, items[i], result) end
  end

  local prepared, gets = {}, {}
  for i = 1, n do
    local p, err = protect(prepare_item, items[i], version, opts.strict, private[self].secrets,
      private[self].limits)
    if err then
      finish(i, { ok = false, err = err })
    else
      prepared[i] = p
      if p.patch then
        gets[#gets + 1] = { item = i, what = "sync", max = max,
          req = build_request(self, "GET", sync_path(p.id), nil) }
        if mode == "keep" and p.patch.schemas == nil then
          gets[#gets + 1] = { item = i, what = "schemas", max = max,
            req = build_request(self, "GET", sync_path(p.id) .. "/schemas", nil) }
        end
      end
    end
  end

  local secrets = private[self].secrets
  local function sync_data(resp) return (decode_envelope(resp, "get", secrets)) end
  local function listing_data(resp) return (decode_list(resp, "schemas", secrets)) end
  run_rounds(self, gets, concurrency, function(job, resp, _, err)
    local p = prepared[job.item]
    if resp and not p.err then
      p[job.what], err = protect(job.what == "sync" and sync_data or listing_data, resp)
    end
    p.err = p.err or err
  end)

  -- Then every listed schema's details, for all patch items at once.
  local groups = {}
  for i = 1, n do
    local p = prepared[i]
    if p and p.schemas and not p.err then
      p.group = { id = p.id, listing = p.schemas }
      groups[#groups + 1] = p.group
    end
  end
  fetch_details(self, groups, concurrency, max)
  for i = 1, n do
    local p = prepared[i]
    if p and p.group then p.schemas, p.err = p.group.details, p.group.err end
  end

  local puts = {}
  for i = 1, n do
    local p = prepared[i]
    if p and p.patch then
      local body
      if not p.err then body, p.err = protect(patched_body, p.sync, p.schemas, p.patch, version,
        opts.keep_organization) end
      if not p.err then
        p.json, p.err = protect(encode_body, body, version, opts.strict, secrets, private[self].limits)
      end
      if p.err then finish(i, { ok = false, err = p.err }) end
    end
    if p and p.json then
      puts[#puts + 1] = { item = i, max = max, req = build_request(self, "PUT", sync_path(p.id), p.json, p.key) }
    end
  end

  run_rounds(self, puts, concurrency, function(job, resp, attempts, err)
    local data, meta
    if resp then
      data, meta = protect(update_result, resp, attempts, version, private[self].secrets)
      if data == nil then err = meta end
    end
    return finish(job.item, err and { ok = false, err = err } or { ok = true, data = data, meta = meta })
  end)
  return results
end

M.Client = Client
return M
