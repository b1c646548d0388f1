--[[ bulksync.many: many writes at once (client:update_many).

items: a list; each item is one write on one sync:
  { id =, body = sync body }                   PUT the sync
  { id =, patch = changes }                    read-modify-write of the sync
  { id =, activate = true | false }            activate / pause
  { id =, start = { fetch_mode, ... } }        start an execution
  { id =, cancel = true }, { id =, delete = true }
  { id =, schema_id =, update_schema = body }  PUT one schema
  { id =, schema_id =, patch_schema = changes } read-modify-write of one schema
  { id =, create_schedule = schedule }, { id =, schedule_id =, update_schedule = schedule },
  { id =, schedule_id =, delete_schedule = true }
each with an optional idempotency_key. results[i] (input order) is { ok =
true, data =, meta = } or { ok = false, err = <typed error> }. Every item is
checked first; one that fails is not sent. Read-modify-write items read
what they need in parallel passes (the sync and its schemas listing, then
every schema's record; or the schema's record); then every write goes out,
at most `concurrency` at a time, retried in rounds by bulksync.retry.
With opts.dry_run, nothing is written: the reads are made (a body item's
sync and schemas too, an update_schema's or update_schedule's record) and
results[i] is { ok = true, plan = <plan> } or { ok = false, err = }. ]]

local E = require "bulksync.errors"
local O = require "bulksync.options"
local R = require "bulksync.retry"
local EP = require "bulksync.endpoints"
local X = require "bulksync.rmw"

local type, pairs, ipairs, next, format, floor = type, pairs, ipairs, next, string.format, math.floor
local ROWS = EP.rows

local M = {}

local DEFAULT_CONCURRENCY = 8
local MAX_CONCURRENCY     = 1000

