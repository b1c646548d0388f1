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

--- Manage Polytomic bulk syncs from Lua without silently resetting them.
--
-- `PUT /api/bulk/syncs/{id}` replaces a sync's whole configuration: every
-- field a body leaves out is cleared or reset to its default. This module
-- checks a Lua table against the API's schema before anything is sent,
-- writes the JSON itself, sends it with libcurl (or OpenResty cosockets),
-- and returns the answer as Lua tables or raises a typed error (see
-- `bulksync.errors`). @{client:patch} makes the safe read-modify-write one
-- call, and @{client:plan} shows what a body would change and reset.
--
-- Every call of the client returns `data, meta`: `data` is the answer's
-- `data`, `meta` is `{ status, headers, version, attempts }` (headers with
-- lower-case names, the API version the answer names, the attempts made).
--
-- Runs on Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT, and without blocking inside
-- OpenResty.
-- @module bulksync
-- @usage
-- local bulksync = require "bulksync"
-- local client = bulksync.new { api_key = os.getenv("POLYTOMIC_API_KEY") }
-- -- Turn one sync off and keep everything else exactly as it is.
-- client:patch("0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a51", { active = false })

--- The module's version, `"MAJOR.MINOR.PATCH"`; the default `User-Agent` is
-- `lua-bulksync/` followed by it.
-- @field _VERSION

--- The API versions this module speaks, newest first:
-- `{ "2025-09-18", "2024-02-08" }`. The first is the default.
-- @field API_VERSIONS

--- JSON null. Give it for a nullable field you mean to clear; decoded
-- answers carry it where the JSON had null. The same value as `cjson.null`
-- and `ngx.null`.
-- @field null

--- The metatable @{array} sets: a table with it encodes as a JSON array,
-- and decoded arrays carry it, so they encode back as arrays.
-- @field array_mt

--- The error kinds, as a list (`errors[1]`...) and as a set
-- (`errors.NotFoundError == "NotFoundError"`), for comparing with
-- `err.kind`. The kinds are described in `bulksync.errors`.
-- @field errors

--- The statuses after which an execution changes no more, as a set:
-- `completed`, `canceled`, `failed`, `errors` (finished with record errors)
-- and `interrupted`. @{client:wait} returns once it reads one of them.
-- @field TERMINAL_STATUSES

--- Marks a table to encode as a JSON array, even when it is empty.
-- In a free-form map (such as `destination_configuration`) an empty table
-- is otherwise written as `{}`.
-- @function array
-- @tparam table t
-- @treturn table `t`, with @{array_mt} as its metatable
-- @usage body.destination_configuration.tags = bulksync.array({})

--- Whether a value is an error this module raised (a table with the
-- errors' metatable).
-- @function is_error
-- @param v any value, such as what `pcall` returned
-- @treturn boolean
-- @usage
-- local ok, err = pcall(client.get, client, id)
-- if not ok and bulksync.is_error(err) and err.kind == "NotFoundError" then ... end

--- Makes an error of this module's kind, for a custom transport or a test
-- double that must fail the way the client does.
-- @function new_error
-- @tparam string kind one of @{errors}, such as `"TransportError"`
-- @tparam[opt] table fields the error's fields (`message`, `status`,
-- `retryable`...); the table itself becomes the error
-- @treturn table the error: `tostring(err)` reads `bulksync: KIND (STATUS): MESSAGE`

--- Whether a value is a UUID string (8-4-4-4-12 hex digits, either case),
-- as every sync, execution, schedule and connection id must be.
-- @function is_uuid
-- @param v any value
-- @treturn boolean

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

--- Reads JSON text strictly (RFC 8259) into Lua values. Integers stay
-- integers on Lua 5.3 and 5.4 (exact to 2^53 on 5.1, 5.2 and LuaJIT), JSON
-- null becomes @{null}, and arrays carry @{array_mt} so that the value
-- encodes back as it came.
-- @tparam string text JSON text
-- @return the value
-- @raise `DecodeError` when `text` is not a string or not valid JSON; the
-- message names the byte where reading stopped.
-- @usage local sync = bulksync.decode(io.open("sync.json"):read("*a"))
function M.decode(text)
  if type(text) ~= "string" then
    E.raise("DecodeError", { message = "decode expects a string, got " .. type(text) })
  end
  local value, err = core.decode(text)
  if value == nil then E.raise("DecodeError", { message = "invalid JSON: " .. err }) end
  return value
end

