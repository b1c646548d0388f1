--[[ bulksync: manage Polytomic bulk syncs from Lua without resetting them.

The checks, JSON and libcurl live in C (bulksync.core). The Lua modules,
one concern each:
  bulksync            this file: the module functions and the client
  bulksync.endpoints  the API's endpoints as data, and the one call path
  bulksync.options    every option and argument check
  bulksync.errors     error kinds, typing an answer, redaction
  bulksync.retry      what is retried, the wait, the attempt driver
  bulksync.curl       the libcurl transport
  bulksync.ngx        the OpenResty transport (cosockets, light threads)
  bulksync.rmw        read-modify-write: patch, plan, update_many's patches
  bulksync.many       many writes at once (update_many)
  bulksync.plan       to_update, diff and plans, offline
The request loop and its waits run in Lua on purpose: a transport's socket
calls may yield (OpenResty cosockets), which a C function calling Lua could
not allow. ]]

local core = require "bulksync.core"
local E = require "bulksync.errors"
local O = require "bulksync.options"
local R = require "bulksync.retry"
local EP = require "bulksync.endpoints"
local X = require "bulksync.rmw"

local type, pairs, ipairs, setmetatable, getmetatable = type, pairs, ipairs, setmetatable, getmetatable
local error, rawget, pcall, tostring, select = error, rawget, pcall, tostring, select
local format = string.format

local ROWS = EP.rows

local M = {
  _VERSION = core._VERSION,
  API_VERSIONS = core.API_VERSIONS,
  null = core.null,
  array = core.array,
  array_mt = core.array_mt,
  is_error = E.is_error,
  new_error = E.new,
  is_uuid = O.is_uuid,
  _retry_wait = R.wait,
  _http_date = core.getdate,
}
M.errors = {}
for i, kind in ipairs(E.KINDS) do M.errors[i] = kind; M.errors[kind] = kind end

------------------------------------------------------------------------
-- Module functions
------------------------------------------------------------------------

function M.decode(text)
  if type(text) ~= "string" then
    E.raise("DecodeError", { message = "decode expects a string, got " .. type(text) })
  end
  local value, err = core.decode(text)
  if value == nil then E.raise("DecodeError", { message = "invalid JSON: " .. err }) end
  return value
end

function M.encode(body, opts)
  opts = O.check(opts, "encode")
  return EP.encode(body, O.version(opts.version), opts.strict, nil, O.limits(opts))
end

function M.validate(body, opts)
  opts = O.check(opts, "validate")
  local ok, problems, count = core.validate(body, O.version(opts.version), opts.strict, O.limits(opts))
  if ok then return true end
  return false, E.validation(problems, count)
end

function M.schema(version)
  return core.schema(O.version(version))
end

M.to_update = X.to_update
M.diff = X.diff

------------------------------------------------------------------------
-- The client
------------------------------------------------------------------------

local Client = {}
Client.__index = Client
Client.__name = "bulksync.client"

-- Per-client state that must not be reachable from the client table (the
-- headers hold the key): { config, transport, policy, secrets, limits }.
-- Weak keys: it goes with its client.
local private = setmetatable({}, { __mode = "k" })

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
  if choice == "curl" then return require("bulksync.curl").new(config) end
  if type(config.proxy) == "string" then
    E.invalid("proxy", "applies to the libcurl transport only; inside nginx, or with a transport of"
      .. " your own, the proxy is that transport's business", "options")
  end
  if choice == "ngx" then return require("bulksync.ngx").new(config) end
  if type(choice) == "function" then
    return { request = choice, sleep = opts.sleep or default_sleep, name = "custom", close = function() end }
  end
  if type(choice) == "table" and type(choice.request) == "function" then
    return { request = choice.request, request_many = choice.request_many,
      sleep = choice.sleep or opts.sleep or default_sleep,
      name = choice.name or "custom", close = choice.close or function() end }
  end
  E.invalid("transport", 'must be "curl", "ngx", a function or a table with request()', "options")
end

function M.new(opts)
  local c = O.client(opts)
  local transport = make_transport(opts, c.config)
  if opts.sleep then transport.sleep = opts.sleep end
  local client = setmetatable({
    version = c.version,
    base_url = c.config.base_url,
    -- What a script may look at; the transport itself holds the headers.
    transport = { name = transport.name, handle = transport.handle, sleep = transport.sleep,
      client = transport.client },
    policy = c.policy,
    closed = false,
  }, Client)
  private[client] = { config = c.config, transport = transport, policy = c.policy, secrets = c.secrets,
    limits = c.limits }
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

