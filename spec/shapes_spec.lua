-- Every answer of the stand-in server, checked against the published API
-- descriptions: each response body must match the response schema its
-- endpoint declares for its status (undeclared properties refused), and each
-- status must be one the endpoint declares, or 401 (which the official Go
-- SDK handles on every endpoint). The stand-in is driven through every
-- endpoint it serves, in both API versions, provoking every status it can
-- answer, and every answer is recorded and checked.
--
-- The descriptions are read from ../shared/reference (beside the checkout);
-- without them the shape specs are pending. The validator's own specs run
-- everywhere, so the shape specs cannot pass by accepting anything.
local openapi = require "spec.support.openapi"
local standin = require "spec.support.standin"
local seed = require "standin.seed"
local json = require "standin.json"

local null = json.null
local V25, V24 = "2025-09-18", "2024-02-08"
local KEY = "test-key"

local function root()
  local src = debug.getinfo(1, "S").source
  src = src:sub(1, 1) == "@" and src:sub(2) or "spec/shapes_spec.lua"
  return (src:gsub("spec/shapes_spec%.lua$", ""))
end

local REF = root() .. "../shared/reference/"
local FILES = {
  main = REF .. "polytomic-openapi.yaml",
  schemas = REF .. "polytomic-subpackage-bulksync-subpackage-bulksync-schemas-api-openapi.yml",
  executions = REF .. "polytomic-subpackage-bulksync-subpackage-bulksync-executions-api-openapi.yml",
  schedules = REF .. "polytomic-subpackage-bulksync-subpackage-bulksync-schedules-api-openapi.yml",
}

local function ref(name) return { ["$ref"] = "#/components/schemas/" .. name } end