--- The JSON that @{client:update} would send for `body`: the same checks,
-- no network. Declared fields are written in the schema's order and keys
-- of free-form maps sorted, so the same table always gives the same bytes.
-- @tparam table body an update body (the `sync` body kind)
-- @tparam[opt] table opts
--
--  * `version` (string, default `"2025-09-18"`): the API version, one of @{API_VERSIONS}
--  * `strict` (boolean, default false): also refuse a body that omits any
--    optional field (the server would reset it) or a `schemas` item without `fields`
--  * `max_values` (whole number, 1 to 1,000,000,000; default 500,000): values the walk of one body may visit
--  * `max_bytes` (whole number, 1 to 4 GiB; default 64 MiB): JSON one body may make
-- @treturn string the JSON
-- @raise `ValidationError` naming every problem with its path (`err.errors`
-- is the list of `{ path, code, problem }`), for the body, an unknown option
-- or an unsupported version.
-- @usage local json = bulksync.encode(body, { version = "2024-02-08" })
function M.encode(body, opts)
  opts = O.check(opts, "encode")
  return EP.encode(body, O.version(opts.version), opts.strict, nil, O.limits(opts))
end

--- Checks `body` as @{encode} does, and returns the outcome instead of
-- raising it.
-- @tparam table body an update body
-- @tparam[opt] table opts the options of @{encode}: `version`, `strict`,
-- `max_values`, `max_bytes`
-- @treturn[1] boolean `true` when the body is valid
-- @treturn[2] boolean `false`
-- @treturn[2] table the `ValidationError`; `err.errors` lists each problem as
-- `{ path, code, problem }`, `code` one of `required`, `unknown`, `type`,
-- `enum`, `format`, `null`, `range`, `strict`, `structure`, `limit`
-- @raise `ValidationError` for an unsupported version or bad options
-- (those are mistakes in the call, not in the body).
-- @usage
-- local ok, err = bulksync.validate(body)
-- if not ok then
--   for _, p in ipairs(err.errors) do print(p.path, p.code, p.problem) end
-- end
function M.validate(body, opts)
  opts = O.check(opts, "validate")
  local ok, problems, count = core.validate(body, O.version(opts.version), opts.strict, O.limits(opts))
  if ok then return true end
  return false, E.validation(problems, count)
end

--- The API's fields for one version, as Lua data: the same description
-- the C core validates with. Each field has its `name`, `type`, whether it
-- is `required` or `nullable`, its `enum` values, and what the server
-- `reset`s it to when a body omits it (with a `reset_note`).
-- @tparam[opt] string version one of @{API_VERSIONS}; default `"2025-09-18"`
-- @treturn table `{ fields = {...}, by_name = {...}, read_only = {...}, ... }`
-- @raise `ValidationError` for an unsupported version.
function M.schema(version)
  return core.schema(O.version(version))
end

--- A complete update body from a GET response, offline: what the sync
-- has now, as a body that resets nothing. It drops what a body never
-- carries (`id`, `created_*`, `updated_*`; `organization_id` unless
-- `keep_organization`), keeps explicit nulls, and turns the schemas'
-- details into `schemas` with every field's choices.
-- @function to_update
-- @tparam table sync the sync, as @{client:get} returns it (or its `{ data = sync }` envelope)
-- @tparam[opt] table opts
--
--  * `version` (string, default `"2025-09-18"`): the API version of the body
--  * `schemas` (table): every schema's details, as `client:schemas(id, { details = true })`
--    returns them; without it the body has no `schemas` (which selects all)
--  * `keep_organization` (boolean, default false): keep `organization_id`, for partner callers
-- @treturn table the body
-- @raise `ValidationError` naming the field when the response lacks
-- something the body needs, when `schemas` is the listing (it has no fields)
-- instead of the details, or for a 2025-09-18 sync whose default schedule
-- is `multi` (that body cannot carry its per-field schedules).
-- @usage
-- local details = client:schemas(id, { details = true })
-- local body = bulksync.to_update(client:get(id), { schemas = details })
M.to_update = X.to_update
--- The plan of sending `body` to a sync that is `current` now, offline:
-- field by field what the body keeps, changes, clears, adds or resets.
-- @function diff
-- @tparam table current the sync as @{client:get} returns it
-- @tparam table body the update body
-- @tparam[opt] table opts
--
--  * `version` (string, default `"2025-09-18"`): the API version of the body
--  * `schemas` (table): every schema's details, so that `schemas` can be
--    compared; without them its current selection is unknown
--  * `id` (string): the sync's id for the plan's heading, when `current` has none
-- @treturn bulksync.plan.Plan the plan
-- @raise `ValidationError` when `current` or `body` is not a table, or one
-- nests deeper than 64 levels (or contains itself).
-- @usage print(bulksync.diff(current_sync, body, { schemas = details }))
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