-- Misuse of the module itself is a plain error at the caller's line.
local function state_of(self)
  if getmetatable(self) ~= Client then error("bulksync: use client:method(...), not client.method(...)", 3) end
  if self.closed then error("bulksync: client is closed", 3) end
  return private[self]
end

-- The plan of a write that replaces a record whole (a row that `reads`
-- it): the record read now against the body, field by field; nothing is
-- written.
local function replacement_plan(self, state, row, ...)
  local n = #row.params
  local args = { ... }
  local opts = O.check(args[n + 2], row.option_names)
  local version = O.version(opts.version or self.version)
  local body = X.check_table(args[n + 1], "body", "request", "a table")
  args[n + 1] = { retries = opts.retries }
  local current = EP.call(state, ROWS[row.reads], (table.unpack or unpack)(args, 1, n + 1))
  if row.wrap then current, body = { [row.wrap] = current }, { [row.wrap] = body } end
  return X.plan_result("body", pcall(require("bulksync.plan").diff_kind, current, body,
    { version = version, kind = row.body, id = args[n] }))
end

-- Every endpoint is a method: client:NAME(path params..., body?, opts).
for name, row in pairs(ROWS) do
  Client[name] = function(self, ...)
    local state = state_of(self)
    if row.reads then
      local opts = select(#row.params + 2, ...)
      if type(opts) == "table" and opts.plan then return replacement_plan(self, state, row, ...) end
    end
    return EP.call(state, row, ...)
  end
end

--- client:update(id, body, opts); with opts.plan the plan, sending nothing.
function Client:update(id, body, opts)
  local state = state_of(self)
  opts = O.check(opts, ROWS.update.option_names)
  if opts.plan then return self:plan(id, body, { version = opts.version, retries = opts.retries }) end
  return EP.call(state, ROWS.update, id, body, opts)
end

-- A function that returns the next page of a paged row and its meta
-- (meta.next_page_token, when there is one), or nil after the last page.
-- Pages are followed by `pagination.next_page_token`; a token seen before
-- would loop forever, so it is a DecodeError. id: the path parameter, if
-- the row has one.
local function pager(state, row, opts, id)
  local query, seen, finished = {}, {}, false
  for k, v in pairs(opts) do query[k] = v end
  return function()
    if finished then return nil end
    local data, meta, envelope
    if id then data, meta, envelope = EP.call(state, row, id, query)
    else data, meta, envelope = EP.call(state, row, query) end
    local pagination = envelope.pagination
    local token = type(pagination) == "table" and pagination.next_page_token
    if type(token) ~= "string" or token == "" then
      finished = true
    elseif seen[token] then
      E.raise("DecodeError", { status = meta.status, message = row.name
        .. ": the server sent a page token it had sent before; stopped instead of looping" })
    else
      seen[token], query.page_token, meta.next_page_token = true, token, token
    end
    return data, meta
  end
end

-- An iterator over every item of every page, one page in memory at a time.
local function each(next_page)
  local page, i = {}, 0
  return function()
    while page and i >= #page do page, i = next_page(), 0 end
    if not page then return nil end
    i = i + 1
    return page[i]
  end
end

--- client:list(opts) -> every sync, following every page; meta is the last
-- page's, with `pages` counted.
function Client:list(opts)
  local state = state_of(self)
  local all, pages, meta = setmetatable({}, core.array_mt), 0, nil
  for page, page_meta in pager(state, ROWS.list, O.check(opts, ROWS.list.option_names)) do
    for _, sync in ipairs(page) do all[#all + 1] = sync end
    pages, meta = pages + 1, page_meta
  end
  meta.pages = pages
  return all, meta
end

--- for sync in client:each_sync(opts) do ... end: the next page is fetched
-- when the loop reaches it. Options are checked at the call.
function Client:each_sync(opts)
  local state = state_of(self)
  opts = O.check(opts, ROWS.list.option_names)
  EP.prepare(state, ROWS.list, opts)
  return each(pager(state, ROWS.list, opts))
end

--- client:executions(id, opts) -> one page of the sync's executions, and
-- meta.next_page_token to pass as opts.page_token for the next.
function Client:executions(id, opts)
  local state = state_of(self)
  local data, meta, envelope = EP.call(state, ROWS.executions, id, opts)
  local p = envelope.pagination
  local token = type(p) == "table" and type(p.next_page_token) == "string" and p.next_page_token ~= ""
    and p.next_page_token or nil
  meta.next_page_token = token
  return data, meta
end

--- for execution in client:each_execution(id, opts) do ... end: every page.
function Client:each_execution(id, opts)
  local state = state_of(self)
  opts = O.check(opts, ROWS.executions.option_names)
  EP.prepare(state, ROWS.executions, id, opts)
  return each(pager(state, ROWS.executions, opts, id))
end

------------------------------------------------------------------------
-- Running a sync
------------------------------------------------------------------------

--- client:activate(id, active, opts); pause(id) and resume(id) are its
-- two cases. Deactivating also cancels an execution that is running.
function Client:activate(id, active, opts)
  local state = state_of(self)
  if type(active) ~= "boolean" then
    E.invalid("active", "must be true (resume) or false (pause), got " .. type(active), "request", "type")
  end
  return EP.call(state, ROWS.activate, id, { active = active }, opts)
end
function Client:pause(id, opts) return self:activate(id, false, opts) end
function Client:resume(id, opts) return self:activate(id, true, opts) end

-- The body fields of a start, in every API version: they are options of
-- client:start, beside the row's own.
local START_FIELDS, START_NAMES = {}, {}
for _, name in ipairs(ROWS.start.option_names) do START_NAMES[#START_NAMES + 1] = name end
for _, version in ipairs(core.API_VERSIONS) do
  for _, f in ipairs(core.schema(version, "start").fields) do
    if not START_FIELDS[f.name] then
      START_FIELDS[f.name] = true
      START_NAMES[#START_NAMES + 1] = f.name
    end
  end
end

--- client:start(id, opts): starts an execution. opts: fetch_mode,
-- resync_mode (2024-02-08: resync), schemas, test (the body), and wait =
-- true or wait's options to wait for the execution to end.
function Client:start(id, opts)
  local state = state_of(self)
  opts = O.check(opts, START_NAMES)
  local body, call, wait = {}, {}, opts.wait
  for k, v in pairs(opts) do
    if START_FIELDS[k] then body[k] = v elseif k ~= "wait" then call[k] = v end
  end
  if wait ~= nil and type(wait) ~= "boolean" and type(wait) ~= "table" then
    E.invalid("wait", "must be true, or a table of wait's options (timeout, interval, on_progress)", "options")
  end
  if type(wait) == "table" then O.check(wait, "wait", "wait options") end
  local execution, meta = EP.call(state, ROWS.start, id, body, call)
  if not wait then return execution, meta end
  return self:wait(id, execution.id, wait ~= true and wait or nil)
end

-- Statuses after which an execution changes no more. `errors` finished
-- with record errors and `interrupted` was stopped by the platform: both
-- are ends, and the caller reads execution.status.
local TERMINAL = { completed = true, canceled = true, failed = true, errors = true, interrupted = true }
M.TERMINAL_STATUSES = TERMINAL

--- client:wait(id, exec_id, opts) -> the execution once it has ended.
-- Polls every `interval` seconds (default 2), growing by half up to
-- `max_interval` (default 30), longer when the answer asks for it
-- (Retry-After); on_progress(execution) after each poll; past `timeout`
-- (default 3600) a WaitTimeoutError carrying the last execution. The wait
-- between polls is the transport's sleep (ngx.sleep inside OpenResty).
function Client:wait(id, exec_id, opts)
  local state = state_of(self)
  opts = O.check(opts, "wait")
  local interval = O.seconds(opts, "interval", 2)
  local max_interval = O.seconds(opts, "max_interval", 30)
  local timeout = O.seconds(opts, "timeout", 3600)
  local on_progress = opts.on_progress
  if on_progress ~= nil and type(on_progress) ~= "function" then
    E.invalid("on_progress", "must be a function(execution)", "options")
  end
  local waited, started = 0, os.time()
  while true do
    local execution, meta = EP.call(state, ROWS.execution, id, exec_id, { retries = opts.retries })
    if on_progress then on_progress(execution) end
    if TERMINAL[execution.status] then return execution, meta end
    local pause = interval
    local asked = meta.headers and meta.headers["retry-after"] and R.wait(state.policy, 1, meta.headers)
    if asked and asked > pause then pause = asked end
    local elapsed = math.max(waited, os.time() - started)
    if elapsed + pause > timeout then
      E.raise("WaitTimeoutError", { execution = E.redacted_copy(execution, state.secrets), message = format(
        "execution still %s after %g s (timeout %g s)", tostring(execution.status), elapsed, timeout) })
    end
    state.transport.sleep(pause)
    waited = waited + pause
    interval = math.min(interval * 1.5, max_interval)
  end
end

local DEFAULT_CONCURRENCY = 8

--- client:schemas(id, opts): the sync's schemas listing (no fields or
-- filters), or with `details = true` every schema's own record, fetched in
-- parallel (1 + N requests).
function Client:schemas(id, opts)
  local state = state_of(self)
  opts = O.check(opts, ROWS.schemas.option_names)
  local listing, meta = EP.call(state, ROWS.schemas, id, { retries = opts.retries })
  if not opts.details then return listing, meta end
  local group = { id = id, listing = listing }
  X.fetch_details(state, { group }, DEFAULT_CONCURRENCY, O.retries(opts.retries, state.policy.retries) + 1)
  if group.err then error(group.err, 0) end
  return group.details, meta
end

------------------------------------------------------------------------
-- Read-modify-write
------------------------------------------------------------------------

--- client:patch(id, changes, opts): get -> to_update -> apply -> update.
-- The API has no version check on PUT: a change made by someone else
-- between our GET and PUT is overwritten (a lost update).
function Client:patch(id, changes, opts)
  local state = state_of(self)
  opts = O.check(opts, "patch")
  id = O.uuid(id)
  local version = O.version(opts.version or self.version)
  X.check_changes(changes, version, state.secrets)
  local mode = X.schemas_mode(opts.schemas)
  local sync = self:get(id, { retries = opts.retries })
  local schemas
  if mode == "keep" and changes.schemas == nil then
    schemas = self:schemas(id, { retries = opts.retries, details = true })
  end
  local body = X.patched_body(sync, schemas, changes, version, opts.keep_organization)
  return self:update(id, body, { version = version, idempotency_key = opts.idempotency_key,
    retries = opts.retries })
end

--- client:plan(id, body): what sending body would change; sends nothing.
function Client:plan(id, body, opts)
  state_of(self)
  opts = O.check(opts, "plan")
  id = O.uuid(id)
  local version = O.version(opts.version or self.version)
  X.check_table(body, "body", "request", "a table (an update body)")
  local current = self:get(id, { retries = opts.retries })
  local schemas = self:schemas(id, { retries = opts.retries, details = true })
  return X.plan_result("body", pcall(require("bulksync.plan").diff, current, body,
    { version = version, schemas = schemas, id = id }))
end

--- client:create(body, opts): POST /api/bulk/syncs with the same checks as
-- update; with opts.plan, what the server would default, sending nothing.
function Client:create(body, opts)
  local state = state_of(self)
  opts = O.check(opts, ROWS.create.option_names)
  if opts.plan then
    X.check_table(body, "body", "request", "a table (a sync body)")
    return X.plan_result("body", pcall(require("bulksync.plan").diff, {}, body,
      { version = O.version(opts.version or self.version) }))
  end
  return EP.call(state, ROWS.create, body, opts)
end

--- client:patch_schema(id, schema_id, changes, opts): the schema PUT is a
-- full replacement too, so: GET the schema, apply the changes, PUT it all
-- back, checked with strict (a record that lacks something the PUT would
-- reset, its fields above all, is refused rather than sent).
function Client:patch_schema(id, schema_id, changes, opts)
  local state = state_of(self)
  opts = O.check(opts, "patch_schema")
  local version = O.version(opts.version or self.version)
  X.check_changes(changes, version, state.secrets, "schema")
  local record = self:schema(id, schema_id, { retries = opts.retries })
  local P = require "bulksync.plan"
  local body = X.plan_result("schema", pcall(P.project_kind, record, version, "schema"))
  body = X.plan_result("changes", pcall(P.apply, body, changes, version, "schema"))
  return self:update_schema(id, schema_id, body, { version = version, strict = true,
    retries = opts.retries, idempotency_key = opts.idempotency_key })
end

------------------------------------------------------------------------
-- Many writes at once
------------------------------------------------------------------------

--- client:update_many(items, opts) -> results: see bulksync/many.lua.
function Client:update_many(items, opts)
  return require("bulksync.many").run(state_of(self), self, items, opts)
end

M.Client = Client
return M