describe("openapi validator", function()
  local v = openapi.new {
    Mode = { type = "string", enum = { "snapshot", "replicate" } },
    Item = {
      type = "object",
      required = { "id" },
      properties = {
        id = { type = "string", format = "uuid" },
        mode = ref "Mode",
        count = { type = { "integer", "null" } },
        at = { type = "string", format = "date-time" },
        tags = { type = "array", items = { type = "string" } },
        config = { type = { "object", "null" }, additionalProperties = { description = "Any type" } },
        legacy = { type = "boolean", nullable = true },
        either = { oneOf = { { type = "string" }, ref "Mode" } },
        value = { description = "Any type" },
      },
    },
  }
  local ID = "6b0e7d1c-4a53-4f0e-9d2a-1c5e8f3a7b01"
  local function item(extra)
    local t = { id = ID, mode = "snapshot", count = 3, at = "2025-10-01T12:00:00.123Z",
      tags = json.array { "a" }, config = { anything = json.array { 1, { x = null } } },
      legacy = null, either = "x", value = { deep = true } }
    for k, x in pairs(extra or {}) do t[k] = x end
    return t
  end
  local function problems(value) return v:validate(ref "Item", value) end

  it("accepts a value that matches, nulls where allowed and free-form maps", function()
    assert.same({}, problems(item()))
    assert.same({}, problems(item { count = null, config = null }))
    assert.same({}, problems({ id = ID }))
  end)

  it("refuses an undeclared property, at any depth", function()
    assert.same({ "$.extra: undeclared property" }, problems(item { extra = 1 }))
    local nested = openapi.new { Outer = { type = "object", properties = { inner = ref "Inner" } },
      Inner = { type = "object", properties = { a = { type = "string" } } } }
    assert.same({ "$.inner.b: undeclared property" },
      nested:validate(ref "Outer", { inner = { a = "x", b = "y" } }))
  end)

  it("refuses a wrong type, naming the path", function()
    assert.same({ "$.count: expected integer or null, got string \"3\"" }, problems(item { count = "3" }))
    assert.same({ "$.count: expected integer or null, got number 3.5" }, problems(item { count = 3.5 }))
    assert.same({ "$.tags[0]: expected string, got integer 1" }, problems(item { tags = json.array { 1 } }))
    assert.same({ "$.tags: expected array, got object" }, problems(item { tags = {} }))
    assert.same({ "$.config: expected object or null, got array" }, problems(item { config = json.array() }))
  end)

  it("refuses a missing required property", function()
    local t = item()
    t.id = nil
    assert.same({ "$.id: required property is missing" }, problems(t))
  end)

  it("refuses a value outside the enum", function()
    assert.same({ "$.mode: \"mirror\" is not one of snapshot, replicate" }, problems(item { mode = "mirror" }))
  end)

  it("refuses null where the type does not allow it", function()
    assert.same({ "$.mode: expected string, got null" }, problems(item { mode = null }))
    assert.same({ "$.id: expected string, got null" }, problems(item { id = null }))
  end)

  it("checks uuid and date-time formats", function()
    assert.same({ "$.id: \"order-1\" is not a uuid" }, problems(item { id = "order-1" }))
    assert.same({ "$.at: \"2025-10-01 12:00:00\" is not an RFC 3339 date-time" },
      problems(item { at = "2025-10-01 12:00:00" }))
  end)

  it("needs exactly one oneOf alternative, and reports an unresolved $ref", function()
    -- "snapshot" is a string and a Mode: two alternatives match.
    assert.same({ "$.either: matches 2 alternatives of oneOf" }, problems(item { either = "snapshot" }))
    assert.equal(1, #problems(item { either = 4 }))
    assert.same({ "$: unresolved $ref #/components/schemas/Nope" }, v:validate(ref "Nope", {}))
  end)
end)

---------------------------------------------------------------- the stand-in

local docs, why_not = {}, nil
for _, name in ipairs { "main", "schemas", "executions", "schedules" } do
  local doc, err = openapi.load(FILES[name])
  if not doc then
    why_not = err
    break
  end
  docs[name] = doc
end

local function copy(t)
  if type(t) ~= "table" then return t end
  local c = {}
  for k, x in pairs(t) do c[k] = copy(x) end
  return c
end

-- The one place an endpoint no published file describes is described here.
-- GET /api/bulk/syncs/{id}/error-handling: shared/reference/bulk-sync-writes.md
-- §4 (line 105) cites the TypeScript SDK's wire test errorHandling.test.ts
-- (commit 03c5d2f0), its only description: 200 is
-- {"data":{"ingestion_failure_threshold":1000000,"subscribers":["alerts@example.com"]}},
-- and 403, 404 and 500 are answered as errors. Read strictly: an integer,
-- an array of strings, nothing else, nothing nullable; the errors are
-- ApiError as on every other endpoint. Only that SDK line (2025-09-18) has
-- the call, so in 2024-02-08 the endpoint is missing (404, and 401).
local ERROR_HANDLING_SCHEMAS = {
  BulkSyncErrorHandling = {
    type = "object",
    properties = {
      ingestion_failure_threshold = { type = "integer" },
      subscribers = { type = "array", items = { type = "string" } },
    },
  },
  BulkSyncErrorHandlingEnvelope = {
    type = "object",
    properties = { data = { ["$ref"] = "#/components/schemas/BulkSyncErrorHandling" } },
  },
}
local function error_handling_doc()
  local function answer(name)
    return { content = { ["application/json"] = { schema = { ["$ref"] = "#/components/schemas/" .. name } } } }
  end
  return { paths = { ["/api/bulk/syncs/{id}/error-handling"] = { get = { responses = {
    ["200"] = answer "BulkSyncErrorHandlingEnvelope", ["403"] = answer "ApiError", ["404"] = answer "ApiError",
    ["500"] = answer "ApiError" } } } } }
end
if docs.main then docs.error_handling = error_handling_doc() end

local function copy_with(a, b)
  local c = copy(a)
  for k, x in pairs(b) do c[k] = copy(x) end
  return c
end

-- The schema sets responses are checked against, per document and version.
local function build_components()
  local main25 = copy(docs.main.components.schemas)
  local schemas25 = copy(docs.schemas.components.schemas)
  local executions25 = copy(docs.executions.components.schemas)
  local schedules25 = copy(docs.schedules.components.schemas)

  -- The one place where the published schemas are added to. The list's
  -- description says it pages with `pagination.next_page_token` (and takes
  -- `limit` and `page_token`), but BulkSyncListEnvelope declares only `data`.
  -- `pagination` is taken as declared, as PaginationDetails from the
  -- executions file (the envelope there that pages the same way).
  main25.PaginationDetails = copy(docs.executions.components.schemas.PaginationDetails)
  main25.BulkSyncListEnvelope.properties.pagination = ref "PaginationDetails"

  -- 2024-02-08 shapes, which no published file describes; from
  -- shared/reference/polytomic-api.md §2b, §3 (BulkSchedule) and §4
  -- (BulkSyncResponse, error bodies): BulkSyncResponse has `schedule`
  -- (BulkSchedule, which may hold `multi`) and `discover` in place of
  -- `default_schedule` and `additional_schedules`; 401 bodies are
  -- RestErrResponse. Everything else is as in 2025-09-18.
  local main24 = copy(main25)
  -- The sync's status has no ingestion_status in 2024-02-08 (polytomic-api.md §5).
  main24.BulkSyncStatusResponse.properties.ingestion_status = nil
  local sync24 = main24.BulkSyncResponse
  sync24.properties.default_schedule = nil
  sync24.properties.additional_schedules = nil
  sync24.properties.schedule = ref "BulkSchedule"
  sync24.properties.discover = { type = "boolean" }
  local schedule_part = { type = "string" }
  main24.BulkSchedule = {
    type = "object",
    required = { "frequency" },
    properties = {
      frequency = ref "ScheduleFrequency",
      day_of_month = schedule_part, day_of_week = schedule_part, hour = schedule_part,
      minute = schedule_part, month = schedule_part,
      multi = ref "BulkMultiScheduleConfiguration",
    },
  }
  main24.BulkMultiScheduleConfiguration = {
    type = "object",
    properties = { schedules = { type = "array", items = ref "BulkItemizedSchedule" }, type = { type = "string" } },
  }
  main24.BulkItemizedSchedule = {
    type = "object",
    required = { "item", "schedule" },
    properties = { item = ref "BulkSelectiveMode", schedule = ref "BulkSchedule" },
  }
  local rest_err = {
    type = "object",
    properties = {
      code = { type = "integer" },
      context = { type = "object", additionalProperties = true },
      error = { type = "string" },
      status = { type = "string" },
    },
  }
  return {
    main = { [V25] = openapi.new(main25), [V24] = openapi.new(main24) },
    schemas = { [V25] = openapi.new(schemas25), [V24] = openapi.new(schemas25) },
    -- The executions file has one shape for both versions.
    executions = { [V25] = openapi.new(executions25), [V24] = openapi.new(executions25) },
    -- So has the schedules file (camelCase in both).
    schedules = { [V25] = openapi.new(schedules25), [V24] = openapi.new(schedules25) },
    -- The undocumented endpoint: its own schemas beside the main file's
    -- (for ApiError).
    error_handling = { [V25] = openapi.new(copy_with(main25, ERROR_HANDLING_SCHEMAS)),
      [V24] = openapi.new(copy_with(main25, ERROR_HANDLING_SCHEMAS)) },
    rest_err = rest_err,
  }
end

-- The endpoints the stand-in serves, with the document that declares each.
local ENDPOINTS = {
  { name = "list", method = "GET", template = "/api/bulk/syncs", doc = "main" },
  { name = "get", method = "GET", template = "/api/bulk/syncs/{id}", doc = "main" },
  { name = "put", method = "PUT", template = "/api/bulk/syncs/{id}", doc = "main" },
  { name = "create", method = "POST", template = "/api/bulk/syncs", doc = "main" },
  { name = "schemas", method = "GET", template = "/api/bulk/syncs/{id}/schemas", doc = "schemas" },
  { name = "schema", method = "GET", template = "/api/bulk/syncs/{id}/schemas/{schema_id}", doc = "schemas" },
  { name = "put_schema", method = "PUT", template = "/api/bulk/syncs/{id}/schemas/{schema_id}", doc = "schemas" },
  { name = "patch_schemas", method = "PATCH", template = "/api/bulk/syncs/{id}/schemas", doc = "schemas" },
  { name = "cancel_schema", method = "POST", template = "/api/bulk/syncs/{id}/schemas/{schema_id}/cancel",
    doc = "schemas" },
  { name = "delete", method = "DELETE", template = "/api/bulk/syncs/{id}", doc = "main" },
  { name = "activate", method = "POST", template = "/api/bulk/syncs/{id}/activate", doc = "main" },
  { name = "cancel", method = "POST", template = "/api/bulk/syncs/{id}/cancel", doc = "main" },
  { name = "start", method = "POST", template = "/api/bulk/syncs/{id}/executions", doc = "main" },
  { name = "status", method = "GET", template = "/api/bulk/syncs/{id}/status", doc = "main" },
  { name = "executions", method = "GET", template = "/api/bulk/syncs/{id}/executions", doc = "executions" },
  { name = "execution", method = "GET", template = "/api/bulk/syncs/{id}/executions/{exec_id}", doc = "executions" },
  { name = "cancel_execution", method = "POST", template = "/api/bulk/syncs/{id}/executions/{exec_id}/cancel",
    doc = "executions" },
  { name = "list_status", method = "GET", template = "/api/bulk/syncs/status", doc = "executions" },
  { name = "logs", method = "GET", template = "/api/bulk/syncs/{sync_id}/executions/{execution_id}/logs",
    doc = "executions" },
  { name = "export_logs", method = "POST", template = "/api/bulk/syncs/{sync_id}/executions/{execution_id}/logs/export",
    doc = "executions" },
  -- The console logs are 2025-09-18 only: in 2024-02-08 only 404 (and 401).
  { name = "consolelog", method = "GET", template = "/api/bulk/syncs/{sync_id}/executions/{execution_id}/consolelog",
    doc = "executions", only25 = true },
  { name = "schema_consolelog", method = "GET",
    template = "/api/bulk/syncs/{sync_id}/executions/{execution_id}/schemas/{schema_id}/consolelog",
    doc = "executions", only25 = true },
  { name = "source", method = "GET", template = "/api/connections/{id}/bulksync/source", doc = "main" },
  { name = "target", method = "GET", template = "/api/connections/{id}/bulksync/target", doc = "main" },
  { name = "error_handling", method = "GET", template = "/api/bulk/syncs/{id}/error-handling", doc = "error_handling",
    only25 = true },
  { name = "list_schedules", method = "GET", template = "/api/bulk/syncs/{sync_id}/schedules", doc = "schedules" },
  { name = "create_schedule", method = "POST", template = "/api/bulk/syncs/{sync_id}/schedules", doc = "schedules" },
  { name = "get_schedule", method = "GET", template = "/api/bulk/syncs/{sync_id}/schedules/{schedule_id}",
    doc = "schedules" },
  { name = "put_schedule", method = "PUT", template = "/api/bulk/syncs/{sync_id}/schedules/{schedule_id}",
    doc = "schedules" },
  { name = "delete_schedule", method = "DELETE", template = "/api/bulk/syncs/{sync_id}/schedules/{schedule_id}",
    doc = "schedules" },
}
local BY_NAME = {}
for _, e in ipairs(ENDPOINTS) do BY_NAME[e.name] = e end

local function operation(e)
  return docs[e.doc].paths[e.template][e.method:lower()]
end

-- The statuses an endpoint may answer: those it declares, and 401.
local function allowed(e)
  local set = { [401] = true }
  for code in pairs(operation(e).responses) do set[tonumber(code)] = true end
  return set
end

local function sorted(set)
  local list = {}
  for k in pairs(set) do list[#list + 1] = k end
  table.sort(list)
  return list
end

describe("stand-in answers", function()
  if not docs.main then
    pending("the published API descriptions are not here (" .. tostring(why_not)
      .. "); clone the project beside shared/ to run these specs")
    return
  end

  local srv, records, components

  -- One request; the answer is recorded with its endpoint and version.
  local function call(ep, path, opts)
    opts = opts or {}
    local version = opts.version or V25
    local h = { Connection = "close", ["X-Polytomic-Version"] = version }
    if opts.auth ~= false then h.Authorization = opts.auth or ("Bearer " .. KEY) end
    local body = opts.body
    if type(body) == "table" then body = json.encode(body) end
    if body then h["Content-Type"] = "application/json" end
    local c = assert(standin.connect(srv))
    local res = assert(c:request(BY_NAME[ep].method, path, h, body))
    c:close()
    local decoded, err = json.decode(res.body)
    if res.body == "" then decoded, err = nil, "empty body" end
    records[#records + 1] = {
      endpoint = BY_NAME[ep], version = version, status = res.status, path = path,
      content_type = res.headers["content-type"], body = decoded, decode_error = decoded == nil and err or nil,
      raw = res.body,
    }
    return res.status, decoded
  end

  local function sync_path(id) return "/api/bulk/syncs/" .. id end

  local function minimal(version)
    local b = {
      name = "renamed",
      mode = "replicate",
      source_connection_id = seed.connections.postgres,
      destination_connection_id = seed.connections.snowflake,
      destination_configuration = { schema = "OTHER" },
    }
    if version == V24 then
      b.schedule = { frequency = "hourly", minute = "10" }
    else
      b.default_schedule = { frequency = "daily", hour = "6", minute = "0" }
    end
    return b
  end

  local function walk_list(version, query)
    local token
    repeat
      local q = query or ""
      if token then q = q .. (q ~= "" and "&" or "") .. "page_token=" .. token end
      local status, body = call("list", "/api/bulk/syncs" .. (q ~= "" and ("?" .. q) or ""), { version = version })
      assert.equal(200, status)
      token = body.pagination and body.pagination.next_page_token
    until not token or token == ""
  end

  local function exec_path(id, exec_id) return sync_path(id) .. "/executions/" .. exec_id end

  -- Starts an execution of `id` and polls it to its end; returns its id.
  local function run_to_end(v, id, body)
    local status, answer = call("start", sync_path(id) .. "/executions", { version = v, body = body or {} })
    assert.equal(200, status, json.encode(answer))
    local exec_id = answer.data.id
    for _ = 1, 10 do
      local _, got = call("execution", exec_path(id, exec_id), { version = v })
      if got.data.status == "completed" or got.data.status == "failed" then return exec_id end
    end
    error("execution " .. exec_id .. " never ended")
  end

  -- The lifecycle endpoints through every status they can answer, in one
  -- version, from a fresh seed.
  local function drive_lifecycle(v, bad_auths)
    local orders, crm = seed.ids.orders, seed.ids.crm
    local function start(id, body, opts)
      opts = opts or {}
      opts.version, opts.body = v, body
      return call("start", sync_path(id) .. "/executions", opts)
    end
    -- Nothing ran yet: a status without executions, an empty listing.
    call("status", sync_path(orders) .. "/status", { version = v })
    call("executions", sync_path(orders) .. "/executions", { version = v })
    call("list_status", "/api/bulk/syncs/status?sync_id=" .. orders, { version = v })
    call("list_status", "/api/bulk/syncs/status", { version = v })

    -- created -> running -> completed, polled through the execution and the status.
    local status, answer = start(orders, { schemas = json.array { "public.orders" }, fetch_mode = "full" })
    assert.equal(200, status, json.encode(answer))
    local first = answer.data.id
    assert.equal(409, (start(orders, {})))
    call("status", sync_path(orders) .. "/status", { version = v })
    call("list_status", "/api/bulk/syncs/status?all=true", { version = v })
    call("execution", exec_path(orders, first), { version = v })
    call("execution", exec_path(orders, first), { version = v })
    -- A completed run, a failed run, a canceled run, and one running.
    run_to_end(v, orders, { schemas = json.array() })
    srv:config { executions_fail = true }
    run_to_end(v, orders, v == V24 and { resync = true } or { resync_mode = "rebuild" })
    srv:config { executions_fail = false, execution_steps = 5 }
    status, answer = start(orders, { test = true, schemas = null })
    call("execution", exec_path(orders, answer.data.id), { version = v })
    call("cancel_execution", exec_path(orders, answer.data.id) .. "/cancel", { version = v })
    call("cancel_execution", exec_path(orders, answer.data.id) .. "/cancel", { version = v })
    status, answer = start(orders)
    call("execution", exec_path(orders, answer.data.id), { version = v })
    call("status", sync_path(orders) .. "/status", { version = v })
    call("list_status", "/api/bulk/syncs/status?active=true", { version = v })
    call("list_status", "/api/bulk/syncs/status?sync_id=" .. orders .. "&sync_id=" .. crm, { version = v })
    -- The executions list: pages, only_terminal, ascending, the switches.
    for _, q in ipairs { "", "?limit=2", "?only_terminal=true&limit=1", "?ascending=true&limit=3",
      "?only_terminal=true&ascending=true" } do
      local token
      repeat
        local path = sync_path(orders) .. "/executions" .. q
        if token then path = path .. (q ~= "" and "&" or "?") .. "page_token=" .. token end
        local st, page = call("executions", path, { version = v })
        assert.equal(200, st)
        token = page.pagination and page.pagination.next_page_token
      until not token or token == ""
    end
    -- Cancel the sync's running execution, then again with none running.
    call("cancel", sync_path(orders) .. "/cancel", { version = v })
    call("cancel", sync_path(orders) .. "/cancel", { version = v })
    -- Activate and deactivate (which cancels what runs).
    start(crm, {})
    call("activate", sync_path(crm) .. "/activate", { version = v, body = { active = true } })
    call("activate", sync_path(crm) .. "/activate", { version = v, body = { active = false } })
    call("status", sync_path(crm) .. "/status", { version = v })
    -- An empty execution (a sync with no schemas) and the null/empty-token switches.
    srv:seed_many(1)
    local bare = seed.synthetic_id(1)
    srv:config { null_empty_lists = true, empty_last_page_token = true, execution_steps = 1 }
    run_to_end(v, bare, {})
    call("executions", sync_path(bare) .. "/executions", { version = v })
    call("executions", sync_path(bare) .. "/executions?only_terminal=true", { version = v })
    call("executions", sync_path(seed.ids.marketing) .. "/executions", { version = v })
    call("list_status", "/api/bulk/syncs/status?sync_id=" .. crm, { version = v })
    call("list_status", "/api/bulk/syncs/status", { version = v })
    srv:config { null_empty_lists = false, empty_last_page_token = false, execution_steps = 3 }

    -- 400 from start: bodies it refuses, and a sync that is not there.
    local refused = { "{", "[]", { fetch_mode = "all" }, { test = "yes" }, { schemas = json.array { "public.nope" } },
      { schemas = json.array { "Lead" } }, { schemas = json.array { "public.orders", "public.orders" } },
      { fetch_mode = null } }
    if v == V24 then
      refused[#refused + 1] = { resync_mode = "resync" }
      refused[#refused + 1] = { test = true, resync = true }
    else
      refused[#refused + 1] = { resync = true }
      refused[#refused + 1] = { test = true, resync_mode = "refetch" }
    end
    for _, body in ipairs(refused) do
      status, answer = start(crm, body)
      assert.equal(400, status, json.encode(answer))
    end
    start(seed.unknown_id, {})

    -- 404: ids that name nothing.
    for _, id in ipairs { seed.unknown_id, "not-a-uuid" } do
      call("delete", sync_path(id), { version = v })
      call("activate", sync_path(id) .. "/activate", { version = v, body = { active = true } })
      call("cancel", sync_path(id) .. "/cancel", { version = v })
      call("status", sync_path(id) .. "/status", { version = v })
      call("executions", sync_path(id) .. "/executions", { version = v })
      call("execution", exec_path(id, first), { version = v })
      call("cancel_execution", exec_path(id, first) .. "/cancel", { version = v })
      call("list_status", "/api/bulk/syncs/status?sync_id=" .. id, { version = v })
      call("execution", exec_path(orders, id), { version = v })
      call("cancel_execution", exec_path(orders, id) .. "/cancel", { version = v })
    end
    -- Requests the endpoint cannot serve: 500 or 404, whichever it declares.
    call("delete", sync_path(orders) .. "?refresh_schemas=maybe", { version = v })
    for _, body in ipairs { "", "{", "[]", "{}", json.encode { active = "yes" }, json.encode { active = true, x = 1 } } do
      call("activate", sync_path(orders) .. "/activate", { version = v, body = body })
    end
    local _, page = call("executions", sync_path(orders) .. "/executions?limit=1", { version = v })
    local other_order = "only_terminal=true&page_token=" .. page.pagination.next_page_token
    for _, q in ipairs { "only_terminal=maybe", "ascending=1", "limit=0", "limit=101", "page_token=bm9wZQ",
      other_order } do
      call("executions", sync_path(orders) .. "/executions?" .. q, { version = v })
    end
    call("list_status", "/api/bulk/syncs/status?all=maybe", { version = v })
    -- 500 where only a fault produces it: scripted.
    local boom = { status = 500, body = { key = "internal_error", message = "boom", metadata = {}, status = 500 } }
    srv:script { boom, boom, boom }
    call("cancel", sync_path(orders) .. "/cancel", { version = v })
    call("status", sync_path(orders) .. "/status", { version = v })
    call("cancel_execution", exec_path(orders, first) .. "/cancel", { version = v })

    -- 401, and 403 where declared, on every lifecycle endpoint.
    for _, auth in ipairs(bad_auths) do
      local o = { version = v, auth = auth }
      call("delete", sync_path(orders), o)
      call("activate", sync_path(orders) .. "/activate", { version = v, auth = auth, body = { active = true } })
      call("cancel", sync_path(orders) .. "/cancel", o)
      call("start", sync_path(orders) .. "/executions", o)
      call("status", sync_path(orders) .. "/status", o)
      call("executions", sync_path(orders) .. "/executions", o)
      call("execution", exec_path(orders, first), o)
      call("cancel_execution", exec_path(orders, first) .. "/cancel", o)
      call("list_status", "/api/bulk/syncs/status?all=true", o)
    end

    -- Logs, their export, the console logs (the execution `first` ended).
    local logs = exec_path(orders, first)
    call("logs", logs .. "/logs", { version = v })
    call("export_logs", logs .. "/logs/export?notify=true", { version = v })
    call("export_logs", logs .. "/logs/export", { version = v })
    call("export_logs", logs .. "/logs/export?notify=maybe", { version = v })
    for _, q in ipairs { "", "?limit=1", "?limit=2&after=1", "?limit=500", "?after=3", "?limit=0", "?after=x",
      "?after=99" } do
      call("consolelog", logs .. "/consolelog" .. q, { version = v })
      call("schema_consolelog", logs .. "/schemas/public.orders/consolelog" .. q, { version = v })
    end
    call("schema_consolelog", logs .. "/schemas/public.nope/consolelog", { version = v })
    for _, id in ipairs { seed.unknown_id, "not-a-uuid" } do
      call("logs", exec_path(id, first) .. "/logs", { version = v })
      call("export_logs", exec_path(id, first) .. "/logs/export", { version = v })
      call("consolelog", exec_path(id, first) .. "/consolelog", { version = v })
      call("schema_consolelog", exec_path(id, first) .. "/schemas/public.orders/consolelog", { version = v })
      call("logs", exec_path(orders, id) .. "/logs", { version = v })
      call("consolelog", exec_path(orders, id) .. "/consolelog", { version = v })
    end
    -- 408 and 500 are declared, but only a script produces them.
    local late = { status = 408, body = { key = "timeout", message = "late", metadata = {}, status = 408 } }
    srv:script { boom }
    call("export_logs", logs .. "/logs/export", { version = v })
    if v == V25 then
      srv:script { boom, late, boom, late }
      call("consolelog", logs .. "/consolelog", { version = v })
      call("consolelog", logs .. "/consolelog", { version = v })
      call("schema_consolelog", logs .. "/schemas/public.orders/consolelog", { version = v })
      call("schema_consolelog", logs .. "/schemas/public.orders/consolelog", { version = v })
    end
    for _, auth in ipairs(bad_auths) do
      call("logs", logs .. "/logs", { version = v, auth = auth })
      call("export_logs", logs .. "/logs/export", { version = v, auth = auth })
      call("consolelog", logs .. "/consolelog", { version = v, auth = auth })
      call("schema_consolelog", logs .. "/schemas/public.orders/consolelog", { version = v, auth = auth })
    end

    -- Delete: 200 without a body, then 404.
    call("delete", sync_path(orders), { version = v })
    call("delete", sync_path(orders), { version = v })
  end

  -- Drives every endpoint through every status the stand-in can answer.
  local function drive()
    local mime = require "mime"
    local other_org = "Basic " .. mime.b64("3f9c2e4a-0000-4000-8000-0000000000ff:" .. KEY)
    local bad_auths = { false, "Bearer wrong-key", "Token " .. KEY, other_org }
    local all_ids = { seed.ids.orders, seed.ids.crm, seed.ids.marketing }

    for _, v in ipairs { V25, V24 } do
      srv:reset()
      -- 200: every sync, every schema listing, every schema.
      walk_list(v)
      walk_list(v, "active=false")
      for _, id in ipairs(all_ids) do
        call("get", sync_path(id), { version = v })
        call("get", sync_path(id) .. "?refresh_schemas=true", { version = v })
        local _, listing = call("schemas", sync_path(id) .. "/schemas", { version = v })
        for _, s in ipairs(listing.data) do
          call("schema", sync_path(id) .. "/schemas/" .. s.id, { version = v })
        end
      end
      -- 200 from PUT: minimal bodies, and one with every optional field.
      for _, id in ipairs(all_ids) do call("put", sync_path(id), { version = v, body = minimal(v) }) end
      srv:reset()
      local full = minimal(v)
      full.active, full.concurrency_limit, full.policies = true, 2, json.array { seed.policies.pii }
      full.source_configuration = { slot = "s" }
      full.data_cutoff_timestamp = "2024-01-01T00:00:00Z"
      full.schemas = json.array {
        "public.products",
        { id = "public.orders", partition_key = "", tracking_field = null, fields = json.array { "id" },
          filters = json.array { { field_id = "status", ["function"] = "IsNotNull" } } },
        { id = "public.customers", partition_key = "id", tracking_field = "updated_at", enabled = false },
      }
      if v == V24 then
        full.discover = true
        full.schedule = { frequency = "multi", multi = { type = "selective", schedules = json.array {
          { item = "incrementalFields", schedule = { frequency = "continuous" } } } } }
      else
        full.additional_schedules = json.array {
          { id = seed.schedule_ids.orders_hourly, frequency = "hourly", minute = "5", selective_mode = "none" },
          { frequency = "weekly", day_of_week = "friday", resync_mode = "resync",
            schemas = json.array { "public.orders" } },
        }
      end
      local status, answer = call("put", sync_path(seed.ids.orders), { version = v, body = full })
      assert.equal(200, status, json.encode(answer))
      call("get", sync_path(seed.ids.orders), { version = v })
      call("schema", sync_path(seed.ids.orders) .. "/schemas/public.orders", { version = v })

      -- Create: 200 (defaults, a chosen schema), 400, 422, 500.
      call("create", "/api/bulk/syncs", { version = v, body = minimal(v) })
      local chosen = minimal(v)
      chosen.schemas = json.array { { id = "public.users", fields = json.array { { id = "email", obfuscate = true } } } }
      call("create", "/api/bulk/syncs", { version = v, body = chosen })
      for _, body in ipairs { "", "{", "[]", json.encode { name = 1 }, json.encode(minimal(v == V25 and V24 or V25)) } do
        call("create", "/api/bulk/syncs", { version = v, body = body })
      end
      local elsewhere = minimal(v)
      elsewhere.source_connection_id = seed.unknown_id
      call("create", "/api/bulk/syncs", { version = v, body = elsewhere })
      srv:script { { status = 500, body = { key = "internal_error", message = "boom", metadata = {}, status = 500 } } }
      call("create", "/api/bulk/syncs", { version = v, body = minimal(v) })

      -- Schema writes: 200, 404, refused bodies (500 for PUT, 400 for PATCH), 500.
      srv:reset()
      local schemas_path = sync_path(seed.ids.orders) .. "/schemas"
      call("put_schema", schemas_path .. "/public.orders", { version = v, body = {} })
      call("put_schema", schemas_path .. "/public.orders", { version = v, body = { enabled = true, user_output_name = "o",
        partition_key = "id", data_cutoff_timestamp = null, filters = null,
        fields = json.array { { id = "id", enabled = true, obfuscated = true, user_output_name = "x" } } } })
      call("patch_schemas", schemas_path, { version = v, body = { schemas = json.array {
        { id = "public.customers", enabled = false }, { id = "public.orders", output_name = "public_orders",
          fields = json.array { { id = "id", output_name = "id", obfuscated = true } } } } } })
      call("patch_schemas", schemas_path, { version = v, body = { schemas = null } })
      srv:config { null_empty_lists = true }
      call("patch_schemas", sync_path(seed.ids.orders) .. "/schemas", { version = v, body = {} })
      srv:config { null_empty_lists = false }
      for _, body in ipairs { "", "{", "[]", json.encode { id = "public.orders" },
        json.encode { fields = json.array { { id = "id", obfuscate = true } } } } do
        call("put_schema", schemas_path .. "/public.orders", { version = v, body = body })
      end
      for _, body in ipairs { "", "{", "[]", json.encode { schemas = json.array { { id = "public.nope" } } },
        json.encode { schemas = json.array { { id = "public.orders", fields = json.array { { id = "x" } } } } } } do
        call("patch_schemas", schemas_path, { version = v, body = body })
      end
      for _, id in ipairs { seed.unknown_id, "not-a-uuid" } do
        call("put_schema", sync_path(id) .. "/schemas/public.orders", { version = v, body = {} })
        call("patch_schemas", sync_path(id) .. "/schemas", { version = v, body = {} })
        call("cancel_schema", sync_path(id) .. "/schemas/public.orders/cancel", { version = v })
      end
      call("put_schema", schemas_path .. "/public.nope", { version = v, body = {} })
      call("cancel_schema", schemas_path .. "/public.nope/cancel", { version = v })
      call("cancel_schema", schemas_path .. "/public.orders/cancel", { version = v })
      call("start", sync_path(seed.ids.orders) .. "/executions", { version = v, body = {} })
      call("cancel_schema", schemas_path .. "/public.orders/cancel", { version = v })
      local boom = { status = 500, body = { key = "internal_error", message = "boom", metadata = {}, status = 500 } }
      srv:script { boom, boom }
      call("patch_schemas", schemas_path, { version = v, body = {} })
      call("cancel_schema", schemas_path .. "/public.orders/cancel", { version = v })
      srv:reset()

      -- Schedules: 200, refused bodies, unknown ids, deleting the default, 500.
      local sched = sync_path(seed.ids.orders) .. "/schedules"
      local sid = seed.schedule_ids
      call("list_schedules", sched, { version = v })
      call("list_schedules", sync_path(seed.ids.crm) .. "/schedules", { version = v })
      call("create_schedule", sched, { version = v, body = { schedule = { frequency = "hourly", minute = "5",
        selectiveMode = "none" } } })
      call("create_schedule", sched, { version = v, body = { schedule = { frequency = "weekly", dayOfWeek = "monday",
        hour = "1", minute = "0", dayOfMonth = "1", month = "1" } } })
      for _, id in ipairs { sid.orders_default, sid.orders_hourly, sid.orders_weekly } do
        call("get_schedule", sched .. "/" .. id, { version = v })
      end
      call("put_schedule", sched .. "/" .. sid.orders_default, { version = v, body = { schedule = { frequency = "daily" } } })
      call("put_schedule", sched .. "/" .. sid.orders_hourly, { version = v, body = { schedule = { frequency = "hourly",
        minute = "1", selectiveMode = "incrementalFields" } } })
      call("put_schedule", sync_path(seed.ids.marketing) .. "/schedules/" .. sid.marketing_default,
        { version = v, body = { schedule = { frequency = "multi" } } })
      call("get_schedule", sync_path(seed.ids.marketing) .. "/schedules/" .. sid.marketing_default, { version = v })
      for _, body in ipairs { "", "{", "[]", "{}", json.encode { schedule = { frequency = "often" } },
        json.encode { schedule = { frequency = "daily", day_of_week = "monday" } } } do
        call("create_schedule", sched, { version = v, body = body })
        call("put_schedule", sched .. "/" .. sid.orders_weekly, { version = v, body = body })
      end
      call("put_schedule", sched .. "/" .. sid.orders_default, { version = v,
        body = { schedule = { frequency = "daily", selectiveMode = "none" } } })
      call("delete_schedule", sched .. "/" .. sid.orders_weekly, { version = v })
      call("delete_schedule", sched .. "/" .. sid.orders_weekly, { version = v })
      call("delete_schedule", sched .. "/" .. sid.orders_default, { version = v })
      local some = { schedule = { frequency = "daily" } }
      for _, id in ipairs { seed.unknown_id, "not-a-uuid" } do
        call("list_schedules", sync_path(id) .. "/schedules", { version = v })
        call("create_schedule", sync_path(id) .. "/schedules", { version = v, body = some })
        call("get_schedule", sync_path(id) .. "/schedules/" .. sid.orders_default, { version = v })
        call("put_schedule", sync_path(id) .. "/schedules/" .. sid.orders_default, { version = v, body = some })
        call("delete_schedule", sync_path(id) .. "/schedules/" .. sid.orders_default, { version = v })
        call("get_schedule", sched .. "/" .. id, { version = v })
        call("put_schedule", sched .. "/" .. id, { version = v, body = some })
      end
      srv:script { boom, boom, boom, boom }
      call("list_schedules", sched, { version = v })
      call("create_schedule", sched, { version = v, body = some })
      call("get_schedule", sched .. "/" .. sid.orders_default, { version = v })
      call("put_schedule", sched .. "/" .. sid.orders_default, { version = v, body = some })
      srv:reset()

      -- Paging, an empty listing, and the data-null and empty-token modes.
      srv:reset()
      srv:seed_many(60)
      walk_list(v)
      walk_list(v, "limit=7&active=true")
      local first_synthetic = seed.synthetic_id(1) -- has no schemas
      call("schemas", sync_path(first_synthetic) .. "/schemas", { version = v })
      srv:config { null_empty_lists = true, empty_last_page_token = true }
      call("schemas", sync_path(first_synthetic) .. "/schemas", { version = v })
      call("get", sync_path(first_synthetic), { version = v })
      walk_list(v, "limit=50")
      srv:seed_many(0, true)
      call("list", "/api/bulk/syncs", { version = v })
      srv:config { null_empty_lists = false }
      call("list", "/api/bulk/syncs", { version = v })
      srv:reset()

      -- 401 (and 403 on PUT for another organization) on every endpoint.
      for _, auth in ipairs(bad_auths) do
        call("list", "/api/bulk/syncs", { version = v, auth = auth })
        call("get", sync_path(seed.ids.orders), { version = v, auth = auth })
        call("put", sync_path(seed.ids.orders), { version = v, auth = auth, body = minimal(v) })
        call("create", "/api/bulk/syncs", { version = v, auth = auth, body = minimal(v) })
        local sp = sync_path(seed.ids.orders) .. "/schemas"
        call("put_schema", sp .. "/public.orders", { version = v, auth = auth, body = {} })
        call("patch_schemas", sp, { version = v, auth = auth, body = {} })
        call("cancel_schema", sp .. "/public.orders/cancel", { version = v, auth = auth })
        local sc = sync_path(seed.ids.orders) .. "/schedules"
        local one = sc .. "/" .. seed.schedule_ids.orders_hourly
        call("list_schedules", sc, { version = v, auth = auth })
        call("create_schedule", sc, { version = v, auth = auth, body = { schedule = { frequency = "daily" } } })
        call("get_schedule", one, { version = v, auth = auth })
        call("put_schedule", one, { version = v, auth = auth, body = { schedule = { frequency = "daily" } } })
        call("delete_schedule", one, { version = v, auth = auth })
        call("schemas", sync_path(seed.ids.orders) .. "/schemas", { version = v, auth = auth })
        call("schema", sync_path(seed.ids.orders) .. "/schemas/public.orders", { version = v, auth = auth })
      end

      -- 404: unknown ids and schemas.
      for _, id in ipairs { seed.unknown_id, "not-a-uuid" } do
        call("get", sync_path(id), { version = v })
        call("put", sync_path(id), { version = v, body = minimal(v) })
        call("schemas", sync_path(id) .. "/schemas", { version = v })
        call("schema", sync_path(id) .. "/schemas/public.orders", { version = v })
      end
      call("schema", sync_path(seed.ids.orders) .. "/schemas/public.nope", { version = v })

      -- Requests the endpoint cannot serve: bad query parameters, bad bodies.
      for _, q in ipairs { "active=yes", "limit=0", "limit=51", "page_token=bm9wZQ" } do
        call("list", "/api/bulk/syncs?" .. q, { version = v })
      end
      call("get", sync_path(seed.ids.orders) .. "?refresh_schemas=maybe", { version = v })
      for _, body in ipairs { "", "{", "[]", json.encode { name = 1 } } do
        call("put", sync_path(seed.ids.orders), { version = v, body = body })
      end
      local wrong = minimal(v)
      wrong.schemas = json.array { { id = "public.orders", partition_key = "nope" } }
      call("put", sync_path(seed.ids.orders), { version = v, body = wrong })
      -- 500 on PUT is declared but only a fault produces it: scripted.
      srv:script { { status = 500, body = { key = "internal_error", message = "boom", metadata = {}, status = 500 } } }
      call("put", sync_path(seed.ids.orders), { version = v, body = minimal(v) })

      -- Connections as bulk source and target, a sync's error handling.
      local function conn_path(id, role) return "/api/connections/" .. id .. "/bulksync/" .. role end
      for _, c in pairs(seed.connections) do
        call("source", conn_path(c, "source"), { version = v })
        call("source", conn_path(c, "source") .. "?include_fields=false", { version = v })
        call("source", conn_path(c, "source") .. "?include_fields=true", { version = v })
        call("target", conn_path(c, "target"), { version = v })
      end
      call("source", conn_path(seed.connections.s3, "source") .. "?include_fields=no", { version = v })
      for _, id in ipairs { seed.unknown_id, "not-a-uuid", seed.ids.orders } do
        call("source", conn_path(id, "source"), { version = v })
        call("target", conn_path(id, "target"), { version = v })
        call("error_handling", sync_path(id) .. "/error-handling", { version = v })
      end
      for _, id in ipairs(all_ids) do call("error_handling", sync_path(id) .. "/error-handling", { version = v }) end
      srv:seed_many(1)
      call("error_handling", sync_path(seed.synthetic_id(1)) .. "/error-handling", { version = v })
      srv:script { boom, boom }
      call("source", conn_path(seed.connections.postgres, "source"), { version = v })
      call("target", conn_path(seed.connections.snowflake, "target"), { version = v })
      if v == V25 then
        srv:script { boom }
        call("error_handling", sync_path(seed.ids.orders) .. "/error-handling", { version = v })
      end
      for _, auth in ipairs(bad_auths) do
        call("source", conn_path(seed.connections.postgres, "source"), { version = v, auth = auth })
        call("target", conn_path(seed.connections.snowflake, "target"), { version = v, auth = auth })
        call("error_handling", sync_path(seed.ids.orders) .. "/error-handling", { version = v, auth = auth })
      end

      srv:reset()
      drive_lifecycle(v, bad_auths)
      srv:reset()
    end

    -- An unsupported version, on every endpoint (answered in 2025-09-18).
    for _, e in ipairs(ENDPOINTS) do
      local path = e.template:gsub("{id}", seed.ids.orders):gsub("{sync_id}", seed.ids.orders)
        :gsub("{execution_id}", seed.unknown_id)
        :gsub("{schema_id}", "public.orders"):gsub("{schedule_id}", seed.schedule_ids.orders_hourly)
        :gsub("{exec_id}", seed.unknown_id)
      local with_body = e.name == "put" or e.name == "create"
      call(e.name, path, { version = "2023-04-25", body = with_body and minimal(V25) or (e.method ~= "GET" and "{}" or nil) })
    end
    -- `version` names the shape the answer must have.
    for _, r in ipairs(records) do
      if r.version == "2023-04-25" then r.version = V25 end
    end
  end

  setup(function()
    components = build_components()
    srv = standin.start()
    records = {}
    drive()
  end)
  teardown(function() if srv then srv:stop() end end)

  local function schema_for(r)
    if r.status == 401 and r.version == V24 then return components.rest_err end
    local op = operation(r.endpoint)
    local resp = op.responses[tostring(r.status)]
    if not resp and r.status == 401 then return ref "ApiError" end
    return resp and resp.content["application/json"].schema
  end

  it("answers only statuses each endpoint declares, or 401", function()
    local wrong = {}
    for _, r in ipairs(records) do
      if not allowed(r.endpoint)[r.status] then
        wrong[#wrong + 1] = r.endpoint.method .. " " .. r.endpoint.template .. " (" .. r.version .. ", "
          .. r.path .. "): " .. r.status
      end
    end
    assert.same({}, wrong)
  end)

  it("provoked every status each endpoint may answer, in both versions", function()
    for _, e in ipairs(ENDPOINTS) do
      for _, v in ipairs { V25, V24 } do
        local seen = {}
        for _, r in ipairs(records) do
          if r.endpoint == e and r.version == v then seen[r.status] = true end
        end
        local want = allowed(e)
        if e.only25 and v == V24 then want = { [401] = true, [404] = true } end
        assert.same(sorted(want), sorted(seen), e.method .. " " .. e.template .. " " .. v)
      end
    end
  end)

  it("answers JSON that matches the published response schema, with nothing undeclared", function()
    local problems = {}
    for _, r in ipairs(records) do
      local where = r.endpoint.method .. " " .. r.path .. " (" .. r.version .. ") " .. r.status
      local declared = operation(r.endpoint).responses[tostring(r.status)]
      local schema = not (declared and declared.content == nil) and schema_for(r)
      if declared and declared.content == nil then
        -- A response declared without content (DELETE's 200) has none.
        if r.raw ~= "" then problems[#problems + 1] = where .. ": declares no content, got " .. #r.raw .. " bytes" end
        if r.content_type then problems[#problems + 1] = where .. ": Content-Type " .. r.content_type end
      elseif not (r.content_type or ""):match("^application/json") then
        problems[#problems + 1] = where .. ": Content-Type " .. tostring(r.content_type)
      elseif r.body == nil then
        problems[#problems + 1] = where .. ": not JSON: " .. tostring(r.decode_error)
      elseif schema then
        local v = components[r.endpoint.doc][r.version]
        for _, p in ipairs(v:validate(schema, r.body)) do problems[#problems + 1] = where .. ": " .. p end
      end
    end
    assert.same({}, problems)
    assert.is_true(#records > 100)
  end)

  it("saw the shapes that matter: pages, empty and null listings, multi, \"\" keys", function()
    local saw = {}
    for _, r in ipairs(records) do
      local b, e = r.body, r.endpoint.name
      if r.status == 200 and e == "list" then
        if b.pagination and b.pagination.next_page_token ~= "" then saw.paged = true end
        if b.pagination and b.pagination.next_page_token == "" then saw.empty_token = true end
        if b.data == null then saw.list_null = true end
        if json.is_array(b.data) and #b.data == 0 then saw.list_empty = true end
      elseif r.status == 200 and e == "schemas" then
        if b.data == null then saw.schemas_null = true end
        if json.is_array(b.data) and #b.data == 0 then saw.schemas_empty = true end
        for _, s in ipairs(b.data ~= null and b.data or {}) do
          if s.partition_key == "" then saw.unused_key = true end
          if s.partition_key ~= "" then saw.used_key = true end
        end
      elseif r.status == 200 and e == "get" then
        if r.version == V24 and b.data.schedule.multi then saw.multi = true end
        if r.version == V25 and b.data.default_schedule.frequency == "multi" then saw.multi25 = true end
        if b.data.additional_schedules == null then saw.schedules_null = true end
      elseif r.status == 200 and e == "schema" then
        if #b.data.filters > 0 then saw.filters = true end
        for _, f in ipairs(b.data.fields) do
          if f.obfuscated then saw.obfuscated = true end
          if not f.enabled then saw.disabled_field = true end
        end
      end
    end
    assert.same({ paged = true, empty_token = true, list_null = true, list_empty = true,
      schemas_null = true, schemas_empty = true, unused_key = true, used_key = true, multi = true,
      multi25 = true, schedules_null = true, filters = true, obfuscated = true, disabled_field = true }, saw)
  end)

  it("saw the lifecycle shapes: every execution state, status with and without runs", function()
    local saw = {}
    local function execution(e)
      if e then saw["exec_" .. e.status] = true end
    end
    for _, r in ipairs(records) do
      local b, e = r.body, r.endpoint.name
      if r.status == 200 and (e == "start" or e == "execution") then
        execution(b.data)
        if b.data.record_count > 0 then saw.records = true end
        if b.data.schemas == null then saw.exec_schemas_null = true end
      elseif r.status == 200 and e == "executions" then
        if b.pagination and b.pagination.next_page_token ~= "" then saw.exec_paged = true end
        if b.data == null then saw.exec_list_null = true end
        for _, x in ipairs(b.data ~= null and b.data or {}) do execution(x) end
      elseif r.status == 200 and e == "status" then
        if b.data.current_execution then saw.current = true end
        if b.data.last_execution then saw.last = true end
        if not b.data.current_execution and not b.data.last_execution then saw.never_ran = true end
        if b.data.next_execution_time ~= null then saw.next_time = true end
      elseif r.status == 200 and e == "list_status" then
        if b.data == null then saw.status_list_null = true end
        for _, x in ipairs(b.data ~= null and b.data or {}) do
          if x.status and x.schemas ~= null and #x.schemas > 0 then saw.schema_status = true end
        end
      elseif r.status == 200 and e == "delete" then
        saw.deleted = r.raw == ""
      end
    end
    assert.same({ exec_created = true, exec_running = true, exec_completed = true, exec_failed = true,
      exec_canceled = true, records = true, exec_schemas_null = true, exec_paged = true, exec_list_null = true,
      current = true, last = true, never_ran = true, next_time = true, status_list_null = true,
      schema_status = true, deleted = true }, saw)
  end)

  it("saw the connection and error-handling shapes: fields in and out, both target kinds", function()
    local saw = {}
    for _, r in ipairs(records) do
      local b, e = r.body, r.endpoint.name
      if r.status == 200 and e == "source" then
        for _, x in ipairs(b.data.schemas) do
          if x.fields and #x.fields > 0 then saw.fields = true end
          if x.fields == nil then saw.no_fields = true end
        end
        if b.data.configuration == null then saw.source_config_null = true else saw.source_config = true end
      elseif r.status == 200 and e == "target" then
        if #b.data.modes == 1 then saw.snapshot_only = true end
        if #b.data.modes == 2 then saw.both_modes = true end
      elseif r.status == 200 and e == "error_handling" then
        if #b.data.subscribers == 0 then saw.no_subscribers = true else saw.subscribers = true end
      end
    end
    assert.same({ fields = true, no_fields = true, source_config = true, source_config_null = true,
      snapshot_only = true, both_modes = true, no_subscribers = true, subscribers = true }, saw)
  end)

  it("would refuse an error-handling answer with a property the wire test does not show", function()
    local v = components.error_handling[V25]
    assert.same({}, v:validate(ref "BulkSyncErrorHandlingEnvelope",
      { data = { ingestion_failure_threshold = 1000000, subscribers = json.array { "alerts@example.com" } } }))
    assert.same({ "$.data.notify: undeclared property" }, v:validate(ref "BulkSyncErrorHandlingEnvelope",
      { data = { ingestion_failure_threshold = 1, subscribers = json.array {}, notify = true } }))
  end)

  it("would refuse a listing item that carries fields (the check is not vacuous)", function()
    local listing
    for _, r in ipairs(records) do
      if r.endpoint.name == "schemas" and r.status == 200 and json.is_array(r.body.data) and #r.body.data > 0 then
        listing = json.copy(r.body)
        break
      end
    end
    listing.data[1].fields = json.array()
    local problems = components.schemas[V25]:validate(ref "ListBulkSchemaEnvelope", listing)
    assert.same({ "$.data[0].fields: undeclared property" }, problems)
  end)
end)