--- Makes a client. Every option is checked at once; one ValidationError
-- names every problem. Inside OpenResty (when `ngx.socket.tcp` exists) the
-- client uses cosockets, elsewhere libcurl.
-- @tparam table opts
--
--  * `api_key` (string, required): sent as `Authorization: Bearer KEY`
--  * `org_id` (string): with it, `Authorization: Basic base64(org_id:api_key)`
--  * `base_url` (string, default `"https://app.polytomic.com"`): `http://` or
--    `https://` host, optional port and path prefix; no credentials or query
--  * `version` (string, default `"2025-09-18"`): the API version, one of @{API_VERSIONS}
--  * `timeout` (seconds, 0.001 to 2,000,000; default 60): the whole exchange
--  * `connect_timeout` (seconds, 0.001 to 2,000,000; default 10): the connection
--  * `retries` (whole number >= 0, default 2): attempts after the first, on
--    408, 429, 500, 502, 503, 504, connection failures and timeouts
--  * `retry_base` (seconds >= 0, default 0.5), `retry_cap` (default 8): the
--    backoff `retry_base * 2^n`, with jitter, at most `retry_cap`
--  * `max_retry_wait` (seconds >= 0, default 60): the longest wait, even
--    when the server asks for more (`Retry-After`, `X-RateLimit-Reset`)
--  * `max_response_size` (bytes, 1 to 4 GiB - 1; default 16 MiB): a larger
--    answer is aborted (a `TransportError`)
--  * `max_values` (1 to 1,000,000,000; default 500,000) and `max_bytes`
--    (1 to 4 GiB; default 64 MiB): the work one body's walk may cost
--  * `user_agent` (string, default `"lua-bulksync/VERSION"`)
--  * `headers` (table of name = value): more request headers; CR, LF and
--    `Authorization` refused
--  * `ca_file` (string): an extra CA bundle; TLS is always verified
--  * `proxy` (string or false): a proxy URL (http, https, socks4, socks4a,
--    socks5, socks5h); `false` ignores the `*_proxy` environment; libcurl only
--  * `transport` (`"curl"`, `"ngx"`, a `function(request)` or a table
--    `{ request, request_many, sleep, close }`): default `"ngx"` inside
--    OpenResty, else `"curl"`
--  * `sleep` (`function(seconds)`): how retries and @{client:wait} wait
-- @treturn client the client
-- @raise `ValidationError` naming every bad or unknown option (with the
-- closest known name); the key's value never appears in it.
-- @usage
-- local client = bulksync.new {
--   api_key = os.getenv("POLYTOMIC_API_KEY"),
--   timeout = 30, retries = 3,
-- }
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

--- A client of the bulk-sync API, made by @{new}.
--
-- Every method checks its ids (UUIDs), arguments and options before any
-- request: an unknown option name is a `ValidationError` naming the closest
-- known one, never ignored. Bodies are validated for the call's API version
-- and sent exactly as given. Calls return `data, meta`, where `meta` is
-- `{ status, headers, version, attempts }`, and raise a typed error
-- otherwise (see `bulksync.errors`).
--
-- Retryable failures (408, 429, 500, 502, 503, 504, connection failures,
-- timeouts) are tried again up to `retries` more times with the identical
-- body and the same `Idempotency-Key`. Writes that must not run twice
-- (@{client:start}, @{client:create}, @{client:create_schedule}) are tried
-- once unless an `idempotency_key` is given. An `idempotency_key` is 8 to 255
-- characters of `A-Z a-z 0-9 _ -`.
--
-- Calling a method with a dot (`client.update(...)`) or after @{client:close}
-- raises a plain string error at the caller's line. `tostring(client)` reads
-- `bulksync.client(BASE_URL, VERSION)`.
-- @type client

function Client:__tostring()
  return format("bulksync.client(%s, %s%s)", self.base_url, self.version, self.closed and ", closed" or "")
end

--- Releases the client's connection. Also done when the client is
-- garbage-collected, and by Lua 5.4's `<close>`; calling it again does
-- nothing. A closed client's methods raise an error.
-- @function client:close
-- @usage local client <close> = bulksync.new { api_key = key }
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

