--[[ bulksync.endpoints: the API's endpoints as data, and the one path
every call takes through them.

A row says everything a call needs: method, path template (each {param}
checked by its kind in PARAMS and escaped), query parameters and their
types, the kind of body it takes (validated and encoded by the C core for
the call's API version: core.BODY_KINDS), the shape of its answer, whether
it may carry an Idempotency-Key, and whether it is unsafe to repeat
without one. EP.call builds the URL, checks the options, the query and
the body before anything is sent, runs the request under bulksync.retry,
decodes the answer and types its errors. Adding an endpoint is a row. ]]

local core = require "bulksync.core"
local E = require "bulksync.errors"
local O = require "bulksync.options"
local R = require "bulksync.retry"
local curl = require "bulksync.curl"

local type, pairs, ipairs, select, error = type, pairs, ipairs, select, error
local concat, sort = table.concat, table.sort
local format = string.format
local floor = math.floor

local EP = {}

-- Kinds of path parameter, each returning the text for the path: sync ids
-- are UUIDs (sent lower-case, nothing to escape); schema ids are the
-- source's own names, any non-empty string, escaped.
EP.PARAMS = {
  id = O.uuid,
  exec_id = O.uuid,
  schedule_id = O.uuid,
  connection_id = O.uuid,
  schema_id = function(v, path) return O.escape(O.name(v, path)) end,
}

local function whole_in(lo, hi)
  return function(v)
    if type(v) == "number" and v == floor(v) and v >= lo and v <= hi then return format("%d", v) end
  end
end

-- Query parameter types: a checker returns the text to send (for a
-- repeated parameter, a list of texts), or nil.
local QUERY = {
  boolean = function(v) if type(v) == "boolean" then return tostring(v) end end,
  string = function(v) if type(v) == "string" and v ~= "" then return O.escape(v) end end,
  page_size = whole_in(1, 50),
  execution_page = whole_in(1, 100),
  console_limit = whole_in(1, 1000000),
  uuid_list = function(v)
    if type(v) ~= "table" or #v == 0 then return nil end
    local out = {}
    for i = 1, #v do
      if not O.is_uuid(v[i]) then return nil end
      out[i] = v[i]:lower()
    end
    return out
  end,
}
local QUERY_TEXT = {
  boolean = "must be true or false",
  string = "must be a non-empty string",
  page_size = "must be a whole number from 1 to 50 (the API's largest page)",
  execution_page = "must be a whole number from 1 to 100 (the API's largest page)",
  console_limit = "must be a whole number of lines, at least 1",
  uuid_list = "must be a list of UUIDs (sent as a repeated parameter)",
}

-- What the answer holds: object, a {"data": table}; list, a {"data":
-- list} (null is an empty list), its `pagination` followed by pagers;
-- empty, nothing (a 200 is the whole answer); envelope, the whole answer
-- (its data may be missing). `wrap` names the one field a body is sent
-- in ({"schedule": ...}); `versions` lists the API versions that have the
-- endpoint, when not all do; `reads` names the row that reads what a
-- replacing write replaces, for its plan (opts.plan).
local SYNC = "/api/bulk/syncs/{id}"
local EXEC = SYNC .. "/executions/{exec_id}"
EP.rows = {
  list = { method = "GET", path = "/api/bulk/syncs", response = "list",
    query = { active = "boolean", limit = "page_size", page_token = "string" } },
  get = { method = "GET", path = SYNC, response = "object", query = { refresh_schemas = "boolean" } },
  update = { method = "PUT", path = SYNC, response = "object", body = "sync", idempotent = true,
    options = { "plan" } },
  delete = { method = "DELETE", path = SYNC, response = "empty", query = { refresh_schemas = "boolean" } },
  schemas = { method = "GET", path = SYNC .. "/schemas", response = "list", options = { "details" } },
  schema = { method = "GET", path = SYNC .. "/schemas/{schema_id}", response = "object" },
  activate = { method = "POST", path = SYNC .. "/activate", response = "object", body = "activate" },
  cancel = { method = "POST", path = SYNC .. "/cancel", response = "object" },
  -- A start repeated after an answer that was lost would start twice:
  -- retried only with an Idempotency-Key.
  start = { method = "POST", path = SYNC .. "/executions", response = "object", body = "start",
    idempotent = true, unsafe = true, options = { "wait" } },
  status = { method = "GET", path = SYNC .. "/status", response = "object" },
  list_status = { method = "GET", path = "/api/bulk/syncs/status", response = "list",
    query = { all = "boolean", active = "boolean", sync_id = "uuid_list" } },
  executions = { method = "GET", path = SYNC .. "/executions", response = "list",
    query = { page_token = "string", only_terminal = "boolean", ascending = "boolean", limit = "execution_page" } },
  execution = { method = "GET", path = SYNC .. "/executions/{exec_id}", response = "object" },
  cancel_execution = { method = "POST", path = SYNC .. "/executions/{exec_id}/cancel", response = "object" },
  create = { method = "POST", path = "/api/bulk/syncs", response = "object", body = "sync", idempotent = true,
    unsafe = true, options = { "plan" } },
  update_schema = { method = "PUT", path = SYNC .. "/schemas/{schema_id}", response = "object", body = "schema",
    idempotent = true, reads = "schema", options = { "plan" } },
  update_schemas = { method = "PATCH", path = SYNC .. "/schemas", response = "list", body = "schemas",
    wrap = "schemas", idempotent = true },
  cancel_schema = { method = "POST", path = SYNC .. "/schemas/{schema_id}/cancel", response = "object" },
  schedules = { method = "GET", path = SYNC .. "/schedules", response = "list" },
  schedule = { method = "GET", path = SYNC .. "/schedules/{schedule_id}", response = "object" },
  create_schedule = { method = "POST", path = SYNC .. "/schedules", response = "object", body = "schedule",
    wrap = "schedule", idempotent = true, unsafe = true },
  update_schedule = { method = "PUT", path = SYNC .. "/schedules/{schedule_id}", response = "object",
    body = "schedule", wrap = "schedule", idempotent = true, reads = "schedule", options = { "plan" } },
  delete_schedule = { method = "DELETE", path = SYNC .. "/schedules/{schedule_id}", response = "empty" },
  execution_logs = { method = "GET", path = EXEC .. "/logs", response = "object" },
  export_execution_logs = { method = "POST", path = EXEC .. "/logs/export", response = "envelope",
    query = { notify = "boolean" } },
  console_log = { method = "GET", path = EXEC .. "/consolelog", response = "object",
    query = { limit = "console_limit", after = "string" }, versions = { "2025-09-18" } },
  schema_console_log = { method = "GET", path = EXEC .. "/schemas/{schema_id}/consolelog", response = "object",
    query = { limit = "console_limit", after = "string" }, versions = { "2025-09-18" } },
  source = { method = "GET", path = "/api/connections/{connection_id}/bulksync/source", response = "object",
    query = { include_fields = "boolean" } },
  target = { method = "GET", path = "/api/connections/{connection_id}/bulksync/target", response = "object" },
  -- Only the 2025-09-18 SDKs have it; no published description does.
  error_handling = { method = "GET", path = SYNC .. "/error-handling", response = "object",
    versions = { "2025-09-18" } },
}

-- Each row's template split once into literal text and parameter names,
-- its query names in a fixed order, and the option names its call takes.
for name, row in pairs(EP.rows) do
  row.name = name
  row.parts, row.params = {}, {}
  local from = 1
  for lit, param, stop in row.path:gmatch("()%{([%w_]+)%}()") do
    row.parts[#row.parts + 1] = row.path:sub(from, lit - 1)
    row.parts[#row.parts + 1] = param
    row.params[#row.params + 1] = param
    from = stop
  end
  row.parts[#row.parts + 1] = row.path:sub(from)
  row.query_names = {}
  for q in pairs(row.query or {}) do row.query_names[#row.query_names + 1] = q end
  sort(row.query_names)
  -- One path parameter and no query: its URL depends on the id alone.
  row.simple = #row.params == 1 and #row.query_names == 0
  local names = {}
  for _, q in ipairs(row.query_names) do names[#names + 1] = q end
  names[#names + 1] = "retries"
  if row.body then names[#names + 1] = "version"; names[#names + 1] = "strict" end
  if row.idempotent then names[#names + 1] = "idempotency_key" end
  for _, o in ipairs(row.options or {}) do names[#names + 1] = o end
  row.option_names = names
  if row.versions then
    row.version_set = {}
    for _, v in ipairs(row.versions) do row.version_set[v] = true end
  end
end

-- The path of a row, its parameters (the first arguments) checked and
-- escaped. One or two parameters, the usual case, make no table.
local function path_of(row, ...)
  local parts, params, kinds = row.parts, row.params, EP.PARAMS
  local n = #params
  if n == 0 then return parts[1] end
  local a = kinds[params[1]]((...), params[1])
  if n == 1 then return parts[1] .. a .. parts[3] end
  local b = kinds[params[2]]((select(2, ...)), params[2])
  if n == 2 then return parts[1] .. a .. parts[3] .. b .. parts[5] end
  local out = { parts[1], a, parts[3], b, parts[5] }
  for i = 3, n do
    out[#out + 1] = kinds[params[i]]((select(i, ...)), params[i])
    out[#out + 1] = parts[2 * i + 1]
  end
  return concat(out)
end

local function query_of(row, opts)
  local q
  for _, name in ipairs(row.query_names) do
    local v = opts[name]
    if v ~= nil then
      local kind = row.query[name]
      local text = QUERY[kind](v)
      if not text then E.invalid(name, QUERY_TEXT[kind], "options", "type") end
      q = q or {}
      if type(text) == "table" then
        for _, t in ipairs(text) do q[#q + 1] = name .. "=" .. t end
      else
        q[#q + 1] = name .. "=" .. text
      end
    end
  end
  return q and ("?" .. concat(q, "&")) or ""
end

-- Fills req (a new table, or one a transport lets the client reuse) for
-- the URL given.
local function fill(req, config, method, url, body, key)
  req.method, req.url, req.body = method, url, body
  req.headers, req.header_lines = config.headers, config.header_lines
  req.timeout, req.connect_timeout = config.timeout, config.connect_timeout
  req.extra_lines = nil
  if key then
    local h = {}
    for k, v in pairs(config.headers) do h[k] = v end
    h["Idempotency-Key"] = key
    req.headers = h
    req.extra_lines = { "Idempotency-Key: " .. key }
  end
  return req
end

--- The request a transport gets; key (checked) adds an Idempotency-Key.
function EP.request(state, method, path, body, key)
  local config = state.config
  return fill({}, config, method, config.base_url .. path, body, key)
end

function EP.meta(resp, attempts, version)
  local h = resp.headers or {}
  local copy = h
  if not resp[curl.FRESH_HEADERS] then
    copy = {}
    for k, v in pairs(h) do copy[k] = v end
  end
  return { status = resp.status, headers = copy, version = h["x-polytomic-version"] or version,
    attempts = attempts }
end

--- The data of a row's answer (and the whole envelope); true for an
-- answer that is empty by design.
function EP.decode(row, resp, secrets)
  if row.response == "empty" then return true end
  if row.response == "envelope" then
    local _, envelope = E.decode_envelope(resp, row.name, secrets, true, true)
    return envelope, envelope
  end
  local data, envelope = E.decode_envelope(resp, row.name, secrets, row.response == "list")
  if type(data) ~= "table" then
    E.raise("DecodeError", { status = resp.status, message = format('%s: "data" is not %s', row.name,
      row.response == "list" and "a list" or "an object") })
  end
  return data, envelope
end

--- The JSON of a body (or what `encoder`, a transport's own, makes of it),
-- or a ValidationError naming every problem (with a client's secrets
-- taken out of them).
function EP.encode(body, version, strict, secrets, limits, encoder, kind)
  local json, problems, count = (encoder or core.encode)(body, version, strict, limits, kind)
  if not json then error(E.validation(problems, count, nil, secrets), 0) end
  return json
end

-- See EP.prepare; inline lets the transport encode the body its own way
-- (into the libcurl handle), for a request sent before any other.
local function prepare(state, row, inline, ...)
  local nparams = #row.params
  local opts = O.check((select(nparams + (row.body and 2 or 1), ...)), row.option_names)
  -- The id was checked when its URL was built: a client calling the same
  -- row for the same id again (a sync updated in a loop) reuses the URL.
  local url
  if row.simple and state.url_row == row and state.url_id == (...) then
    url = state.url
  else
    url = state.config.base_url .. path_of(row, ...) .. query_of(row, opts)
    if row.simple then state.url_row, state.url_id, state.url = row, (...), url end
  end
  local version = O.version(opts.version or state.config.version)
  if row.versions and not row.version_set[version] then
    E.invalid("version", format("%s needs API version %s; this call uses %s", row.name,
      concat(row.versions, " or "), version), "request", "enum")
  end
  local json
  if row.body and not opts.plan then
    local body = (select(nparams + 1, ...))
    if row.wrap then body = { [row.wrap] = body } end
    json = EP.encode(body, version, opts.strict, state.secrets, state.limits,
      inline and state.transport.encode or nil, row.body)
  end
  local key = row.idempotent and O.idempotency_key(opts.idempotency_key) or nil
  -- A transport that keeps nothing of a request once request() returns
  -- lends its table to the next call; taken while in use, so a call made
  -- from inside this one (a sleep of the caller's) gets a new one.
  local req = inline and state.transport.reuses_request and state.spare_req
  if req then state.spare_req = nil else req = {} end
  fill(req, state.config, row.method, url, json, key)
  local max = (row.unsafe and not key) and 1 or O.retries(opts.retries, state.policy.retries) + 1
  return req, opts, version, max
end

--[[ Checks everything a call of `row` is given, before anything is sent:
... is the path parameters in template order, then the body if the row has
one, then the options table. Returns the request (its body a JSON string),
the options, the API version and the attempts allowed. ]]
function EP.prepare(state, row, ...)
  return prepare(state, row, false, ...)
end

--- One call: data, meta (and the envelope), or a typed error raised.
function EP.call(state, row, ...)
  local req, _, version, max = prepare(state, row, true, ...)
  local resp, attempts = R.request(state, req, max)
  if state.transport.reuses_request then state.spare_req = req end
  local data, envelope = EP.decode(row, resp, state.secrets)
  return data, EP.meta(resp, attempts, version), envelope
end

return EP