-- The writes an item may name, and how its value becomes the row's body:
-- as is, as {active = value}, or none (the value is `true`).
local OPS = {
  body = { row = "update" },
  activate = { row = "activate", value = "boolean", wrap = "active" },
  start = { row = "start" },
  cancel = { row = "cancel", value = "flag" },
  delete = { row = "delete", value = "flag" },
  update_schema = { row = "update_schema" },
  create_schedule = { row = "create_schedule" },
  update_schedule = { row = "update_schedule" },
  delete_schedule = { row = "delete_schedule", value = "flag" },
  patch = { rmw = true },
  patch_schema = { rmw = true, row = "update_schema" },
}
local ITEM_NAMES = { "id", "schema_id", "schedule_id", "idempotency_key" }
for op in pairs(OPS) do ITEM_NAMES[#ITEM_NAMES + 1] = op end
table.sort(ITEM_NAMES)

local SHAPE = "must be a table { id = ..., body = ... } (or patch, activate, start, cancel, delete, "
  .. "update_schema, patch_schema, create_schedule, update_schedule, delete_schedule)"

-- The path parameters of row from the item, in template order.
local function params_of(row, item)
  local out = {}
  for i, name in ipairs(row.params) do out[i] = item[name] end
  return out
end

-- Checks one item: its write's request, or what its read-modify-write needs.
local function prepare_item(state, item, version, strict)
  if type(item) ~= "table" then E.invalid("", SHAPE, "item") end
  O.check(item, ITEM_NAMES, "item")
  local op_name
  for name in pairs(OPS) do
    if item[name] ~= nil then
      if op_name then E.invalid(name, "give one write per item, not " .. op_name .. " and " .. name, "item") end
      op_name = name
    end
  end
  if not op_name then E.invalid("", SHAPE, "item", "required") end
  local op, value = OPS[op_name], item[op_name]
  local id, key = O.uuid(item.id), O.idempotency_key(item.idempotency_key)
  if op_name == "patch" then
    X.check_changes(value, version, state.secrets)
    return { op = op, id = id, key = key, patch = value }
  elseif op_name == "patch_schema" then
    O.name(item.schema_id, "schema_id")
    X.check_changes(value, version, state.secrets, "schema")
    return { op = op, id = id, key = key, patch = value, schema_id = item.schema_id }
  end
  if op.value == "flag" and value ~= true then E.invalid(op_name, "must be true", "item") end
  if op.value == "boolean" and type(value) ~= "boolean" then E.invalid(op_name, "must be true or false", "item") end
  local row = ROWS[op.row]
  local args = params_of(row, item)
  local opts = { idempotency_key = key }
  if row.body then
    args[#args + 1] = op.wrap and { [op.wrap] = value } or value
    opts.version, opts.strict = version, strict
  end
  args[#args + 1] = opts
  local last = row.params[#row.params]
  return { op = op, row = row, key = key, id = id, value = value, target = last and item[last],
    req = (EP.prepare(state, row, (table.unpack or unpack)(args, 1, #args))) }
end

-- EP.prepare's request alone: its second value (the options) is not an
-- error for X.protect to pass on.
local function prepare_one(...)
  return (EP.prepare(...))
end

local function check_items(items)
  if type(items) ~= "table" then
    E.invalid("items", "must be a list of { id = ..., body = ... }", "request")
  end
  -- Keys exactly 1..n. Only 1..#items would be run, and # of a table with
  -- holes differs between Luas: a map (say, id -> item) came back as an
  -- empty result list, and items after a nil were dropped on some Luas.
  local count, highest = 0, 0
  for k in next, items do
    if type(k) ~= "number" or k < 1 or k ~= floor(k) then
      E.invalid("items", "must be a list of { id = ..., body = ... }, got a table with a "
        .. (type(k) == "number" and "number key that is not a position 1..n" or type(k) .. " key"),
        "request")
    end
    count = count + 1
    if k > highest then highest = k end
  end
  if highest ~= count then
    E.invalid("items", format("must be a list without holes, got %d items and highest index %d",
      count, highest), "request")
  end
  return count
end

--[[ What an item's write would do, sending nothing (opts.dry_run): a
sync's body (given or patched) against the sync and its schemas' details
read now; a record replaced whole (update_schema, patch_schema,
update_schedule) against the record read now; any other write (activate,
start, cancel, delete, create_schedule, delete_schedule) as the request it
would send, a plan whose `call` is { name, method, path, body }. ]]
local function dry_plan(state, p, version)
  local P = require "bulksync.plan"
  local row = p.row
  if row == ROWS.update then
    return X.plan_result("body", pcall(P.diff, p.sync, p.value, { version = version, schemas = p.schemas, id = p.id }))
  elseif row.reads then
    local current, body = p.record, p.value
    if row.wrap then current, body = { [row.wrap] = current }, { [row.wrap] = body } end
    return X.plan_result("body", pcall(P.diff_kind, current, body, { version = version, kind = row.body,
      id = p.target }))
  end
  return P.call { version = version, id = p.id, name = row.name, method = row.method,
    path = p.req.url:sub(#state.config.base_url + 1), body = p.req.body }
end

function M.run(state, client, items, opts)
  opts = O.check(opts, "update_many")
  local n = check_items(items)
  local version = O.version(opts.version or client.version)
  local concurrency = opts.concurrency
  if concurrency == nil then
    concurrency = DEFAULT_CONCURRENCY
  elseif type(concurrency) ~= "number" or concurrency ~= floor(concurrency) or concurrency < 1
      or concurrency > MAX_CONCURRENCY then
    E.invalid("concurrency", "must be a whole number from 1 to " .. MAX_CONCURRENCY, "options")
  end
  local on_progress = opts.on_progress
  if on_progress ~= nil and type(on_progress) ~= "function" then
    E.invalid("on_progress", "must be a function(done, total, item, result)", "options")
  end
  local max = O.retries(opts.retries, state.policy.retries) + 1
  local mode = X.schemas_mode(opts.schemas)
  local dry = opts.dry_run
  if dry ~= nil and type(dry) ~= "boolean" then E.invalid("dry_run", "must be true or false", "options") end

  local results, finished = {}, 0
  local function finish(i, result)
    results[i] = result
    finished = finished + 1
    if on_progress then on_progress(finished, n, items[i], result) end
  end

  -- Check every item; queue the reads of the read-modify-write ones.
  local prepared, gets = {}, {}
  for i = 1, n do
    local p, err = X.protect(prepare_item, state, items[i], version, opts.strict)
    if err then
      finish(i, { ok = false, err = err })
    else
      prepared[i] = p
      if p.schema_id then
        gets[#gets + 1] = { item = i, what = "record", row = ROWS.schema, max = max,
          req = (EP.prepare(state, ROWS.schema, p.id, p.schema_id)) }
      elseif p.patch or (dry and p.row == ROWS.update) then
        -- A dry run's body is compared with the sync and every schema's
        -- details, as client:plan does.
        gets[#gets + 1] = { item = i, what = "sync", row = ROWS.get, max = max, req = (EP.prepare(state, ROWS.get, p.id)) }
        if not p.patch or (mode == "keep" and p.patch.schemas == nil) then
          gets[#gets + 1] = { item = i, what = "schemas", row = ROWS.schemas, max = max,
            req = (EP.prepare(state, ROWS.schemas, p.id)) }
        end
      elseif dry and p.row.reads then
        -- A record replaced whole (a schema, a schedule): read it to compare.
        local read = ROWS[p.row.reads]
        gets[#gets + 1] = { item = i, what = "record", row = read, max = max,
          req = (EP.prepare(state, read, (table.unpack or unpack)(params_of(read, items[i])))) }
      end
    end
  end

  local function data_of(row, resp) return (EP.decode(row, resp, state.secrets)) end
  R.run(state, gets, concurrency, function(job, resp, _, err)
    local p = prepared[job.item]
    if resp and not p.err then p[job.what], err = X.protect(data_of, job.row, resp) end
    p.err = p.err or err
  end)

  -- Then every listed schema's record, for all sync patches at once.
  local groups = {}
  for i = 1, n do
    local p = prepared[i]
    if p and p.schemas and not p.err then
      p.group = { id = p.id, listing = p.schemas }
      groups[#groups + 1] = p.group
    end
  end
  X.fetch_details(state, groups, concurrency, max)

  local P = require "bulksync.plan"
  local function schema_body(record, changes)
    local body = X.plan_result("schema", pcall(P.project_kind, record, version, "schema"))
    return X.plan_result("changes", pcall(P.apply, body, changes, version, "schema"))
  end

  local writes = {}
  for i = 1, n do
    local p = prepared[i]
    if p and p.group then p.schemas, p.err = p.group.details, p.group.err end
    if p and p.patch then
      local body
      if not p.err and p.schema_id then
        body, p.err = X.protect(schema_body, p.record, p.patch)
        if not p.err then
          p.req, p.err = X.protect(prepare_one, state, ROWS.update_schema, p.id, p.schema_id, body,
            { version = version, strict = true, idempotency_key = p.key })
          p.row, p.value, p.target = ROWS.update_schema, body, p.schema_id
        end
      elseif not p.err then
        body, p.err = X.protect(X.patched_body, p.sync, p.schemas, p.patch, version, opts.keep_organization)
        if not p.err then
          p.req, p.err = X.protect(prepare_one, state, ROWS.update, p.id, body,
            { version = version, strict = opts.strict, idempotency_key = p.key })
          p.row, p.value = ROWS.update, body
        end
      end
    end
    if p and p.err then
      finish(i, { ok = false, err = p.err })
    elseif p and dry then
      local plan, err = X.protect(dry_plan, state, p, version)
      finish(i, err and { ok = false, err = err } or { ok = true, plan = plan })
    elseif p and p.req then
      -- A write that is unsafe to repeat goes once, unless it has a key.
      local attempts = (p.row.unsafe and not p.key) and 1 or max
      writes[#writes + 1] = { item = i, max = attempts, req = p.req, row = p.row }
    end
  end

  R.run(state, writes, concurrency, function(job, resp, attempts, err)
    local data
    if resp then data, err = X.protect(data_of, job.row, resp) end
    return finish(job.item, err and { ok = false, err = err }
      or { ok = true, data = data, meta = EP.meta(resp, attempts, version) })
  end)
  return results
end

M.OPS = OPS
return M
