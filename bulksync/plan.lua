--[[
bulksync.plan: partial changes to a bulk sync without losing data.

PUT /api/bulk/syncs/{id} is a full replacement: every field left out of the
body is reset by the server. This module, pure Lua and offline, turns a GET
response into a complete update body (to_update), applies changes to such a
body (apply), and compares a body with the current sync field by field so a
person sees every reset before it happens (diff, render).

Which fields exist, their types, and what the server does when one is
omitted all come from core.schema(version): the fields are described once,
as data, in the C core. The only body names used here are `schemas`, which
the GET lacks and which is filled from each schema's own record; that
record's spellings of a field come from the field's `response_name`.
]]

local core = require "bulksync.core"
local render_lib = require "bulksync.plan_render"

local null = core.null
local array_mt = core.array_mt

local MAX_DEPTH = 64

--- The plan: what a write would change and reset, before it is sent.
--
-- `client:plan(id, body)`, `bulksync.diff(current, body)`, and the
-- `plan = true` option of `client:update`, `client:create`,
-- `client:update_schema` and `client:update_schedule` return a @{Plan}.
-- It is computed offline from what was read; nothing is written.
-- @module bulksync.plan
-- @usage
-- local plan = client:plan(id, body)
-- print(plan)
-- --> bulk sync 6b0e7d1c-... (API 2025-09-18): 1 reset, 1 other change
-- -->   change  name                          "Orders" -> "Orders, hourly"
-- -->   RESET   automatically_add_new_fields  "none" -> "all"  (newly discovered fields are enabled)
-- -->   16 fields unchanged
-- for _, c in ipairs(plan.changes) do
--   if c.action == "reset" then print(c.field, c.note) end
-- end
local plan = {}

-- The schema export is rebuilt by every core.schema call; keep one per version.
local schema_cache = {}

local function schema_of(version, kind)
  version = version or core.DEFAULT_VERSION
  local key = kind and (version .. "/" .. kind) or version
  local s = schema_cache[key]
  if not s then
    s = core.schema(version, kind)
    schema_cache[key] = s
  end
  return s, version
end

local function is_none(v)
  return v == nil or v == null
end

-- Too deep (or a table that contains itself) is the caller's input, not a
-- bug here: the error is a problem { path, problem } that bulksync turns
-- into a ValidationError. path is the top-level field, filled in by named().
local Problem = {}

function plan.is_problem(e)
  return getmetatable(e) == Problem
end

local function depth_check(depth)
  if depth > MAX_DEPTH then
    error(setmetatable({ problem = "nested deeper than " .. MAX_DEPTH ..
      " levels (does a table contain itself?)" }, Problem), 0)
  end
end

-- Passes on what pcall returned, naming the field in a depth problem.
local function named(name, ok, ...)
  if ok then return ... end
  local e = ...
  if plan.is_problem(e) and e.path == nil then e.path = tostring(name) end
  error(e, 0)
end

-- Deep copy that keeps the JSON array marker, so empty lists stay lists.
local function copy(v, depth)
  if type(v) ~= "table" then return v end
  depth = depth or 0
  depth_check(depth)
  local out = {}
  for k, x in pairs(v) do out[k] = copy(x, depth + 1) end
  if getmetatable(v) == array_mt then setmetatable(out, array_mt) end
  return out
end

-- The list of sub-fields of an object-like field (object, string_or_object).
local function subfields(field)
  return field and field.fields
end

