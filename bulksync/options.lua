-- bulksync.options: every option and argument check, in one place.
--
-- The names each function takes (the endpoints' come from their rows in
-- bulksync.endpoints), the client's options with their bounds, ids, keys
-- and limits. Every check ends in a ValidationError naming the path, raised
-- before anything is sent; a misspelt name gets the closest known one.

local core = require "bulksync.core"
local E = require "bulksync.errors"

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local next, setmetatable = next, setmetatable
local concat, sort = table.concat, table.sort
local format, sub, byte, find, gsub, lower = string.format, string.sub, string.byte,
  string.find, string.gsub, string.lower
local floor, huge = math.floor, math.huge
local problem, invalid = E.problem, E.invalid

local O = {}

O.DEFAULT_BASE_URL = "https://app.polytomic.com"
O.DEFAULT_VERSION = core.DEFAULT_VERSION

-- The bounds the libcurl transport enforces (core.LIMITS, defined once in
-- C), checked here first so a value it would refuse is a ValidationError
-- with a path.
local function integral(v) return v == floor(v) and (math.tointeger and math.tointeger(v) or v) or v end
local BOUNDS = {}
for name, unit in pairs { timeout = "seconds", connect_timeout = "seconds", max_response_size = "bytes" } do
  local l = core.LIMITS[name]
  BOUNDS[name] = { default = integral(l.default), min = integral(l.min), max = integral(l.max), unit = unit,
    whole = unit == "bytes" }
end
local POLICY = { retries = 2, retry_base = 0.5, retry_cap = 8, max_retry_wait = 60 }

-- The options of the functions that are not endpoints.
local NAMES = {
  encode      = { "version", "strict", "max_values", "max_bytes" },
  to_update   = { "version", "schemas", "keep_organization" },
  diff        = { "version", "schemas", "id" },
  patch       = { "version", "schemas", "keep_organization", "retries", "idempotency_key" },
  plan        = { "version", "retries" },
  update_many = { "version", "strict", "schemas", "keep_organization", "retries", "concurrency",
    "on_progress", "dry_run" },
  item        = { "id", "body", "patch", "idempotency_key" },
  wait        = { "timeout", "interval", "max_interval", "on_progress", "retries" },
  patch_schema = { "version", "retries", "idempotency_key" },
  render      = { "colour", "width" },
  new         = { "api_key", "org_id", "base_url", "version", "timeout", "connect_timeout", "user_agent",
    "ca_file", "headers", "retries", "retry_base", "retry_cap", "max_retry_wait", "max_response_size",
    "transport", "sleep", "proxy", "max_values", "max_bytes" },
}
NAMES.validate = NAMES.encode
O.NAMES = NAMES

-- A list of names as a set, made once per list.
local sets = setmetatable({}, { __mode = "k" })
local function set_of(list)
  local set = sets[list]
  if not set then
    set = {}
    for _, name in ipairs(list) do set[name] = true end
    sets[list] = set
  end
  return set
end

-- A name is quoted only when it looks like one: a key used as a table key
-- by mistake must not reach the message.
local function shown_name(name)
  if type(name) == "string" and #name <= 64 and find(name, "^[%a_][%w_]*$") then return name end
  return "(name not shown)"
end