--- The sync: `GET /api/bulk/syncs/{id}`.
-- @function client:get
-- @tparam string id the sync's id (a UUID)
-- @tparam[opt] table opts
--
--  * `refresh_schemas` (boolean): ask the server to refresh the source's schemas first
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the sync
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).
-- @usage local sync = client:get(id)

--- Deletes the sync: `DELETE /api/bulk/syncs/{id}`.
-- **Its schedules and execution history go with it.**
-- @function client:delete
-- @tparam string id the sync's id (a UUID)
-- @tparam[opt] table opts
--
--  * `refresh_schemas` (boolean)
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn boolean `true`
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- One schema of the sync, with its fields and filters:
-- `GET .../schemas/{schema_id}`. The listing (@{client:schemas}) has neither.
-- @function client:schema
-- @tparam string id the sync's id (a UUID)
-- @tparam string schema_id the schema's id: the source's own name (such as `"public.orders"`), escaped in the path
-- @tparam[opt] table opts
--
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the schema
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- Cancels the sync's running execution: `POST .../cancel`.
-- @function client:cancel
-- @tparam string id the sync's id (a UUID)
-- @tparam[opt] table opts
--
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the answer's data
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- The sync's current and last execution and its next run: `GET .../status`.
-- @function client:status
-- @tparam string id the sync's id (a UUID)
-- @tparam[opt] table opts
--
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the status
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- The status of many syncs: `GET /api/bulk/syncs/status`.
-- @function client:list_status
-- @tparam[opt] table opts
--
--  * `all` (boolean): every sync, not only those with executions
--  * `active` (boolean): only active (true) or inactive (false) syncs
--  * `sync_id` (list of UUIDs): only these syncs (a repeated query parameter)
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the list of statuses
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).
-- @usage local statuses = client:list_status({ sync_id = { id1, id2 } })