--[[ project(value, field, from_response)
Copies value keeping only what the request schema knows about it: unknown
keys of objects (id, created_at, updated_by ... of a response) are dropped,
lists get the array marker, free-form maps are copied whole, explicit nulls
stay null. With from_response, a field is read under its response_name
when it has one (a schema's record spells `obfuscate` `obfuscated`). ]]
local project

local function project_object(value, field, from_response, depth)
  local out = {}
  for _, sub in ipairs(subfields(field)) do
    local src = value[(from_response and sub.response_name) or sub.name]
    if src ~= nil then
      -- A null where the request cannot take one means "not set": leave it
      -- out, which is what the server assumes for an optional nested field.
      if not (src == null and not sub.nullable and not sub.required) then
        out[sub.name] = project(src, sub, from_response, depth + 1)
      end
    end
  end
  return out
end

project = function(value, field, from_response, depth)
  depth = depth or 0
  depth_check(depth)
  if value == null or type(value) ~= "table" or not field then
    return copy(value, depth)
  end
  local t = field.type
  if (t == "object" or t == "string_or_object") and subfields(field) then
    return project_object(value, field, from_response, depth)
  elseif t == "list" and field.items then
    local out = setmetatable({}, array_mt)
    for i = 1, #value do
      out[i] = project(value[i], field.items, from_response, depth + 1)
    end
    return out
  end
  return copy(value, depth)
end

-- Accepts a list or its envelope {data = list}.
local function unwrap_list(v)
  if type(v) == "table" and v[1] == nil and type(v.data) == "table" then
    return v.data
  end
  return v
end

-- GET returns {data = sync}; accept either.
local function unwrap_sync(sync)
  if type(sync) == "table" and sync.name == nil and sync.id == nil
      and type(sync.data) == "table" then
    return sync.data
  end
  return sync
end

-- GET .../schemas lists each schema without its fields and filters; only
-- GET .../schemas/{schema_id} has them. A body item without `fields` gets
-- every field of its schema enabled, so only the per-schema details can
-- make a body that keeps the selections.
local function has_fields(s)
  return type(s) == "table" and type(s.fields) == "table"
end

local LISTING_HINT = "the schemas listing carries no fields or filters; pass each schema's details"
  .. " (client:schemas(id, { details = true }), or client:schema(id, schema_id) for each)"

--[[ Every schema of the details, enabled or not, as a SchemaConfiguration
with all of its fields (their enabled and obfuscate choices) and filters:
nothing is left to a server default. Returns nil for a sync without schemas,
since no body value says "none" (an empty or omitted list selects all), or
nil and a problem when an item lacks its fields. ]]
local function schemas_body(list, schemas_field)
  local items = unwrap_list(list)
  if items == null then return nil end
  local out = setmetatable({}, array_mt)
  for i, s in ipairs(items) do
    if not has_fields(s) then
      return nil, { path = "schemas", problem = string.format("item %d has no fields: %s", i, LISTING_HINT) }
    end
    out[i] = project(s, schemas_field.items, true)
  end
  if #out == 0 then return nil end
  return out
end

--[[ The 2025-09-18 default_schedule cannot carry a `multi` schedule's
per-field schedules: a full replacement with frequency "multi" would drop
them. ]]
local function lossy_problem(body, version)
  local ds = body.default_schedule
  if version ~= "2024-02-08" and type(ds) == "table" and ds.frequency == "multi" then
    return { path = "default_schedule.frequency", problem = 'is "multi": its per-field schedules are not'
      .. ' part of a ' .. version .. ' body, so a full replacement would drop them; use version'
      .. ' "2024-02-08" for this sync, or set another default_schedule' }
  end
end
plan.lossy_problem = lossy_problem

local function other_version_hint(sync, schema)
  for name, version in pairs(schema.other_version or {}) do
    if sync[name] ~= nil then
      return string.format(" (it has %s, a %s field: fetch and update it with version %s)",
                           name, version, version)
    end
  end
  return ""
end

--[[ The projection of a GET response on the request schema, as complete as
the response allows, and the problems that keep it from being a complete
body. ]]
local function project_sync(sync, schema, opts)
  local body, problems = {}, {}
  for _, f in ipairs(schema.fields or {}) do
    local name = f.name
    local v = sync[name]
    if name == "schemas" then
      if opts.schemas ~= nil then
        local list, p = named(name, pcall(schemas_body, opts.schemas, f))
        if p then problems[#problems + 1] = p else body[name] = list end
      end
    elseif f.kept and not opts.keep_organization then   -- luacheck: ignore 542
      -- Left out: only partner callers send it (keep_organization).
    elseif v == nil or (v == null and not f.nullable) then
      if f.required then
        problems[#problems + 1] = {
          path = name,
          problem = (v == nil and "missing from the fetched sync" or "null in the fetched sync")
                    .. other_version_hint(sync, schema)
                    .. "; cannot build a complete body",
        }
      end
    else
      body[name] = named(name, pcall(project, v, f))
    end
  end
  return body, problems
end

-- The body a GET response makes, before any check that it loses nothing.
function plan.project(sync, opts)
  opts = opts or {}
  if type(sync) ~= "table" then
    error("bulksync.plan.to_update: sync must be a table (a GET response)", 2)
  end
  local schema, version = schema_of(opts.version)
  local body, problems = project_sync(unwrap_sync(sync), schema, opts)
  if #problems > 0 then return nil, problems end
  return body, nil, version
end

function plan.to_update(sync, opts)
  local body, problems, version = plan.project(sync, opts)
  if not body then return nil, problems end
  local lossy = lossy_problem(body, version)
  if lossy then return nil, { lossy } end
  return body
end

--[[ Marks plain tables at list positions as arrays (on copies made by the
caller), so apply({policies = {}}) still means an empty list. ]]
local function mark_lists(v, field, depth)
  if type(v) ~= "table" or not field then return v end
  depth_check(depth)
  if field.type == "list" then
    if getmetatable(v) == nil then setmetatable(v, array_mt) end
    for i = 1, #v do mark_lists(v[i], field.items, depth + 1) end
  elseif subfields(field) then
    for _, sub in ipairs(subfields(field)) do mark_lists(v[sub.name], sub, depth + 1) end
  end
  return v
end

--- A record read back (a schema's, a schedule's) as the body of `kind`
-- that replaces it: what that body knows, nothing else.
-- @local
function plan.project_kind(record, version, kind)
  local schema = schema_of(version, kind)
  return project(record, { type = "object", fields = schema.fields }, true)
end

function plan.apply(body, changes, version, kind)
  local out = copy(body or {})
  local schema = version and schema_of(version, kind) or nil
  for k, v in pairs(changes or {}) do
    local f = schema and schema.by_name and schema.by_name[k]
    out[k] = named(k, pcall(function() return mark_lists(copy(v), f, 1) end))
  end
  return out
end

-- Structural equality; array markers do not matter, null equals null.
local function equal(a, b, depth)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  depth = depth or 0
  depth_check(depth)
  for k, x in pairs(a) do
    if not equal(x, b[k], depth + 1) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local function is_empty_list(v)
  return type(v) == "table" and next(v) == nil
end

-- Would omitting the field lose nothing? For a nullable field, missing, null
-- and (for lists) an empty list all mean "none", so a reset between them
-- loses no data and is not worth a warning.
local function same_as_reset(current, f)
  if f.nullable and is_none(current)
      and (is_none(f.reset) or (f.type == "list" and is_empty_list(f.reset))) then
    return true
  end
  return current ~= nil and equal(current, f.reset)
end

-- The positions of body schema items that give no fields (a bare id, no
-- `fields`, or an empty list): the server enables every field of those.
local function items_without_fields(list)
  local out = {}
  if type(list) ~= "table" then return out end
  for i, item in ipairs(list) do
    if not has_fields(item) or next(item.fields) == nil then
      local id = type(item) == "table" and item.id or item
      out[#out + 1] = type(id) == "string" and string.format("%d (%s)", i, id) or tostring(i)
    end
  end
  return out
end

-- The current selections from the per-schema details; nil when they are
-- not known (no list given, or the listing, which has no fields).
local function current_schemas(list, f)
  if list == nil then return nil, false end
  local body, p = named("schemas", pcall(schemas_body, list, f))
  if p then return nil, false end
  return body, true
end

local NOT_KEPT_NOTE = "not known to be kept when omitted; partner callers send it"
  .. " (to_update/patch with keep_organization = true)"

local function entry(field, action, from, to, note)
  return { field = field, action = action, from = from, to = to, note = note }
end

-- The entry of a field the body gives: kept, cleared, added or changed.
local function given(name, c, b)
  if equal(b, c) or (is_none(b) and is_none(c)) then return entry(name, "keep", c, b) end
  if b == null then return entry(name, "clear", c, null) end
  if is_none(c) then return entry(name, "add", c, b) end
  return entry(name, "change", c, b)
end

-- Changes inside a table-valued field, path by path (bulksync.plan_nested).
local nested = require("bulksync.plan_nested").new {
  equal = equal, same_as_reset = same_as_reset, depth_check = depth_check, named = named,
}
local expand, finish, DESC = nested.expand, nested.finish, nested.DESC

--- A plan: for each field of the body, in the schema's order, what
-- sending the body would do. `tostring(plan)` is @{Plan:render}.
--
-- `changes` has one entry per top-level field, `{ field, action, from, to,
-- note, path, segments }` (an expanded one also `nested`): `from` the
-- current value (nil when not known), `to` the body's (nil when omitted),
-- `note` what the server does. `entries` is what is printed, path by path:
-- `{ path, segments, field, action, from, to, note }`, with `path` such as
-- `schemas[public.orders].fields[email].enabled`. `counts` counts entries
-- by action; `resets` and `unknowns` count at every depth; `call` is set,
-- instead of changes, for a write with no record to compare (update_many's
-- dry run of activate, start, delete...). `action` is one of
--
--  * `keep`: the value stays as it is
--  * `change`: the body gives another value
--  * `clear`: the body gives `bulksync.null`
--  * `add`: the body sets a field that has no value now, or adds a list item
--  * `remove`: the body drops a list item (a schema, a field)
--  * `reset`: the server would reset it: the body omits it (and the server
--    has a default), or gives a schema without `fields` (every field
--    enabled), or omits `schemas` (every schema and field selected)
--  * `unknown`: whether the server keeps it is not known
--    (`organization_id`; partner callers send it)
-- @type Plan

local Plan = {}
Plan.__index = Plan

--- The API version of the body.
-- @tfield string version

--- The sync's id (or nil when it is not known).
-- @tfield string id

--- The body kind of a schema or schedule replacement (`"schema"`,
-- `"schedule"`); nil for a sync.
-- @tfield string kind

--- One entry per top-level field, in the schema's order:
-- `{ field, action, from, to, note, path, segments }`, an expanded one
-- with its inner entries in `nested`.
-- @tfield table changes

--- What is printed, path by path: `{ path, segments, field, action, from,
-- to, note }`, `path` such as `schemas[public.orders].fields[email].enabled`
-- and `segments` its parts (`{ "schemas", { id = "public.orders" }, ... }`).
-- @tfield table entries

--- The entries counted by action (`counts.reset`, `counts.change`, ...);
-- `counts.keep` is the number of unchanged top-level fields.
-- @tfield table counts

--- How many entries are `reset`, at every depth.
-- @tfield number resets

--- How many entries are `unknown`.
-- @tfield number unknowns

--- For a write with nothing to compare (update_many's dry run of activate,
-- start, delete, ...): the request it would send, `{ name, method, path,
-- body }` with `body` the JSON text; nil otherwise.
-- @tfield table call

--- Whether sending the body would reset anything.
-- @function Plan:has_resets
-- @treturn boolean `resets > 0`
function Plan:has_resets()
  return self.resets > 0
end

function plan.diff(current, body, opts)
  opts = opts or {}
  local schema, version = schema_of(opts.version)
  current = unwrap_sync(current or {})
  body = body or {}
  local cur = project_sync(current, schema, { keep_organization = true })
  local changes = {}

  for _, f in ipairs(schema.fields or {}) do
    local name = f.name
    local c = cur[name]
    local b = body[name]
    local known = true
    if name == "schemas" then c, known = current_schemas(opts.schemas, f) end
    if b ~= nil then b = named(name, pcall(project, b, f)) end
    local e
    if b ~= nil then
      local bare = name == "schemas" and items_without_fields(b) or {}
      if #bare > 0 then
        e = entry(name, "reset", c, b, "no fields given for item " .. table.concat(bare, ", ")
                  .. ": every field of " .. (#bare == 1 and "that schema" or "those schemas") .. " enabled")
      elseif not known then
        e = entry(name, "change", nil, b, "current selection unknown")
      else
        e = given(name, c, b)
      end
    elseif f.kept then
      -- The API does not say the server keeps it; a partner key may not.
      e = entry(name, "unknown", c, nil, NOT_KEPT_NOTE)
    elseif name == "schemas" then
      -- Whatever is selected now, an omitted list selects every schema and
      -- every field: the listing cannot show that nothing would change.
      e = entry(name, "reset", c, nil, (f.reset_note or "all schemas selected")
                .. ", every field enabled" .. (known and "" or "; current selection unknown"))
    elseif f.required then
      e = entry(name, "reset", c, nil, "required: the server rejects a body without it")
    elseif same_as_reset(c, f) then
      e = entry(name, "keep", c, f.reset)
    else
      e = entry(name, "reset", c, f.reset, f.reset_note)
    end
    changes[#changes + 1] = expand(e, f, c, b)
  end

  local id = current.id
  if is_none(id) then id = opts.id end
  return finish(setmetatable({ version = version, id = id, changes = changes }, Plan))
end

--[[ plan.diff_kind(current, body, { version, kind, id }): the plan of a
PUT that replaces one record whole (a schema's, a schedule's): for each
field of that body, what the body keeps, changes or clears, and what its
omission resets (the descriptor's note). current is the record as read
back (its fields under their response names). ]]
function plan.diff_kind(current, body, opts)
  local schema, version = schema_of(opts.version, opts.kind)
  current = current or {}
  local cur = project(current, { type = "object", fields = schema.fields }, true)
  local changes = {}
  for _, f in ipairs(schema.fields or {}) do
    local name, c = f.name, cur[f.name]
    local b = body[name]
    if b ~= nil then b = named(name, pcall(project, b, f)) end
    local e
    if b ~= nil then
      if f.strict and (b == null or (type(b) == "table" and next(b) == nil)) then
        e = entry(name, "reset", c, b, f.reset_note)
      else
        e = given(name, c, b)
      end
    elseif f.required then
      e = entry(name, "reset", c, nil, "required: the server rejects a body without it")
    elseif schema.replace and not is_none(c) and not (type(c) == "table" and next(c) == nil) then
      e = entry(name, "reset", c, nil, f.reset_note)
    else
      e = entry(name, "keep", c, nil)
    end
    changes[#changes + 1] = expand(e, f, c, b)
  end
  return finish(setmetatable({ version = version, kind = opts.kind, id = opts.id, changes = changes }, Plan))
end

--[[ plan.call { version, id, name, method, path, body }: the plan of a
write that has no record to compare field by field (activate, start,
cancel, delete, a new schedule): the request it would send, body the JSON
text. ]]
function plan.call(opts)
  return finish(setmetatable({ version = opts.version, id = opts.id, changes = {},
    call = { name = opts.name, method = opts.method, path = opts.path, body = opts.body } }, Plan))
end

-- ===================== rendering for people =====================

--- The plan as text for people: a heading line, one line per change at
-- the path where it happens (`RESET`, `change`, `clear`, `add`, `remove`,
-- `?`), and the count of unchanged fields. Values are never cut: one too
-- long for the line goes on lines of its own. Secret fields (the
-- organization id) print as `(not shown)`, since plans go to logs.
-- @function Plan:render
-- @tparam[opt] table opts `colour` (boolean, default false: ANSI colour,
-- RESET lines red, for a terminal) and `width` (40 to 10000, default 100)
-- @treturn string the text
-- @raise ValidationError for an unknown option or a bad value
function plan.render(p, opts)
  return render_lib.render(p, opts, function(e)
    local d = DESC[e]
    if d ~= nil then return d end
    -- A copied plan has lost the side table: a top-level entry still
    -- finds its field by name.
    if e.segments == nil or #e.segments <= 1 then
      return (schema_of(p.version, p.kind).by_name or {})[e.field]
    end
  end)
end

Plan.__tostring = function(p) return plan.render(p) end
Plan.render = plan.render

return plan
