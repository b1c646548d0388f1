-- The Polytomic bulk-sync API as the stand-in serves it: storage, validation,
-- full-replacement PUT and the two versions' response shapes.
--
-- Internal form (what GET /_standin/state/{id} shows): one record per sync with
-- every top-level field of either version, nulls as json.null, lists as
-- json.array, plus
--   default_schedule     {id, frequency, day_of_month?, day_of_week?, hour?,
--                         minute?, month?, multi?, created_*, updated_*}
--   additional_schedules [{id, frequency, ..., resync_mode?, selective_mode?,
--                          schemas = [...], created_*, updated_*}]
--   discover             boolean (only 2024-02-08 shows it)
-- and, per sync, a list of schemas in BulkSchema form (fields use `obfuscated`).
--
-- Crossing versions (the real mapping is not public; this is the stand-in's):
-- * 2024-02-08 `schedule` is the default schedule without id and timestamps,
--   plus `multi` when one is stored. 2025-09-18 shows the same schedule as
--   `default_schedule` and never shows `multi` (the field is not in that shape).
-- * A 2024-02-08 PUT stores `schedule.multi` as given and clears
--   additional_schedules: `schedule` is that version's whole schedule set, so a
--   full replacement in that shape leaves no other schedules.
-- * A 2025-09-18 PUT keeps a stored `multi` while default_schedule.frequency
--   stays "multi" and drops it otherwise; it leaves `discover` as it was. That
--   shape cannot carry either, so a client that sends back everything it read
--   must not lose them.
-- * 2024-02-08 GET does not show additional_schedules.
-- Siblings by relative name: standin.* in a checkout, bulksync.standin.* installed.
local prefix = (...):match("^(.-)[^.]*$")
local json = require(prefix .. "json")
local seed = require(prefix .. "seed")
local mime = require "mime"

local null, A = json.null, json.array

local M = {}

local V2025, V2024 = "2025-09-18", "2024-02-08"
M.V2025, M.V2024 = V2025, V2024
M.default_version = V2025
M.versions = { [V2025] = true, [V2024] = true }

---------------------------------------------------------------- helpers

local function opt(v, default)
  if v == nil or v == null then return default end
  return v
end

local function is_uuid(s)
  return type(s) == "string"
    and s:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") ~= nil
end
M.is_uuid = is_uuid

local function is_datetime(s)
  if type(s) ~= "string" then return false end
  local rest = s:match("^%d%d%d%d%-%d%d%-%d%d[Tt]%d%d:%d%d:%d%d(.*)$")
  if not rest then return false end
  rest = rest:gsub("^%.%d+", "", 1)
  return rest == "Z" or rest == "z" or rest:match("^[-+]%d%d:%d%d$") ~= nil
end

local function now_rfc3339()
  local socket = require "socket"
  local t = socket.gettime()
  local secs = math.floor(t)
  -- Milliseconds so two quick PUTs still get different updated_at values.
  return os.date("!%Y-%m-%dT%H:%M:%S", secs) .. string.format(".%03dZ", math.floor((t - secs) * 1000))
end

local function new_uuid()
  local b = {}
  for i = 1, 16 do b[i] = math.random(0, 255) end
  b[7] = (b[7] & 0x0f) | 0x40
  b[9] = (b[9] & 0x3f) | 0x80
  local h = string.format(string.rep("%02x", 16), table.unpack(b))
  return h:sub(1, 8) .. "-" .. h:sub(9, 12) .. "-" .. h:sub(13, 16) .. "-" .. h:sub(17, 20) .. "-" .. h:sub(21)
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

local function join(path, key)
  if path == "" then return key end
  return path .. "." .. key
end

local function api_error(status, key, message, metadata)
  return status, { key = key, message = message, metadata = metadata or {}, status = status }
end

---------------------------------------------------------------- request descriptors
-- Each body field is described once here; validation reads these tables.

local function d(kind, extra)
  extra = extra or {}
  extra.kind = kind
  return extra
end

local function enum(values)
  local set = {}
  for _, v in ipairs(values) do set[v] = true end
  return d("enum", { values = values, set = set })
end

local function nullable(desc)
  local c = {}
  for k, v in pairs(desc) do c[k] = v end
  c.nullable = true
  return c
end

local function object(fields, required)
  return d("object", { fields = fields, required = required or {} })
end

local function merge(a, b)
  local t = {}
  for k, v in pairs(a) do t[k] = v end
  for k, v in pairs(b or {}) do t[k] = v end
  return t
end

local STRING, BOOL, INT = d "string", d "boolean", d "integer"
local UUID, DATETIME, MAP, ANY = d "uuid", d "datetime", d "map", d "any"
local function array(item) return d("array", { item = item }) end
local function string_or(obj) return d("string_or", { object = obj }) end

local FREQUENCY = enum { "manual", "continuous", "hourly", "daily", "weekly", "custom", "builder",
  "runafter", "multi", "dbtcloud" }
local DISCOVER = enum { "all", "onlyIncremental", "onlyNonIncremental", "none" }
local NORMALIZE = enum { "enabled", "disabled", "legacy" }
local MODE = enum { "snapshot", "replicate" }
local SELECTIVE = enum { "none", "incrementalFields", "nonincrementalFields" }
local SCHEDULE_SYNC_MODE = enum { "normal", "refetch", "resync", "rebuild" }
local FILTER_FUNCTION = enum { "Equality", "Inequality", "IsNull", "IsNotNull", "True", "False",
  "OnOrAfter", "OnOrBefore", "GreaterThan", "GreaterThanEqual", "LessThan", "LessThanEqual",
  "StringContains", "StringStartsWith", "StringEndsWith", "StringDoesNotContain",
  "StringDoesNotStartWith", "StringDoesNotEndWith", "StringOneOf", "StringNotOneOf", "Between",
  "ArrayContains", "ArrayDoesNotContain", "InTheLast", "RelativeOnOrBefore", "RelativeOnOrAfter",
  "StringLike", "StringNotLike", "StringMatchesTrimmed" }

local SCHEDULE_PARTS = {
  frequency = FREQUENCY, day_of_month = STRING, day_of_week = STRING,
  hour = STRING, minute = STRING, month = STRING,
}

local DEFAULT_SCHEDULE = object(merge(SCHEDULE_PARTS, { id = UUID }), { "frequency" })
local ADDITIONAL_SCHEDULE = object(merge(SCHEDULE_PARTS, {
  id = UUID, resync_mode = SCHEDULE_SYNC_MODE, schemas = array(STRING), selective_mode = SELECTIVE,
}), { "frequency" })
-- BulkSchedule (2024-02-08) nests itself inside `multi`.
local BULK_SCHEDULE = object(merge(SCHEDULE_PARTS, {}), { "frequency" })
BULK_SCHEDULE.fields.multi = object({
  schedules = array(object({ item = SELECTIVE, schedule = BULK_SCHEDULE }, { "item", "schedule" })),
  type = STRING,
})

local FIELD_CONFIG = object({ id = STRING, enabled = nullable(BOOL), obfuscate = nullable(BOOL) }, { "id" })
local FILTER = object({ field_id = STRING, ["function"] = FILTER_FUNCTION, value = ANY }, { "function" })
local SCHEMA_CONFIG = object({
  id = STRING,
  enabled = nullable(BOOL),
  disable_data_cutoff = nullable(BOOL),
  data_cutoff_timestamp = nullable(DATETIME),
  partition_key = nullable(STRING),
  tracking_field = nullable(STRING),
  fields = array(string_or(FIELD_CONFIG)),
  filters = array(FILTER),
}, { "id" })

local COMMON_FIELDS = {
  active = nullable(BOOL),
  automatically_add_new_fields = DISCOVER,
  automatically_add_new_objects = DISCOVER,
  concurrency_limit = nullable(INT),
  data_cutoff_timestamp = nullable(DATETIME),
  destination_configuration = MAP,
  destination_connection_id = UUID,
  disable_record_timestamps = nullable(BOOL),
  mode = MODE,
  name = STRING,
  normalize_names = NORMALIZE,
  organization_id = nullable(UUID),
  policies = nullable(array(UUID)),
  resync_concurrency_limit = nullable(INT),
  schemas = nullable(array(string_or(SCHEMA_CONFIG))),
  source_configuration = nullable(MAP),
  source_connection_id = UUID,
}

local REQUIRED_COMMON = { "destination_configuration", "destination_connection_id", "mode", "name",
  "source_connection_id" }

local function with(list, extra)
  local t = { extra }
  for _, v in ipairs(list) do t[#t + 1] = v end
  return t
end

local BODY = {
  [V2025] = object(merge(COMMON_FIELDS, {
    default_schedule = DEFAULT_SCHEDULE,
    additional_schedules = nullable(array(ADDITIONAL_SCHEDULE)),
  }), with(REQUIRED_COMMON, "default_schedule")),
  [V2024] = object(merge(COMMON_FIELDS, {
    schedule = BULK_SCHEDULE,
    discover = nullable(BOOL),
  }), with(REQUIRED_COMMON, "schedule")),
}

local TYPE_NAMES = {
  string = "a string", boolean = "a boolean", integer = "an integer", uuid = "a UUID string",
  datetime = "an RFC 3339 date-time string", map = "an object", array = "an array",
  object = "an object",
}

-- Returns nil when v matches desc, else the field path, a message and a reason.
local function check(desc, v, path, version)
  if v == null then
    if desc.nullable then return nil end
    return path, "must not be null", "null"
  end
  local k = desc.kind
  local ok = true
  if k == "string" then ok = type(v) == "string"
  elseif k == "boolean" then ok = type(v) == "boolean"
  elseif k == "integer" then ok = math.type(v) == "integer"
  elseif k == "uuid" then ok = is_uuid(v)
  elseif k == "datetime" then ok = is_datetime(v)
  elseif k == "map" then ok = json.is_object(v)
  elseif k == "any" then ok = true
  elseif k == "enum" then
    if type(v) ~= "string" or not desc.set[v] then
      return path, "must be one of: " .. table.concat(desc.values, ", "), "enum"
    end
  elseif k == "string_or" then
    if type(v) == "string" then return nil end
    if not json.is_object(v) then return path, "must be a string or an object", "type" end
    return check(desc.object, v, path, version)
  elseif k == "array" then
    if not json.is_array(v) then return path, "must be an array", "type" end
    for i = 1, #v do
      local p, m, r = check(desc.item, v[i], path .. "[" .. (i - 1) .. "]", version)
      if p then return p, m, r end
    end
  elseif k == "object" then
    if not json.is_object(v) then return path, "must be an object", "type" end
    for _, name in ipairs(desc.required) do
      if v[name] == nil then return join(path, name), "is required", "required" end
    end
    for _, name in ipairs(sorted_keys(v)) do
      local fd = desc.fields[name]
      if not fd then
        return join(path, name), "is not a field of this request in API version " .. version, "unknown"
      end
      local p, m, r = check(fd, v[name], join(path, name), version)
      if p then return p, m, r end
    end
  end
  if not ok then return path, "must be " .. TYPE_NAMES[k], "type" end
  return nil
end

-- The bodies of activate and start (StartBulkSyncRequest; 2024-02-08 has the
-- `resync` boolean where 2025-09-18 has `resync_mode`).
M.ACTIVATE_BODY = object({ active = BOOL }, { "active" })
local START_COMMON = {
  fetch_mode = enum { "none", "incremental", "full" },
  schemas = nullable(array(STRING)),
  test = BOOL,
}
M.START_BODY = {
  [V2025] = object(merge(START_COMMON, { resync_mode = enum { "refetch", "resync", "rebuild" } })),
  [V2024] = object(merge(START_COMMON, { resync = BOOL })),
}

---------------------------------------------------------------- schedules

local SCHEDULE_KEYS = { "frequency", "day_of_month", "day_of_week", "hour", "minute", "month" }
local DEFAULT_KEYS = { "frequency", "day_of_month", "day_of_week", "hour", "minute", "month", "multi" }
local ADDITIONAL_KEYS = { "frequency", "day_of_month", "day_of_week", "hour", "minute", "month",
  "resync_mode", "schemas", "selective_mode" }
local META_KEYS = { "id", "created_at", "created_by", "updated_at", "updated_by" }

local function pick(src, keys, into)
  local t = into or {}
  for _, k in ipairs(keys) do
    if src[k] ~= nil then t[k] = json.copy(src[k]) end
  end
  return t
end

-- A stored schedule from request content; keeps id and creation stamps of
-- `old`, and its update stamps when the content did not change.
local function stored_schedule(old, content, keys, now, actor)
  local s = pick(content, keys)
  if old then
    local same = json.equal(pick(old, keys), s)
    pick(old, { "id", "created_at", "created_by" }, s)
    if same then
      pick(old, { "updated_at", "updated_by" }, s)
      return s
    end
  else
    s.id = new_uuid()
    s.created_at, s.created_by = now, json.copy(actor)
  end
  s.updated_at, s.updated_by = now, json.copy(actor)
  return s
end

---------------------------------------------------------------- schemas

local function field_index(schema)
  local idx = {}
  for _, f in ipairs(schema.fields) do idx[f.id] = f end
  return idx
end

-- Replaces one schema's configuration from a `schemas` item (string items are
-- {id = item}). Settings the item omits take their defaults; user_output_name
-- and output_name cannot be set here and are kept.
local function configure_schema(s, item, path)
  local fields = field_index(s)
  for _, key in ipairs { "partition_key", "tracking_field" } do
    local v = item[key]
    if type(v) == "string" and v ~= "" and not fields[v] then
      return join(path, key), "names an unknown field '" .. v .. "' of schema '" .. s.id .. "'", "unknown_id"
    end
  end
  local filters = item.filters or A {}
  for i, f in ipairs(filters) do
    if f.field_id ~= nil and not fields[f.field_id] then
      return join(path, "filters[" .. (i - 1) .. "].field_id"),
        "names an unknown field '" .. f.field_id .. "' of schema '" .. s.id .. "'", "unknown_id"
    end
  end

  local chosen
  if item.fields and #item.fields > 0 then
    chosen = {}
    for i, f in ipairs(item.fields) do
      local fpath = join(path, "fields[" .. (i - 1) .. "]")
      if type(f) == "string" then f = { id = f } else fpath = fpath .. ".id" end
      if not fields[f.id] then
        return fpath, "names an unknown field '" .. f.id .. "' of schema '" .. s.id .. "'", "unknown_id"
      end
      if chosen[f.id] then
        return fpath, "lists field '" .. f.id .. "' twice", "duplicate"
      end
      chosen[f.id] = { enabled = opt(f.enabled, true), obfuscated = opt(f.obfuscate, false) }
    end
  end

  s.enabled = opt(item.enabled, true)
  -- Unused keys are "" in responses; a request may say so with "" or null.
  s.partition_key = opt(item.partition_key, "")
  s.tracking_field = opt(item.tracking_field, "")
  s.data_cutoff_timestamp = opt(item.data_cutoff_timestamp, null)
  s.disable_data_cutoff = opt(item.disable_data_cutoff, false)
  s.filters = json.copy(filters)
  for _, f in ipairs(s.fields) do
    -- An empty or omitted field list selects every field.
    local c = chosen and chosen[f.id] or { enabled = chosen == nil, obfuscated = false }
    f.enabled, f.obfuscated = c.enabled, c.obfuscated
  end
  return nil
end

-- Omitted or null `schemas` selects every schema as if listed by id; a given
-- list configures exactly the listed schemas and disables the others (their
-- other settings are kept).
local function apply_schemas(old, items)
  local list = json.copy(old)
  local by_id = {}
  for _, s in ipairs(list) do by_id[s.id] = s end
  if items == nil or items == null then
    for _, s in ipairs(list) do configure_schema(s, { id = s.id }, "schemas") end
    return list
  end
  local seen = {}
  for i, item in ipairs(items) do
    local path = "schemas[" .. (i - 1) .. "]"
    local idpath = path
    if type(item) == "string" then item = { id = item } else idpath = path .. ".id" end
    local s = by_id[item.id]
    if not s then return nil, idpath, "names an unknown schema '" .. item.id .. "'", "unknown_id" end
    if seen[item.id] then return nil, idpath, "lists schema '" .. item.id .. "' twice", "duplicate" end
    seen[item.id] = true
    local p, m, r = configure_schema(s, item, path)
    if p then return nil, p, m, r end
  end
  for _, s in ipairs(list) do
    if not seen[s.id] then s.enabled = false end
  end
  return list
end

---------------------------------------------------------------- views

local COMMON_OUT = { "id", "name", "active", "mode", "automatically_add_new_fields",
  "automatically_add_new_objects", "concurrency_limit", "resync_concurrency_limit", "created_at",
  "created_by", "updated_at", "updated_by", "data_cutoff_timestamp", "destination_configuration",
  "destination_connection_id", "disable_record_timestamps", "normalize_names", "organization_id",
  "policies", "source_configuration", "source_connection_id" }

-- BulkSchemaListItem: what the schemas listing shows (no fields, no filters).
local SCHEMA_LIST_KEYS = { "id", "enabled", "output_name", "user_output_name", "partition_key",
  "tracking_field", "data_cutoff_timestamp", "disable_data_cutoff" }
-- BulkSchema: what the one-schema endpoint shows.
local SCHEMA_KEYS = { "id", "enabled", "output_name", "user_output_name", "partition_key",
  "tracking_field", "data_cutoff_timestamp", "disable_data_cutoff", "fields", "filters" }
local FIELD_KEYS = { "id", "enabled", "obfuscated", "output_name", "user_output_name" }
local FILTER_KEYS = { "field_id", "function", "value" }

-- opts.null_empty_lists: an empty list typed array-or-null is shown as null.
function M.view(sync, version, opts)
  local v = pick(sync, COMMON_OUT)
  if version == V2024 then
    v.schedule = pick(sync.default_schedule, DEFAULT_KEYS)
    v.discover = sync.discover
  else
    v.default_schedule = pick(sync.default_schedule, META_KEYS, pick(sync.default_schedule, SCHEDULE_KEYS))
    local extra = A {}
    for i, s in ipairs(sync.additional_schedules) do
      extra[i] = pick(s, META_KEYS, pick(s, ADDITIONAL_KEYS))
    end
    if #extra == 0 and opts and opts.null_empty_lists then extra = null end
    v.additional_schedules = extra
  end
  return v
end

function M.schema_list_item(s)
  return pick(s, SCHEMA_LIST_KEYS)
end

function M.schema_view(s)
  local v = pick(s, SCHEMA_KEYS)
  v.fields, v.filters = A {}, A {}
  for i, f in ipairs(s.fields) do v.fields[i] = pick(f, FIELD_KEYS) end
  for i, f in ipairs(s.filters) do v.filters[i] = pick(f, FILTER_KEYS) end
  return v
end

---------------------------------------------------------------- the app

local App = {}
App.__index = App

-- The list's page size: the published list description says the default
-- and the maximum are both 50.
M.max_page = 50

function M.new(opts)
  opts = opts or {}
  local app = setmetatable({
    api_key = opts.api_key or seed.api_key,
    org_id = opts.org_id or seed.org_id,
  }, App)
  app:reset()
  return app
end

-- Switches set through POST /_standin/config: response shapes, and how
-- executions run (execution_steps polls to the end, executions_fail).
M.config_defaults = { null_empty_lists = false, empty_last_page_token = false,
  execution_steps = 3, executions_fail = false }

-- nil when `value` may be set for config key `key`, else why not.
function M.check_config(key, value)
  local default = M.config_defaults[key]
  if default == nil then return "unknown config key '" .. key .. "'" end
  if key == "execution_steps" then
    if math.type(value) ~= "integer" or value < 1 or value > 1000 then
      return "execution_steps must be an integer from 1 to 1000"
    end
  elseif type(value) ~= "boolean" then
    return key .. " must be true or false"
  end
  return nil
end

function App:reset()
  self.exports = {}
  self.data = seed.build(self.org_id)
  self.data.executions = {}
  self.seq, self.done_seq = 0, 0
  self.config = json.copy(M.config_defaults)
end

-- Adds `count` synthetic syncs (seed.synthetic); with `replace` the syncs
-- held so far are dropped first, so {count = 0, replace = true} leaves none.
function App:seed_many(count, replace)
  if replace then self.data = { order = {}, syncs = {}, schemas = {}, executions = {} } end
  local first = 1
  while self.data.syncs[seed.synthetic_id(first)] do first = first + 1 end
  for i = first, first + count - 1 do
    local sync, schemas = seed.synthetic(i, self.org_id)
    self.data.order[#self.data.order + 1] = sync.id
    self.data.syncs[sync.id] = sync
    self.data.schemas[sync.id] = schemas
  end
  return #self.data.order
end

function App:state(id)
  local sync = self.data.syncs[id]
  if not sync then return nil end
  local executions = A {}
  for i, e in ipairs(self.data.executions[id] or {}) do executions[i] = json.copy(e) end
  return { sync = json.copy(sync), schemas = json.copy(self.data.schemas[id]), executions = executions }
end

-- The actor recorded in updated_by for each kind of credential.
function App:actor(kind)
  if kind == "basic" then
    return { id = self.org_id, name = "Organization API key", type = "organization" }
  end
  return { id = "d00dfeed-0000-4000-8000-0000000000aa", name = "Stand-in API user", type = "user" }
end

local function unauthorized(version, msg)
  if version == V2024 then
    return 401, { code = 401, context = {}, error = msg, status = "Unauthorized" }
  end
  return api_error(401, "unauthorized", msg)
end

-- The endpoints that declare 403.
M.forbidden_endpoints = { create = true, put = true, delete = true, activate = true, cancel = true,
  cancel_execution = true, put_schema = true, patch_schemas = true, cancel_schema = true,
  list_schedules = true, create_schedule = true, get_schedule = true, put_schedule = true, delete_schedule = true }

-- Returns the credential kind, or status and error body. Only an endpoint
-- that declares 403 (M.forbidden_endpoints) answers it, for a Basic
-- credential whose key is right but whose organization is not this one;
-- everything else that fails is 401, which every endpoint may answer.
function App:authenticate(headers, version, endpoint)
  local auth = headers["authorization"]
  local scheme, cred
  if auth then scheme, cred = auth:match("^%s*(%S+)%s+(%S+)%s*$") end
  if not scheme then return nil, unauthorized(version, "missing or malformed Authorization header") end
  scheme = scheme:lower()
  if scheme == "bearer" and cred == self.api_key then return "bearer" end
  if scheme == "basic" then
    local plain = mime.unb64(cred) or ""
    if plain == self.org_id .. ":" .. self.api_key then return "basic" end
    local key = plain:match("^[^:]*:(.*)$")
    -- A value that is a version string: the endpoint exists (and declares
    -- 403) in that version only; elsewhere it is missing, and answers 401.
    local forbidden = M.forbidden_endpoints[endpoint]
    if key == self.api_key and (forbidden == true or forbidden == version) then
      return nil, api_error(403, "forbidden", "the API key is not valid for this organization")
    end
  elseif scheme ~= "bearer" then
    return nil, unauthorized(version, "unsupported Authorization scheme")
  end
  -- Never echo the credential.
  return nil, unauthorized(version, "invalid API key")
end

local function decode_path(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function parse_query(q)
  local t = {}
  for pair in (q or ""):gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    t[decode_path(k)] = decode_path(v:gsub("+", " "))
  end
  return t
end

-- A request the endpoint cannot serve (bad query parameter or body,
-- unsupported version) gets the endpoint's own answer for it: 400 where the
-- endpoint declares 400 (PUT sync, start), else 500 where it declares 500
-- (the list, delete, activate, cancel, the sync's status, cancel execution),
-- else 404 (the GETs of one sync or schema, the schemas listing, the
-- executions list, one execution, the status listing): the harshest reading,
-- since no other declared status says "your request is wrong".
M.bad_request_status = { create = 400, put_schema = 500, patch_schemas = 400, cancel_schema = 500,
  logs = 404, export_logs = 400, consolelog = 400, schema_consolelog = 400,
  list_schedules = 500, create_schedule = 400, get_schedule = 500, put_schedule = 400, delete_schedule = 500,
  list = 500, get = 404, put = 400, schemas = 404, schema = 404,
  delete = 500, activate = 500, cancel = 500, start = 400, executions = 404, execution = 404,
  cancel_execution = 500, status = 500, list_status = 404 }

local function bad_request(endpoint, key, message, metadata)
  return api_error(M.bad_request_status[endpoint], key, message, metadata)
end

local function bool_param(endpoint, query, name)
  local v = query[name]
  if v == nil or v == "true" or v == "false" then return nil end
  return bad_request(endpoint, "bad_request", "query parameter '" .. name .. "' must be true or false",
    { field = name })
end

function App:find(id)
  if not is_uuid(id) then return nil end
  return self.data.syncs[id]
end

local function not_found(id)
  return api_error(404, "not_found", "bulk sync not found", { id = id })
end

-- Decodes and checks a sync body (PUT and create share it); returns the body,
-- or nil and the 400 answer.
local function sync_body(body_text, version)
  if body_text == nil or body_text:match("^%s*$") then
    return nil, api_error(400, "bad_request", "request body is required", {})
  end
  local body, err = json.decode(body_text)
  if body == nil then
    return nil, api_error(400, "invalid_json", "request body is not valid JSON: " .. err, {})
  end
  local function invalid(path, msg, reason)
    if path == "" then
      return api_error(400, "bad_request", "request body " .. msg, { reason = reason })
    end
    return api_error(400, "bad_request", "field '" .. path .. "' " .. msg, { field = path, reason = reason })
  end
  local p, m, r = check(BODY[version], body, "", version)
  if p then return nil, invalid(p, m, r) end
  return body
end

local function invalid_field(path, msg, reason)
  return api_error(400, "bad_request", "field '" .. path .. "' " .. msg, { field = path, reason = reason })
end

local replace -- below: the full replacement PUT and create share

function App:put(id, body_text, version, actor)
  local sync = self:find(id)
  if not sync then return not_found(id) end
  local body, status, err = sync_body(body_text, version)
  if not body then return status, err end
  local new, schemas
  new, schemas, status, err = replace(sync, self.data.schemas[id], body, version, actor)
  if not new then return status, err end
  self.data.syncs[id] = new
  self.data.schemas[id] = schemas
  return 200, { data = M.view(new, version, self.config) }
end

-- The schemas a new sync finds on its source: every source connection
-- offers the same tables (standin/catalog.lua), every field enabled.
function M.source_schemas()
  local list = A {}
  for i, t in ipairs(require(prefix .. "catalog").source_tables) do
    local fields = A {}
    for j, f in ipairs(t.fields) do
      fields[j] = { id = f[1], enabled = true, obfuscated = false, output_name = f[1], user_output_name = "" }
    end
    list[i] = { id = t.id, enabled = true, output_name = (t.id:gsub("%.", "_")), user_output_name = "",
      partition_key = "", tracking_field = "", data_cutoff_timestamp = null, disable_data_cutoff = false,
      filters = A {}, fields = fields }
  end
  return list
end

-- The connections a sync may name: the seed's.
local function known_connection(id)
  for _, c in pairs(seed.connections) do
    if c == id then return true end
  end
  return false
end
M.known_connection = known_connection

-- POST /api/bulk/syncs: the PUT body and validation; what it omits takes the
-- defaults a PUT reset gives, and omitted or null `schemas` selects every
-- schema of the source. A well-formed body naming a connection the
-- organization does not have is unprocessable (422).
function App:create(body_text, version, actor)
  local body, status, err = sync_body(body_text, version)
  if not body then return status, err end
  for _, key in ipairs { "source_connection_id", "destination_connection_id" } do
    if not known_connection(body[key]) then
      return api_error(422, "unprocessable", "field '" .. key .. "' names no connection of this organization",
        { field = key, reason = "unknown_id" })
    end
  end
  local template = { id = new_uuid(), organization_id = self.org_id, additional_schedules = A {}, discover = false }
  local new, schemas
  new, schemas, status, err = replace(template, M.source_schemas(), body, version, actor)
  if not new then return status, err end
  self.data.syncs[new.id] = new
  self.data.schemas[new.id] = schemas
  self.data.order[#self.data.order + 1] = new.id
  return 200, { data = M.view(new, version, self.config) }
end

-- The record a full replacement of `sync` (and its schemas `old_schemas`)
-- by `body` gives, and its schemas; or nil, nil, status, error. Create
-- passes a template holding only the stamps a new sync starts with.
function replace(sync, old_schemas, body, version, actor)
  local invalid = function(p, m, r) return nil, nil, invalid_field(p, m, r) end
  local schemas, p, m, r = apply_schemas(old_schemas, body.schemas)
  if not schemas then return invalid(p, m, r) end
  local schema_ids = {}
  for _, s in ipairs(schemas) do schema_ids[s.id] = true end

  local now = now_rfc3339()
  local new = {
    id = sync.id,
    -- Read-only here: a normal caller's organization comes from its key, so
    -- a body's organization_id (meant for partner callers) is ignored.
    organization_id = sync.organization_id,
    created_at = sync.created_at or now,
    created_by = json.copy(sync.created_by or actor),
    updated_at = now,
    updated_by = json.copy(actor),
    name = body.name,
    mode = body.mode,
    source_connection_id = body.source_connection_id,
    destination_connection_id = body.destination_connection_id,
    destination_configuration = json.copy(body.destination_configuration),
    -- Everything below is reset when omitted: PUT is a full replacement.
    source_configuration = json.copy(opt(body.source_configuration, null)),
    active = opt(body.active, false),
    automatically_add_new_fields = opt(body.automatically_add_new_fields, "all"),
    automatically_add_new_objects = opt(body.automatically_add_new_objects, "none"),
    normalize_names = opt(body.normalize_names, "enabled"),
    concurrency_limit = opt(body.concurrency_limit, null),
    resync_concurrency_limit = opt(body.resync_concurrency_limit, null),
    data_cutoff_timestamp = opt(body.data_cutoff_timestamp, null),
    disable_record_timestamps = opt(body.disable_record_timestamps, false),
    policies = json.copy(opt(body.policies, A {})),
  }

  if version == V2024 then
    new.default_schedule = stored_schedule(sync.default_schedule, body.schedule, DEFAULT_KEYS, now, actor)
    new.additional_schedules = A {}
    new.discover = opt(body.discover, false)
  else
    local ds = body.default_schedule
    local old_default = sync.default_schedule or {}
    if ds.id ~= nil and ds.id ~= old_default.id then
      return invalid("default_schedule.id", "is not the id of this sync's default schedule", "unknown_id")
    end
    new.discover = opt(sync.discover, false)
    local content = pick(ds, SCHEDULE_KEYS)
    if ds.frequency == "multi" then content.multi = old_default.multi end
    new.default_schedule = stored_schedule(sync.default_schedule, content, DEFAULT_KEYS, now, actor)
    local old_by_id = {}
    for _, s in ipairs(sync.additional_schedules or {}) do old_by_id[s.id] = s end
    local seen, list = {}, A {}
    for i, item in ipairs(opt(body.additional_schedules, {})) do
      local path = "additional_schedules[" .. (i - 1) .. "]"
      if item.id ~= nil then
        if not old_by_id[item.id] then
          return invalid(path .. ".id", "is not the id of an additional schedule of this sync", "unknown_id")
        end
        if seen[item.id] then return invalid(path .. ".id", "repeats a schedule id", "duplicate") end
        seen[item.id] = true
      end
      for j, sid in ipairs(item.schemas or {}) do
        if not schema_ids[sid] then
          return invalid(path .. ".schemas[" .. (j - 1) .. "]", "names an unknown schema '" .. sid .. "'",
            "unknown_id")
        end
      end
      local item_content = pick(item, ADDITIONAL_KEYS)
      item_content.schemas = item_content.schemas or A {}
      list[i] = stored_schedule(old_by_id[item.id], item_content, ADDITIONAL_KEYS, now, actor)
    end
    new.additional_schedules = list
  end
  return new, schemas
end

---------------------------------------------------------------- the list

-- updated_at as a string that sorts in time order: the stored stamps are all
-- UTC ("Z"), with or without a fraction, so pad the fraction to nine digits.
local function time_key(s)
  local base, frac = s:match("^(%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d)%.?(%d*)")
  if not base then return s end
  return base .. "." .. (frac .. string.rep("0", 9)):sub(1, 9)
end

-- Newest first, ties by id ascending: the list description's order.
local function before(a, b)
  local ka, kb = time_key(a.updated_at), time_key(b.updated_at)
  if ka ~= kb then return ka > kb end
  return a.id < b.id
end

-- The page token names the last sync of the page (its sort position), so a
-- PUT between two pages neither repeats nor skips a sync that did not move.
local function make_token(sync)
  return (mime.b64("p1|" .. time_key(sync.updated_at) .. "|" .. sync.id):gsub("=", ""))
end

local function read_token(token)
  local padded = token .. string.rep("=", (4 - #token % 4) % 4)
  local ok, plain = pcall(mime.unb64, padded)
  if not ok or type(plain) ~= "string" then return nil end
  local key, id = plain:match("^p1|([^|]+)|(.+)$")
  if not key or not is_uuid(id) then return nil end
  return { key = key, id = id }
end

local function after_cursor(sync, cursor)
  local k = time_key(sync.updated_at)
  if k ~= cursor.key then return k < cursor.key end
  return sync.id > cursor.id
end

function App:list(query, version)
  local s, e = bool_param("list", query, "active")
  if s then return s, e end
  local limit = M.max_page
  if query.limit ~= nil then
    limit = query.limit:match("^%d+$") and tonumber(query.limit)
    if not limit or limit < 1 or limit > M.max_page then
      return bad_request("list", "bad_request",
        "query parameter 'limit' must be an integer from 1 to " .. M.max_page, { field = "limit" })
    end
  end
  local cursor
  if query.page_token ~= nil then
    cursor = read_token(query.page_token)
    if not cursor then
      return bad_request("list", "bad_request", "query parameter 'page_token' is not a valid page token",
        { field = "page_token" })
    end
  end
  local all = {}
  for _, id in ipairs(self.data.order) do
    local sync = self.data.syncs[id]
    if (query.active == nil or tostring(sync.active) == query.active)
      and (cursor == nil or after_cursor(sync, cursor)) then
      all[#all + 1] = sync
    end
  end
  table.sort(all, before)
  local page = A {}
  for i = 1, math.min(limit, #all) do page[i] = M.view(all[i], version, self.config) end
  local body = { data = page }
  if #all > limit then
    body.pagination = { next_page_token = make_token(all[limit]) }
  elseif self.config.empty_last_page_token then
    body.pagination = { next_page_token = "" }
  end
  if #page == 0 and self.config.null_empty_lists then body.data = null end
  return 200, body
end

---------------------------------------------------------------- routing

-- The endpoints served, by path shape and method. Returns the endpoint's
-- name and its path parameters, or nil and 404/405 for what is not one.
function M.match(method, path)
  path = path:gsub("(.)/$", "%1")
  local function only(m, name, id, sub, extra)
    if method ~= m then return nil, 405 end
    return name, id, sub, extra
  end
  if path == "/api/bulk/syncs" then
    if method == "POST" then return "create" end
    return only("GET", "list")
  end
  if path == "/api/bulk/syncs/status" then return only("GET", "list_status") end
  local conn, role = path:match("^/api/connections/([^/]+)/bulksync/([^/]+)$")
  if role == "source" or role == "target" then return only("GET", role, decode_path(conn)) end
  local id, rest = path:match("^/api/bulk/syncs/([^/]+)(.*)$")
  if not id then return nil, 404 end
  id = decode_path(id)
  if rest == "" then
    if method == "GET" then return "get", id end
    if method == "DELETE" then return "delete", id end
    return only("PUT", "put", id)
  end
  if rest == "/schemas" then
    if method == "PATCH" then return "patch_schemas", id end
    return only("GET", "schemas", id)
  end
  if rest == "/schedules" then
    if method == "POST" then return "create_schedule", id end
    return only("GET", "list_schedules", id)
  end
  local schedule_id = rest:match("^/schedules/([^/]+)$")
  if schedule_id then
    schedule_id = decode_path(schedule_id)
    if method == "PUT" then return "put_schedule", id, schedule_id end
    if method == "DELETE" then return "delete_schedule", id, schedule_id end
    return only("GET", "get_schedule", id, schedule_id)
  end
  if rest == "/activate" then return only("POST", "activate", id) end
  if rest == "/cancel" then return only("POST", "cancel", id) end
  if rest == "/status" then return only("GET", "status", id) end
  if rest == "/error-handling" then return only("GET", "error_handling", id) end
  if rest == "/executions" then
    if method == "GET" then return "executions", id end
    return only("POST", "start", id)
  end
  local schema_id, schema_tail = rest:match("^/schemas/([^/]+)(.*)$")
  if schema_id and schema_tail == "" then
    if method == "PUT" then return "put_schema", id, decode_path(schema_id) end
    return only("GET", "schema", id, decode_path(schema_id))
  end
  if schema_id and schema_tail == "/cancel" then return only("POST", "cancel_schema", id, decode_path(schema_id)) end
  local exec_id, tail = rest:match("^/executions/([^/]+)(.*)$")
  if exec_id and tail == "" then return only("GET", "execution", id, decode_path(exec_id)) end
  if exec_id and tail == "/logs" then return only("GET", "logs", id, decode_path(exec_id)) end
  if exec_id and tail == "/logs/export" then return only("POST", "export_logs", id, decode_path(exec_id)) end
  if exec_id and tail == "/consolelog" then return only("GET", "consolelog", id, decode_path(exec_id)) end
  local log_schema = exec_id and tail:match("^/schemas/([^/]+)/consolelog$")
  if log_schema then
    return only("GET", "schema_consolelog", id, decode_path(exec_id), decode_path(log_schema))
  end
  if exec_id and tail == "/cancel" then return only("POST", "cancel_execution", id, decode_path(exec_id)) end
  return nil, 404
end

-- Serves an authenticated request with a supported version.
function App:serve(endpoint, id, schema_id, req, version, actor, extra)
  local query = parse_query(req.query)
  if endpoint == "logs" then return self:execution_logs(id, schema_id) end
  if endpoint == "export_logs" then return self:export_logs(id, schema_id, query) end
  if endpoint == "consolelog" or endpoint == "schema_consolelog" then
    return self:console_log(endpoint, id, schema_id, extra, query, version)
  end
  if endpoint == "list" then return self:list(query, version) end
  if endpoint == "source" then return self:bulk_source(id, query) end
  if endpoint == "target" then return self:bulk_target(id) end
  if endpoint == "error_handling" then return self:error_handling(id, version) end
  if endpoint == "put" then return self:put(id, req.body, version, actor) end
  if endpoint == "create" then return self:create(req.body, version, actor) end
  if endpoint == "put_schema" then return self:put_schema(id, schema_id, req.body, version) end
  if endpoint == "patch_schemas" then return self:patch_schemas(id, req.body, version) end
  if endpoint == "cancel_schema" then return self:cancel_schema(id, schema_id) end
  if endpoint == "list_schedules" then return self:list_schedules(id) end
  if endpoint == "create_schedule" then return self:create_schedule(id, req.body, version, actor) end
  if endpoint == "get_schedule" then return self:get_schedule(id, schema_id) end
  if endpoint == "put_schedule" then return self:put_schedule(id, schema_id, req.body, version, actor) end
  if endpoint == "delete_schedule" then return self:delete_schedule(id, schema_id) end
  if endpoint == "delete" then return self:delete(id, query) end
  if endpoint == "activate" then return self:activate(id, req.body, version, actor) end
  if endpoint == "cancel" then return self:cancel_sync(id) end
  if endpoint == "start" then return self:start(id, req.body, version) end
  if endpoint == "executions" then return self:list_executions(id, query) end
  if endpoint == "execution" then return self:get_execution(id, schema_id) end
  if endpoint == "cancel_execution" then return self:cancel_one(id, schema_id) end
  if endpoint == "status" then return self:status(id, version) end
  if endpoint == "list_status" then return self:list_status(query, req.query) end
  if endpoint == "get" then
    local s, e = bool_param("get", query, "refresh_schemas")
    if s then return s, e end
  end
  local sync = self:find(id)
  if not sync then return not_found(id) end
  if endpoint == "get" then return 200, { data = M.view(sync, version, self.config) } end
  local schemas = self.data.schemas[id]
  if endpoint == "schemas" then
    local list = A {}
    for i, s in ipairs(schemas) do list[i] = M.schema_list_item(s) end
    if #list == 0 and self.config.null_empty_lists then list = null end
    return 200, { data = list }
  end
  for _, s in ipairs(schemas) do
    if s.id == schema_id then return 200, { data = M.schema_view(s) } end
  end
  return api_error(404, "not_found", "schema not found", { id = schema_id })
end

-- Handles one API request: returns status, body (a table to encode) and the
-- version that served it, for the X-Polytomic-Version echo. A request with an
-- unsupported version is answered in the default version's shape and echoes
-- the default version, since no other version served it.
function App:handle(req)
  local version = req.headers["x-polytomic-version"]
  if version == nil or version == "" then version = M.default_version end
  local served = M.versions[version] and version or M.default_version

  local endpoint, id, schema_id, extra = M.match(req.method, req.path)
  local kind, status, err = self:authenticate(req.headers, served, endpoint)
  if not kind then return status, err, served end
  if not endpoint then
    local path = req.path:gsub("(.)/$", "%1")
    if id == 405 then
      status, err = api_error(405, "method_not_allowed", "method " .. req.method .. " is not supported on " .. path)
    else
      status, err = api_error(404, "not_found", "no such endpoint: " .. path)
    end
    return status, err, served
  end
  if not M.versions[version] then
    status, err = bad_request(endpoint, "unsupported_version",
      "unsupported X-Polytomic-Version '" .. version .. "' (supported: 2025-09-18, 2024-02-08)",
      { header = "X-Polytomic-Version" })
    return status, err, served
  end
  status, err = self:serve(endpoint, id, schema_id, req, version, self:actor(kind), extra)
  return status, err, version
end

-- A write's JSON body, or the endpoint's own bad-request answer.
local function decode_body(endpoint, text)
  if text == nil or text:match("^%s*$") then
    return nil, bad_request(endpoint, "bad_request", "request body is required", {})
  end
  local body, err = json.decode(text)
  if body == nil then
    return nil, bad_request(endpoint, "invalid_json", "request body is not valid JSON: " .. err, {})
  end
  if not json.is_object(body) then
    return nil, bad_request(endpoint, "bad_request", "request body must be an object", { reason = "type" })
  end
  return body
end

local function invalid_body_field(endpoint, path, msg, reason)
  return bad_request(endpoint, "bad_request", "field '" .. path .. "' " .. msg, { field = path, reason = reason })
end

local helpers = {
  decode_body = decode_body, invalid_body_field = invalid_body_field,
  api_error = api_error, not_found = not_found, bad_request = bad_request, bool_param = bool_param,
  now_rfc3339 = now_rfc3339, new_uuid = new_uuid, is_uuid = is_uuid, pick = pick, check = check,
  decode_path = decode_path, join = join, stored_schedule = stored_schedule, DEFAULT_KEYS = DEFAULT_KEYS,
  ADDITIONAL_KEYS = ADDITIONAL_KEYS,
  desc = { object = object, array = array, nullable = nullable, enum = enum, STRING = STRING, BOOL = BOOL,
    DATETIME = DATETIME, UUID = UUID, FILTER = FILTER, FREQUENCY = FREQUENCY, SELECTIVE = SELECTIVE },
}
require(prefix .. "lifecycle")(M, App, helpers)
require(prefix .. "writes")(M, App, helpers)
require(prefix .. "schedules")(M, App, helpers)
require(prefix .. "logs")(M, App, helpers)
require(prefix .. "discovery")(M, App, helpers)

return M