--- One execution of the sync: `GET .../executions/{exec_id}`.
-- @function client:execution
-- @tparam string id the sync's id (a UUID)
-- @tparam string exec_id the execution's id (a UUID)
-- @tparam[opt] table opts
--
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the execution (its `status` says whether it has ended)
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- Cancels one execution: `POST .../executions/{exec_id}/cancel`.
-- @function client:cancel_execution
-- @tparam string id the sync's id (a UUID)
-- @tparam string exec_id the execution's id (a UUID)
-- @tparam[opt] table opts
--
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the answer's data
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- Replaces one schema of the sync: `PUT .../schemas/{schema_id}`.
-- **A full replacement of that schema**: a body without `fields` (or with
-- `fields = {}`) enables every field; `strict = true` refuses that. To change
-- part of a schema, use @{client:patch_schema}.
-- @function client:update_schema
-- @tparam string id the sync's id (a UUID)
-- @tparam string schema_id the schema's id: the source's own name (such as `"public.orders"`), escaped in the path
-- @tparam table body the schema's body (`enabled`, `fields`, `filters`, `partition_key`...)
-- @tparam[opt] table opts
--
--  * `version` (string, default the client's): the API version the body is checked for
--  * `strict` (boolean, default false): also refuse a body that omits an optional field
--  * `idempotency_key` (string, 8 to 255 of `A-Z a-z 0-9 _ -`): sent as `Idempotency-Key`
--  * `plan` (boolean): return the plan of the replacement (reading the record now), sending nothing
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the schema, or with `plan` the plan (see `bulksync.plan`)
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- Changes the listed schemas only: `PATCH .../schemas` with
-- `{"schemas": [...]}`. **A listed schema without `fields` gets every field enabled.**
-- @function client:update_schemas
-- @tparam string id the sync's id (a UUID)
-- @tparam table schemas the list of schema bodies, each with its `id`
-- @tparam[opt] table opts
--
--  * `version` (string, default the client's): the API version the body is checked for
--  * `strict` (boolean, default false): also refuse a body that omits an optional field
--  * `idempotency_key` (string, 8 to 255 of `A-Z a-z 0-9 _ -`): sent as `Idempotency-Key`
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the schemas
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- Cancels the running work on one schema: `POST .../schemas/{schema_id}/cancel`.
-- @function client:cancel_schema
-- @tparam string id the sync's id (a UUID)
-- @tparam string schema_id the schema's id: the source's own name (such as `"public.orders"`), escaped in the path
-- @tparam[opt] table opts
--
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the answer's data
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- The sync's schedules: `GET .../schedules`.
-- @function client:schedules
-- @tparam string id the sync's id (a UUID)
-- @tparam[opt] table opts
--
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the list of schedules
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- One schedule of the sync: `GET .../schedules/{schedule_id}`.
-- @function client:schedule
-- @tparam string id the sync's id (a UUID)
-- @tparam string schedule_id the schedule's id (a UUID)
-- @tparam[opt] table opts
--
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the schedule
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- Adds a schedule to the sync: `POST .../schedules` with
-- `{"schedule": {...}}`. Schedule bodies are **camelCase** (`dayOfWeek`,
-- `selectiveMode`), unlike the sync body. Not repeated after a failure
-- unless `idempotency_key` is given (a lost answer would add it twice).
-- @function client:create_schedule
-- @tparam string id the sync's id (a UUID)
-- @tparam table schedule the schedule (`frequency`, `hour`, `minute`, `dayOfWeek`...)
-- @tparam[opt] table opts
--
--  * `version` (string, default the client's): the API version the body is checked for
--  * `strict` (boolean, default false): also refuse a body that omits an optional field
--  * `idempotency_key` (string, 8 to 255 of `A-Z a-z 0-9 _ -`): sent as `Idempotency-Key`
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the schedule
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- Replaces one schedule whole: `PUT .../schedules/{schedule_id}`
-- with `{"schedule": {...}}` (camelCase).
-- @function client:update_schedule
-- @tparam string id the sync's id (a UUID)
-- @tparam string schedule_id the schedule's id (a UUID)
-- @tparam table schedule the schedule
-- @tparam[opt] table opts
--
--  * `version` (string, default the client's): the API version the body is checked for
--  * `strict` (boolean, default false): also refuse a body that omits an optional field
--  * `idempotency_key` (string, 8 to 255 of `A-Z a-z 0-9 _ -`): sent as `Idempotency-Key`
--  * `plan` (boolean): return the plan of the replacement (reading the record now), sending nothing
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the schedule, or with `plan` the plan
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- Deletes one schedule: `DELETE .../schedules/{schedule_id}`.
-- @function client:delete_schedule
-- @tparam string id the sync's id (a UUID)
-- @tparam string schedule_id the schedule's id (a UUID)
-- @tparam[opt] table opts
--
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the answer's data
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- The logs of one execution: `GET .../executions/{exec_id}/logs`.
-- @function client:execution_logs
-- @tparam string id the sync's id (a UUID)
-- @tparam string exec_id the execution's id (a UUID)
-- @tparam[opt] table opts
--
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the logs
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- Asks for an export of one execution's logs:
-- `POST .../executions/{exec_id}/logs/export`. Returns the whole answer:
-- its `data` (the URL) may be missing while its `job` runs.
-- @function client:export_execution_logs
-- @tparam string id the sync's id (a UUID)
-- @tparam string exec_id the execution's id (a UUID)
-- @tparam[opt] table opts
--
--  * `notify` (boolean): have the server notify when the export is ready
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the whole answer (`data`, `job`)
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- The console log of one execution: `GET .../executions/{exec_id}/consolelog`.
-- API 2025-09-18 only: under another version a `ValidationError` names it.
-- @function client:console_log
-- @tparam string id the sync's id (a UUID)
-- @tparam string exec_id the execution's id (a UUID)
-- @tparam[opt] table opts
--
--  * `limit` (whole number, 1 to 1,000,000): lines to return
--  * `after` (string): the position to continue after
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the log
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- The console log of one schema of an execution:
-- `GET .../executions/{exec_id}/schemas/{schema_id}/consolelog`.
-- API 2025-09-18 only: under another version a `ValidationError` names it.
-- @function client:schema_console_log
-- @tparam string id the sync's id (a UUID)
-- @tparam string exec_id the execution's id (a UUID)
-- @tparam string schema_id the schema's id: the source's own name (such as `"public.orders"`), escaped in the path
-- @tparam[opt] table opts
--
--  * `limit` (whole number, 1 to 1,000,000): lines to return
--  * `after` (string): the position to continue after
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the log
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- What a connection offers as a bulk-sync source:
-- `GET /api/connections/{connection_id}/bulksync/source`.
-- @function client:source
-- @tparam string connection_id the connection's id (a UUID)
-- @tparam[opt] table opts
--
--  * `include_fields` (boolean): list each schema's fields too
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the source
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- What a connection accepts as a bulk-sync target (what
-- `destination_configuration` may hold): `GET /api/connections/{connection_id}/bulksync/target`.
-- @function client:target
-- @tparam string connection_id the connection's id (a UUID)
-- @tparam[opt] table opts
--
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the target
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

--- The sync's error handling: `GET .../error-handling`.
-- API 2025-09-18 only: under another version a `ValidationError` names it.
-- Described by the official SDKs rather than by a published description.
-- @function client:error_handling
-- @tparam string id the sync's id (a UUID)
-- @tparam[opt] table opts
--
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the error handling
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).

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
-- `PUT /api/bulk/syncs/{id}` with exactly `body`: **a full replacement**.
-- Every field the body leaves out is cleared or reset by the server; use
-- @{client:patch} to change part of a sync, or `plan = true` to see first.
-- A body missing a required field, with an unknown field (the closest known
-- name is suggested) or a field of the other API version is refused.
-- @function client:update
-- @tparam string id the sync's id (a UUID)
-- @tparam table body the complete sync body
-- @tparam[opt] table opts
--
--  * `version` (string, default the client's): the API version the body is checked for
--  * `strict` (boolean, default false): also refuse a body that omits any optional
--    field (listing what the server would reset) or a `schemas` item without `fields`
--  * `idempotency_key` (string, 8 to 255 of `A-Z a-z 0-9 _ -`): sent as `Idempotency-Key`
--  * `plan` (boolean): return @{client:plan}'s plan of this body instead of sending it
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the sync as the server now has it (or, with `plan`, the plan)
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).
-- @usage local sync, meta = client:update(id, body, { strict = true })
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
-- Follows every `pagination.next_page_token`; a token seen twice is a
-- `DecodeError` rather than a loop. `{"data": null}` is an empty list.
-- @function client:list
-- @tparam[opt] table opts
--
--  * `active` (boolean): only active (true) or inactive (false) syncs
--  * `limit` (whole number, 1 to 50; the server's default 50): syncs per page
--  * `page_token` (string): start from this page
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the list of syncs
-- @treturn table meta the last page's, with `pages` the number of pages
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).
-- @usage for _, sync in ipairs(client:list({ active = true })) do print(sync.id, sync.name) end
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
-- The iterator of @{client:list}, one page in memory at a time.
-- @function client:each_sync
-- @tparam[opt] table opts
--
--  * `active` (boolean): only active (true) or inactive (false) syncs
--  * `limit` (whole number, 1 to 50; the server's default 50): syncs per page
--  * `page_token` (string): start from this page
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn function an iterator giving one sync per step
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`). Raised by the loop for a page that fails.
-- @usage for sync in client:each_sync() do print(sync.name) end
function Client:each_sync(opts)
  local state = state_of(self)
  opts = O.check(opts, ROWS.list.option_names)
  EP.prepare(state, ROWS.list, opts)
  return each(pager(state, ROWS.list, opts))
end

--- client:executions(id, opts) -> one page of the sync's executions, and
-- meta.next_page_token to pass as opts.page_token for the next.
-- `GET .../executions`.
-- @function client:executions
-- @tparam string id the sync's id (a UUID)
-- @tparam[opt] table opts
--
--  * `limit` (whole number, 1 to 100): executions per page
--  * `page_token` (string): the page to read (`meta.next_page_token` of the previous one)
--  * `only_terminal` (boolean): only executions that have ended
--  * `ascending` (boolean): oldest first
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table one page of executions
-- @treturn table meta with `next_page_token` when there is a next page
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).
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
-- The iterator over every page of @{client:executions}.
-- @function client:each_execution
-- @tparam string id the sync's id (a UUID)
-- @tparam[opt] table opts the options of @{client:executions}
-- @treturn function an iterator giving one execution per step
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).
-- @usage for e in client:each_execution(id, { only_terminal = true }) do print(e.id, e.status) end
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
-- `POST .../activate` with `{"active": active}`.
-- @function client:activate
-- @tparam string id the sync's id (a UUID)
-- @tparam boolean active true to resume, false to pause
-- @tparam[opt] table opts
--
--  * `version` (string, default the client's): the API version the body is checked for
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the answer's data
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`). `active` that is not a boolean is a `ValidationError`.
function Client:activate(id, active, opts)
  local state = state_of(self)
  if type(active) ~= "boolean" then
    E.invalid("active", "must be true (resume) or false (pause), got " .. type(active), "request", "type")
  end
  return EP.call(state, ROWS.activate, id, { active = active }, opts)
end
--- Pauses the sync: @{client:activate}`(id, false)`. **It also cancels a
-- running execution.**
-- @function client:pause
-- @tparam string id the sync's id (a UUID)
-- @tparam[opt] table opts the options of @{client:activate}
-- @treturn table the answer's data
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).
function Client:pause(id, opts) return self:activate(id, false, opts) end
--- Resumes the sync: @{client:activate}`(id, true)`.
-- @function client:resume
-- @tparam string id the sync's id (a UUID)
-- @tparam[opt] table opts the options of @{client:activate}
-- @treturn table the answer's data
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).
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
-- `POST .../executions` with the body fields of `opts`. Not repeated after
-- a failure unless `idempotency_key` is given: a lost answer would start it twice.
-- @function client:start
-- @tparam string id the sync's id (a UUID)
-- @tparam[opt] table opts
--
--  * `fetch_mode` (`"none"`, `"incremental"` or `"full"`)
--  * `resync_mode` (`"refetch"`, `"resync"` or `"rebuild"`); API 2024-02-08: `resync = true`
--  * `schemas` (list of schema ids): **empty or left out runs every enabled schema**
--  * `test` (boolean): a test run; not with `resync_mode`
--  * `wait` (true, or the options of @{client:wait}): wait for the execution
--    to end and return it
--  * `version` (string, default the client's): the API version the body is checked for
--  * `idempotency_key` (string, 8 to 255 of `A-Z a-z 0-9 _ -`): sent as `Idempotency-Key`
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the execution (ended, with `wait`)
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`). With `wait`, also what @{client:wait} raises.
-- @usage local execution = client:start(id, { fetch_mode = "incremental", wait = { timeout = 600 } })
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
-- It ends on every status of @{TERMINAL_STATUSES}: read `execution.status`.
-- @function client:wait
-- @tparam string id the sync's id (a UUID)
-- @tparam string exec_id the execution's id (a UUID)
-- @tparam[opt] table opts
--
--  * `interval` (seconds > 0, default 2): the first wait between polls; it grows by half each time
--  * `max_interval` (seconds > 0, default 30): the longest wait between polls
--    (longer when the answer sends `Retry-After`)
--  * `timeout` (seconds > 0, default 3600): give up after this long
--  * `on_progress` (`function(execution)`): called after each poll
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the execution, ended
-- @treturn table meta of the last poll
-- @raise `WaitTimeoutError` past `timeout`, carrying the last execution read as
-- `err.execution`; `ValidationError` for bad ids or options; the errors of
-- @{client:execution}.
-- @usage local e = client:wait(id, exec_id, { on_progress = function(e) print(e.status) end })
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
-- The listing has no fields or filters because the API leaves them out;
-- @{client:schema} reads one schema's record.
-- @function client:schemas
-- @tparam string id the sync's id (a UUID)
-- @tparam[opt] table opts
--
--  * `details` (boolean, default false): fetch every schema's record
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the listing, or with `details` the list of schema records
-- @treturn table meta of the listing
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`). With `details`, the first failure of the schema reads.
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
-- Only the fields named in `changes` change: it GETs the sync, its schemas
-- listing and every schema's record (N in parallel), builds the complete
-- body (@{to_update}), applies `changes`, and PUTs it: N + 2 reads, one write.
-- @{null} clears a nullable field.
-- @function client:patch
-- @tparam string id the sync's id (a UUID)
-- @tparam table changes field = value, top-level fields of the sync body
-- @tparam[opt] table opts
--
--  * `version` (string, default the client's): the API version of the read and the write
--  * `schemas` (`"keep"` or `"omit"`, default `"keep"`): `"omit"` skips the
--    schema reads and leaves `schemas` out, **which selects every schema and field**
--  * `keep_organization` (boolean, default false): send `organization_id` back (partner callers)
--  * `idempotency_key` (string, 8 to 255 of `A-Z a-z 0-9 _ -`): sent as `Idempotency-Key`
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the sync as the server now has it
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` before any request for changes that could never
-- apply (unknown or read-only fields, wrong types), and before the PUT when
-- the body would still lose something; otherwise the errors of the reads and the write.
-- @usage client:patch(id, { active = false, concurrency_limit = 8 })
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
-- It reads the sync and every schema's record (GETs only) and compares
-- them with `body` field by field; `print(plan)` shows the resets.
-- @function client:plan
-- @tparam string id the sync's id (a UUID)
-- @tparam table body the update body you mean to send
-- @tparam[opt] table opts
--
--  * `version` (string, default the client's): the API version of the body
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn bulksync.plan.Plan the plan
-- @raise `ValidationError` when `body` is not a table or nests too deep;
-- the errors of the reads.
-- @usage
-- local plan = client:plan(id, body)
-- print(plan)
-- if not plan:has_resets() then client:update(id, body) end
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
-- Not repeated after a failure unless `idempotency_key` is given: a lost
-- answer would create it twice.
-- @function client:create
-- @tparam table body the new sync's body
-- @tparam[opt] table opts
--
--  * `version` (string, default the client's): the API version the body is checked for
--  * `strict` (boolean, default false): refuse a body that omits any optional field
--  * `idempotency_key` (string, 8 to 255 of `A-Z a-z 0-9 _ -`): sent as `Idempotency-Key`
--  * `plan` (boolean): return the plan of what the server would default, sending nothing
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the new sync (or, with `plan`, the plan)
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for a bad id, argument or option, before anything
-- is sent; otherwise the kind of the answer or the failure (`NotFoundError`,
-- `UnauthorizedError`, `RateLimitError`, `TimeoutError`, `TransportError`,
-- `DecodeError`... see `bulksync.errors`).
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
-- @function client:patch_schema
-- @tparam string id the sync's id (a UUID)
-- @tparam string schema_id the schema's id: the source's own name (such as `"public.orders"`), escaped in the path
-- @tparam table changes field = value, fields of the schema body
-- @tparam[opt] table opts
--
--  * `version` (string, default the client's): the API version of the read and the write
--  * `idempotency_key` (string, 8 to 255 of `A-Z a-z 0-9 _ -`): sent as `Idempotency-Key`
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
-- @treturn table the schema as the server now has it
-- @treturn table meta `{ status, headers, version, attempts }`
-- @raise `ValidationError` for changes that could never apply (before any
-- request) and for a record that lacks something the replacement would
-- reset; otherwise the errors of the read and the write.
-- @usage client:patch_schema(id, "public.orders", { enabled = false })
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
-- Each item is one write on one sync: `{ id = ..., body = ... }` (a PUT), or
-- instead of `body` one of `patch = changes`, `activate = bool`,
-- `start = { ... }`, `cancel = true`, `delete = true`, `update_schema = body`
-- or `patch_schema = changes` (with `schema_id`), `create_schedule = schedule`,
-- `update_schedule = schedule` or `delete_schedule = true` (with `schedule_id`);
-- each may have an `idempotency_key`. Every item is checked first: an invalid
-- one is not sent. The rest run in parallel (libcurl's multi interface, light
-- threads inside OpenResty) over reused connections, with the client's retry
-- policy in rounds. One failure never stops the others.
-- @function client:update_many
-- @tparam table items the list of items (keys 1..n, no holes)
-- @tparam[opt] table opts
--
--  * `concurrency` (whole number, 1 to 1000; default 8): requests in flight at once
--  * `on_progress` (`function(done, total, item, result)`): after each item ends;
--    with libcurl it runs between transfers and must not yield
--  * `version` (string, default the client's): the API version of every body
--  * `strict` (boolean, default false): `strict` for every body
--  * `schemas`, `keep_organization`: as for @{client:patch}, for `patch` items
--  * `retries` (whole number >= 0; default the client's `retries`, 2): attempts after the first
--  * `dry_run` (boolean, default false): send no write; each item still does
--    its reads and its result carries the @{bulksync.plan.Plan} of what it would do
-- @treturn table results in input order: `{ ok = true, data = ..., meta = ... }`
-- or `{ ok = false, err = <typed error> }`; with `dry_run`, `{ ok = true, plan = ... }`
-- @raise `ValidationError` when `items` is not a list or an option is bad;
-- an error raised by `on_progress` stops the batch and is raised here.
-- Errors of single items are in their results.
-- @usage
-- local results = client:update_many({
--   { id = id1, body = body1 },
--   { id = id2, patch = { active = false }, idempotency_key = "deploy-42-b" },
-- }, { concurrency = 8 })
-- for i, r in ipairs(results) do
--   if not r.ok then print(i, r.err.kind, r.err.message) end
-- end
function Client:update_many(items, opts)
  return require("bulksync.many").run(state_of(self), self, items, opts)
end

M.Client = Client
return M
