--[[ bulksync.rmw: read-modify-write, the safe way to change part of a sync.

PUT /api/bulk/syncs/{id} is a full replacement, so a change is made on the
complete object: the sync, its schemas listing and every schema's own
record (the listing has no fields or filters), with the changes applied,
checked, and refused when the body would still lose something. The client
methods patch, plan and update_many (its patch items) use these; the
offline building blocks are in bulksync.plan. ]]

local core = require "bulksync.core"
local E = require "bulksync.errors"
local O = require "bulksync.options"
local R = require "bulksync.retry"
local EP = require "bulksync.endpoints"

local type, pairs, ipairs, tostring, next, pcall, error = type, pairs, ipairs, tostring, next, pcall, error
local setmetatable, getmetatable = setmetatable, getmetatable
local format = string.format

local X = {}

local plan_lib
local function plan_module()
  plan_lib = plan_lib or require "bulksync.plan"
  return plan_lib
end

-- What a plan function raised: a problem with the caller's input (a table
-- nested too deep, or containing itself) becomes a ValidationError.
function X.plan_result(what, ok, ...)
  if ok then return ... end
  local e = ...
  if plan_module().is_problem(e) then
    error(E.validation({ E.problem(e.path or "", e.problem) }, 1, what), 0)
  end
  error(e, 0)
end

-- The plan functions index what they are given: a table, or a typed error.
function X.check_table(v, path, what, shape, optional)
  if type(v) == "table" or (optional and v == nil) then return v end
  E.invalid(path, "must be " .. shape .. ", got " .. (v == core.null and "null" or type(v)), what)
end

function X.to_update(sync, opts)
  opts = O.check(opts, "to_update")
  X.check_table(sync, "sync", "request", "a table (a GET response)")
  local body, problems = X.plan_result("fetched sync", pcall(plan_module().to_update, sync, {
    version = O.version(opts.version),
    schemas = X.check_table(opts.schemas, "schemas", "options", "the schemas' details (a table)", true),
    keep_organization = opts.keep_organization,
  }))
  if not body then error(E.validation(problems, #problems, "fetched sync"), 0) end
  return body
end

function X.diff(current, body, opts)
  opts = O.check(opts, "diff")
  X.check_table(current, "current", "request", "a table (a GET response)")
  X.check_table(body, "body", "request", "a table (an update body)")
  return X.plan_result("body", pcall(plan_module().diff, current, body, {
    version = O.version(opts.version), id = opts.id,
    schemas = X.check_table(opts.schemas, "schemas", "options", "the schemas' details (a table)", true),
  }))
end

-- Fields a GET returns that a body never carries (the schema export's
-- read_only): naming them as read-only reads better than "unknown field".
local read_only_sets = {}
local function read_only(version)
  local set = read_only_sets[version]
  if not set then
    set = {}
    for _, name in ipairs(core.schema(version).read_only) do set[name] = true end
    read_only_sets[version] = set
  end
  return set
end

--- Refuses changes that could never be applied, before any GET: names that
-- are not fields or are read-only, values of the wrong type, null where it
-- cannot be, a table that contains itself. Missing required fields are
-- the merge's business.
function X.check_changes(changes, version, secrets, kind)
  if type(changes) ~= "table" or getmetatable(changes) == core.array_mt then
    E.invalid("", "changes must be a table of field = value", "changes")
  end
  local problems, probe, READ_ONLY = {}, {}, kind and {} or read_only(version)
  for k, v in pairs(changes) do
    if type(k) ~= "string" then
      problems[#problems + 1] = E.problem(tostring(k), "field names must be strings", "type")
    elseif READ_ONLY[k] then
      problems[#problems + 1] = E.problem(k, "is read-only and cannot be changed", "unknown")
    else
      probe[k] = v
    end
  end
  if next(probe) then
    local _, ps = core.validate(probe, version, false, nil, kind)
    for _, p in ipairs(ps or {}) do
      local top = p.path:match("^[^.%[]+")
      if p.code ~= "required" and (top == nil or probe[top] ~= nil) then problems[#problems + 1] = p end
    end
  end
  if #problems > 0 then error(E.validation(problems, #problems, "changes", secrets), 0) end
end

function X.schemas_mode(mode)
  mode = mode or "keep"
  if mode ~= "keep" and mode ~= "omit" then E.invalid("schemas", 'must be "keep" or "omit"', "options") end
  return mode
end

--- The complete body for a PUT: the fetched sync (and its schemas' details)
-- with changes applied, refused when it would still lose something.
function X.patched_body(sync, schemas, changes, version, keep_organization)
  local P = plan_module()
  local body, problems = X.plan_result("fetched sync", pcall(P.project, sync, { version = version,
    schemas = schemas, keep_organization = keep_organization }))
  if not body then error(E.validation(problems, #problems, "fetched sync"), 0) end
  body = X.plan_result("changes", pcall(P.apply, body, changes, version))
  local lossy = P.lossy_problem(body, version)
  if lossy then error(E.validation({ lossy }, 1, "patch"), 0) end
  return body
end

--- What f returned, or nil and the typed error it raised (any other error
-- is a bug and goes on up).
function X.protect(f, ...)
  local ok, a, b = pcall(f, ...)
  if ok then return a, b end
  if not E.is_error(a) then error(a, 0) end
  return nil, a
end

--[[ GETs the record of every schema in each group's listing, all at
once: groups[k] = { id = sync id, listing = list }. Sets groups[k].details
(in listing order) or groups[k].err, the group's first failure. ]]
function X.fetch_details(state, groups, concurrency, max)
  local jobs, row = {}, EP.rows.schema
  for _, g in ipairs(groups) do
    g.details = setmetatable({}, core.array_mt)
    for pos, item in ipairs(g.listing) do
      if type(item) ~= "table" or type(item.id) ~= "string" or item.id == "" then
        g.err = g.err or E.new("DecodeError", { message = format("schemas: item %d of the listing has no id", pos) })
      else
        jobs[#jobs + 1] = { group = g, pos = pos, max = max, req = (EP.prepare(state, row, g.id, item.id)) }
      end
    end
  end
  local function record(resp) return (EP.decode(row, resp, state.secrets)) end
  R.run(state, jobs, concurrency, function(job, resp, _, err)
    local g = job.group
    if resp then g.details[job.pos], err = X.protect(record, resp) end
    g.err = g.err or err
  end)
end

return X