-- A problem for each name of opts not in list, naming the closest known
-- one (the core's measure, as for fields).
local function unknown(opts, list, problems, shown)
  local set = set_of(list)
  for k in next, opts do
    if not set[k] then
      local near = type(k) == "string" and core.closest(k, list)
      problems[#problems + 1] = problem((shown or shown_name)(k), "unknown option" ..
        (near and format("; did you mean `%s`?", near) or format(" (known: %s)", concat(list, ", "))), "unknown")
    end
  end
  return problems
end

-- What a call without options gets: shared and never written to, so the
-- usual call makes no table for it.
local NONE = setmetatable({}, { __newindex = function() error("bulksync: options are read-only", 2) end })
O.NONE = NONE

--- opts (nil or a table of the names in `list`, a NAMES key or a list).
function O.check(opts, list, what)
  -- NONE again: a method that checked its options first hands them on.
  if opts == nil or opts == NONE then return NONE end
  what = what or "options"
  if type(opts) ~= "table" then invalid("", "options must be a table", what) end
  if type(list) == "string" then list = NAMES[list] end
  -- The usual call names only known options: no problems table for it.
  local set = set_of(list)
  for k in next, opts do
    if not set[k] then
      local problems = unknown(opts, list, {})
      error(E.validation(problems, #problems, what), 0)
    end
  end
  return opts
end

------------------------------------------------------------------------
-- Values
------------------------------------------------------------------------

local KNOWN_VERSION = {}
for _, v in ipairs(core.API_VERSIONS) do KNOWN_VERSION[v] = true end

local function version_problem(version)
  return format("unsupported API version %q; supported: %s", tostring(version), concat(core.API_VERSIONS, ", "))
end

function O.version(version, path)
  version = version or O.DEFAULT_VERSION
  if KNOWN_VERSION[version] then return version end
  invalid(path or "version", version_problem(version), "options", "enum")
end

-- How much work one body may cost the walk: a table reused at every level
-- of a deep nest is legitimate but visits 2^depth values, so the walk stops
-- at max_values values or max_bytes of JSON (core.LIMITS has the defaults
-- and the ceilings). nil: the defaults.
local function limits(opts, problems)
  local out
  for _, name in ipairs { "max_values", "max_bytes" } do
    local v, ceiling = opts[name], core.LIMITS.ceiling[name]
    if v ~= nil then
      if type(v) ~= "number" or v ~= floor(v) or v < 1 or v > ceiling then
        problems[#problems + 1] = problem(name, format("must be a whole number from 1 to %.0f (default %.0f)",
          ceiling, core.LIMITS[name]), "range")
      else
        out = out or {}
        out[name] = v
      end
    end
  end
  return out
end

function O.limits(opts)
  if opts.max_values == nil and opts.max_bytes == nil then return nil end
  local problems = {}
  local out = limits(opts, problems)
  if #problems > 0 then error(E.validation(problems, #problems, "options"), 0) end
  return out
end

local function is_uuid(s)
  return type(s) == "string" and #s == 36 and
    find(s, "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") ~= nil
end
O.is_uuid = is_uuid

-- What a string argument is, without quoting it: a script that passes the
-- wrong variable may be passing its API key.
local function described(v)
  return type(v) == "string" and format("a string of %d bytes", #v) or type(v)
end

-- The last UUID that passed and its lower-case form: the same string (a
-- value, so it cannot have changed) passes again without the pattern match.
local last_id, last_lower

function O.uuid(id, path)
  if last_id ~= nil and id == last_id then return last_lower end
  if not is_uuid(id) then
    invalid(path or "id", "must be a UUID (8-4-4-4-12 hex digits), got " .. described(id), "request", "format")
  end
  last_id, last_lower = id, lower(id)
  return last_lower
end

-- Free-form ids (a schema id is the source's own name: "public.orders"):
-- any non-empty string, escaped where it goes in a path.
function O.name(v, path)
  if type(v) ~= "string" or v == "" then
    invalid(path, "must be a non-empty string, got " .. (v == "" and "an empty string" or described(v)), "request")
  end
  return v
end

-- Idempotency keys: the documented alphabet and length.
function O.idempotency_key(key)
  if key == nil then return nil end
  if type(key) ~= "string" or #key < 8 or #key > 255 or find(key, "[^%w_%-]") then
    invalid("idempotency_key", "must be 8 to 255 characters of A-Z a-z 0-9 _ -", "options", "format")
  end
  return key
end

--- A number of seconds option, > 0 and finite, or its default.
function O.seconds(opts, name, default)
  local v = opts[name]
  if v == nil then return default end
  if type(v) ~= "number" or not (v > 0 and v < huge) then
    invalid(name, "must be a positive number of seconds", "options", "range")
  end
  return v
end

function O.retries(retries, default)
  if retries == nil then return default end
  if type(retries) ~= "number" or retries < 0 or retries ~= floor(retries) or retries == huge then
    invalid("retries", "must be a whole number >= 0", "options")
  end
  return retries
end

-- Percent-encodes all but RFC 3986's unreserved characters: for a path
-- segment or a query value.
function O.escape(s)
  return (gsub(s, "[^%w%-%._~]", function(c) return format("%%%02X", byte(c)) end))
end

------------------------------------------------------------------------
-- The client's options
------------------------------------------------------------------------

-- CR, LF or NUL: a header line split in two, or cut short by C.
local function has_crlf(s)
  return find(s, "[\r\n%z]") ~= nil
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

local function bounded(opts, name, problems)
  local b, v = BOUNDS[name], opts[name]
  if v == nil then return b.default end
  if type(v) ~= "number" or not (v >= b.min and v <= b.max) or (b.whole and v ~= floor(v)) then
    problems[#problems + 1] = problem(name, format("must be a %snumber of %s from %s to %s",
      b.whole and "whole " or "", b.unit, tostring(b.min), format("%.0f", b.max)), "range")
    return b.default
  end
  return v
end

local function policy_number(opts, name, problems, whole)
  local v = opts[name]
  if v == nil then return POLICY[name] end
  if type(v) ~= "number" or v ~= v or v < 0 or v == huge or (whole and v ~= floor(v)) then
    problems[#problems + 1] = problem(name, whole and "must be a whole number >= 0"
      or "must be a non-negative number of seconds")
    return POLICY[name]
  end
  return v
end

-- http(s)://host[:port][/prefix], no credentials, no query: the key goes in
-- a header, never in a URL that could end up in a log.
local function base_url(url, problems)
  if url == nil then return O.DEFAULT_BASE_URL end
  if type(url) ~= "string" then
    problems[#problems + 1] = problem("base_url", "must be a string", "format")
    return O.DEFAULT_BASE_URL
  end
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  scheme = scheme and lower(scheme)
  if scheme ~= "http" and scheme ~= "https" then
    problems[#problems + 1] = problem("base_url", "must start with http:// or https://", "format")
    return O.DEFAULT_BASE_URL
  end
  local authority = rest:match("^([^/?#]*)")
  if authority == "" then
    problems[#problems + 1] = problem("base_url", "has no host", "format")
  elseif find(authority, "@", 1, true) then
    problems[#problems + 1] = problem("base_url", "must not contain credentials; use api_key", "format")
  elseif find(rest, "[?#%s%c]") then
    -- %c also catches a NUL byte, which libcurl would refuse at the first request.
    problems[#problems + 1] = problem("base_url", "must not contain a query, fragment, spaces or control characters", "format")
  end
  return (gsub(url, "/+$", ""))
end

-- A proxy URL for libcurl, or false to ignore the *_proxy environment
-- variables. Without it libcurl honours http_proxy, HTTPS_PROXY,
-- ALL_PROXY and no_proxy, as every curl does.
local PROXY_SCHEMES = { http = true, https = true, socks4 = true, socks4a = true, socks5 = true, socks5h = true }

local function proxy_url(proxy, problems)
  if proxy == nil or proxy == false then return proxy end
  local scheme = type(proxy) == "string" and proxy:match("^(%a[%w+.-]*)://[^%s%c]+$")
  if not (scheme and PROXY_SCHEMES[lower(scheme)]) then
    problems[#problems + 1] = problem("proxy", "must be a proxy URL (http, https, socks4, socks4a, socks5 or"
      .. " socks5h://host:port, no spaces or control characters), or false to ignore the environment", "format")
    return nil
  end
  return proxy
end

local TOKEN = "^[%w!#$%%&'*+.^_`|~-]+$"

--[[ Checks bulksync.new's options, all at once; returns
{ config, policy, version, secrets, limits } or raises one ValidationError
naming every problem. config is what a transport gets: base_url, timeouts,
ca_file, max_response_size, proxy, headers (name = value) and header_lines
("Name: value", built once per client, not per request). ]]
function O.client(opts)
  if type(opts) ~= "table" then invalid("", "bulksync.new expects a table of options", "options") end
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
  unknown(opts, NAMES.new, problems, function(k) return shown(k, "^[%a_][%w_]*$") end)
  if type(key) ~= "string" or key == "" then
    problems[#problems + 1] = problem("api_key", "must be a non-empty string")
  elseif has_crlf(key) then
    problems[#problems + 1] = problem("api_key", "contains CR, LF or a NUL byte")
  end
  local org = opts.org_id
  if org ~= nil and (type(org) ~= "string" or org == "" or has_crlf(org)) then
    problems[#problems + 1] = problem("org_id", "must be a non-empty string without CR, LF or NUL")
  end
  local version = opts.version or O.DEFAULT_VERSION
  if not KNOWN_VERSION[version] then problems[#problems + 1] = problem("version", version_problem(version), "enum") end
  if opts.ca_file ~= nil and (type(opts.ca_file) ~= "string" or find(opts.ca_file, "%z")) then
    problems[#problems + 1] = problem("ca_file", "must be a path string without NUL bytes")
  end
  if opts.user_agent ~= nil and (type(opts.user_agent) ~= "string" or has_crlf(opts.user_agent)) then
    problems[#problems + 1] = problem("user_agent", "must be a string without CR, LF or NUL")
  end
  if opts.sleep ~= nil and type(opts.sleep) ~= "function" then
    problems[#problems + 1] = problem("sleep", "must be a function(seconds)")
  end
  local config = {
    base_url = base_url(opts.base_url, problems),
    timeout = bounded(opts, "timeout", problems),
    connect_timeout = bounded(opts, "connect_timeout", problems),
    max_response_size = bounded(opts, "max_response_size", problems),
    ca_file = opts.ca_file,
    proxy = proxy_url(opts.proxy, problems),
    version = version,
  }
  local policy = {
    retries = policy_number(opts, "retries", problems, true),
    retry_base = policy_number(opts, "retry_base", problems),
    retry_cap = policy_number(opts, "retry_cap", problems),
    max_retry_wait = policy_number(opts, "max_retry_wait", problems),
  }
  local body_limits = limits(opts, problems)

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
        local path = "headers." .. shown(name, TOKEN)
        if type(name) ~= "string" or not find(name, TOKEN) then
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
  if #problems > 0 then error(E.validation(problems, #problems, "options"), 0) end

  headers["Authorization"] = org and ("Basic " .. base64(org .. ":" .. key)) or ("Bearer " .. key)
  local lines = {}
  for name, value in pairs(headers) do lines[#lines + 1] = name .. ": " .. value end
  sort(lines)
  config.headers, config.header_lines = headers, lines
  return {
    config = config, policy = policy, version = version, limits = body_limits,
    -- The Authorization value's last word is the key itself or its Basic
    -- credential, which a proxy could echo without the scheme.
    secrets = { key, (headers["Authorization"]:match("(%S+)$")), org },
  }
end

return O
