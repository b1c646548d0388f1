-- Creating syncs, writing schemas and schedules, reading logs: each call's
-- request, its result against the stand-in, and what careless input gets
-- (a ValidationError with the path, nothing sent).
local bulksync = require "bulksync"
local standin = require "spec.support.standin"
local seed = require "standin.seed"

local json = standin.json
local ID = seed.ids.orders

local function refused(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected a ValidationError")
  assert.is_true(bulksync.is_error(err), tostring(err))
  assert.equal("ValidationError", err.kind, tostring(err))
  return err
end

describe("writes against the stand-in", function()
  local srv, client
  setup(function()
    srv = standin.start()
    client = bulksync.new { api_key = seed.api_key, base_url = srv.url }
  end)
  teardown(function()
    if client then client:close() end
    if srv then srv:stop() end
  end)
  before_each(function() srv:reset() end)

  local function requests(method)
    local out = {}
    for _, r in ipairs(srv:requests()) do if not method or r.method == method then out[#out + 1] = r end end
    return out
  end

  describe("create", function()
    local function body()
      return {
        name = "new sync", mode = "snapshot",
        source_connection_id = seed.connections.postgres, destination_connection_id = seed.connections.snowflake,
        destination_configuration = { schema = "raw" }, default_schedule = { frequency = "daily", hour = "04" },
      }
    end

    it("creates a sync that get then finds", function()
      local s = client:create(body())
      assert.equal("new sync", s.name)
      assert.equal("new sync", client:get(s.id).name)
      assert.equal("POST", requests("POST")[1].method)
    end)

    it("plan = true shows what the server would default, sending nothing", function()
      local p = client:create(body(), { plan = true })
      assert.is_true(p:has_resets())
      assert.equal(0, #srv:requests())
    end)

    it("refuses a body without a required field, or with a typo, sending nothing", function()
      local b = body()
      b.mode = nil
      assert.equal("mode", refused(client.create, client, b).errors[1].path)
      b = body()
      b.shedule = {}
      local err = refused(client.create, client, b)
      assert.matches("did you mean", err.message, 1, true)
      assert.equal(0, #srv:requests())
    end)
  end)

  describe("schemas", function()
    local SCHEMA = "public.orders"

    it("update_schema replaces one schema; strict refuses a body without fields", function()
      local err = refused(client.update_schema, client, ID, SCHEMA, { enabled = true }, { strict = true })
      local paths = {}
      for _, p in ipairs(err.errors) do paths[p.path] = p.problem end
      assert.matches("every field", paths.fields, 1, true)
      assert.equal(0, #srv:requests())
      local before = client:schema(ID, SCHEMA)
      local fields = {}
      for i, f in ipairs(before.fields) do fields[i] = { id = f.id, enabled = true, obfuscated = false } end
      local after = client:update_schema(ID, SCHEMA, { enabled = true, fields = fields })
      assert.equal(SCHEMA, after.id)
      for _, f in ipairs(after.fields) do assert.is_true(f.enabled) end
    end)

    it("patch_schema changes what it names and keeps every field selection and filter", function()
      local before = client:schema(ID, SCHEMA)
      local after = client:patch_schema(ID, SCHEMA, { enabled = false })
      assert.is_false(after.enabled)
      assert.same(before.fields, after.fields)
      assert.same(before.filters, after.filters)
      local put = requests("PUT")[1]
      assert.truthy(json.decode(put.body).fields)
    end)

    it("patch_schema refuses an unknown or ill-typed change before any request", function()
      local err = refused(client.patch_schema, client, ID, SCHEMA, { enabeld = false })
      assert.matches("did you mean `enabled`", err.errors[1].problem, 1, true)
      refused(client.patch_schema, client, ID, SCHEMA, { enabled = "no" })
      assert.equal(0, #srv:requests())
    end)

    it("update_schemas sends {schemas: [...]}; strict refuses an item without fields", function()
      refused(client.update_schemas, client, ID, { { id = SCHEMA, enabled = true } }, { strict = true })
      assert.equal(0, #srv:requests())
      local before = client:schema(ID, SCHEMA)
      local list = client:update_schemas(ID, { { id = SCHEMA, enabled = true, fields = before.fields,
        filters = before.filters, partition_key = before.partition_key, tracking_field = before.tracking_field,
        data_cutoff_timestamp = before.data_cutoff_timestamp, disable_data_cutoff = before.disable_data_cutoff,
        user_output_name = before.user_output_name, output_name = before.output_name } })
      assert.truthy(#list > 0)
      assert.truthy(json.decode(requests("PATCH")[1].body).schemas)
    end)
  end)

  describe("schedules", function()
    it("create, read, update and delete one, camelCase, with snake_case refused", function()
      local err = refused(client.create_schedule, client, ID, { frequency = "daily", day_of_week = "monday" })
      assert.matches("did you mean `dayOfWeek`", err.message, 1, true)
      assert.equal(0, #srv:requests())
      client:create_schedule(ID, { frequency = "weekly", dayOfWeek = "monday", hour = "03" })
      local list = client:schedules(ID)
      assert.truthy(#list >= 2)
      local sync = client:get(ID)
      local last = sync.additional_schedules[#sync.additional_schedules]
      assert.equal("weekly", client:schedule(ID, last.id).frequency)
      client:update_schedule(ID, last.id, { frequency = "daily", hour = "05" })
      assert.equal("daily", client:schedule(ID, last.id).frequency)
      assert.is_true(client:delete_schedule(ID, last.id))
      assert.equal(#list - 1, #client:schedules(ID))
    end)
  end)

  describe("logs", function()
    it("reads an execution's logs, exports them, and pages its console log", function()
      local e = client:start(ID, { wait = { interval = 0.01 } })
      assert.truthy(client:execution_logs(ID, e.id))
      local first = client:export_execution_logs(ID, e.id)
      assert.truthy(first.job)
      local again = client:export_execution_logs(ID, e.id, { notify = false })
      assert.equal(first.job.id, again.job.id)
      assert.truthy(client:console_log(ID, e.id, { limit = 5 }))
    end)

    it("console_log needs API 2025-09-18: another version is a ValidationError naming it", function()
      local old = bulksync.new { api_key = seed.api_key, base_url = srv.url, version = "2024-02-08" }
      local err = refused(old.console_log, old, ID, "7c1e2d3f-4a5b-4c6d-8e7f-901a2b3c4d5e")
      old:close()
      assert.matches("2025-09-18", err.message, 1, true)
      assert.equal(0, #srv:requests())
    end)
  end)

  describe("update_many of schema writes", function()
    it("patches one schema and keeps its fields", function()
      local before = client:schema(ID, "public.orders")
      local results = client:update_many { { id = ID, schema_id = "public.orders", patch_schema = { enabled = false } } }
      assert.is_true(results[1].ok, tostring(results[1].err))
      assert.is_false(results[1].data.enabled)
      assert.same(before.fields, results[1].data.fields)
    end)
  end)
end)

describe("connections and error handling", function()
  local CONN = "a1c0ffee-0000-4000-8000-000000000001"
  local SYNC = "0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a51"
  local function recording(body)
    local seen = {}
    local c = bulksync.new { api_key = "k", transport = function(req)
      seen[#seen + 1] = req.method .. " " .. req.url:gsub("^https?://[^/]+", "")
      return { status = 200, headers = {}, body = body }
    end }
    return c, seen
  end

  it("source, target and error_handling GET their paths", function()
    local c, seen = recording('{"data":{"schemas":[]}}')
    assert.same({ schemas = {} }, c:source(CONN, { include_fields = false }))
    c:target(CONN)
    c:error_handling(SYNC)
    assert.same({
      "GET /api/connections/" .. CONN .. "/bulksync/source?include_fields=false",
      "GET /api/connections/" .. CONN .. "/bulksync/target",
      "GET /api/bulk/syncs/" .. SYNC .. "/error-handling",
    }, seen)
  end)

  it("refuse a connection id that is not a UUID and a bad option, sending nothing", function()
    local c, seen = recording("{}")
    assert.equal("connection_id", refused(c.source, c, "postgres").errors[1].path)
    refused(c.source, c, CONN, { include_fields = "yes" })
    refused(c.target, c, CONN, { include_field = true })
    assert.equal(0, #seen)
  end)
end)

describe("plans of the writes that replace a record", function()
  local srv, client
  setup(function()
    srv = standin.start()
    client = bulksync.new { api_key = seed.api_key, base_url = srv.url }
  end)
  teardown(function()
    if client then client:close() end
    if srv then srv:stop() end
  end)
  before_each(function() srv:reset() end)

  local function by_field(p)
    local out = {}
    for _, e in ipairs(p.changes) do out[e.field] = e end
    return out
  end

  it("update_schema with plan = true shows the fields reset and every field enabled, sending nothing", function()
    local p = client:update_schema(ID, "public.orders", { enabled = true }, { plan = true })
    local e = by_field(p)
    assert.equal("reset", e.fields.action)
    assert.matches("every field", e.fields.note, 1, true)
    assert.equal("reset", e.filters.action)
    assert.is_true(p:has_resets())
    assert.matches("RESET%s+fields", tostring(p))
    for _, r in ipairs(srv:requests()) do assert.equal("GET", r.method) end
  end)

  it("a schema body built from its record keeps everything", function()
    local record = client:schema(ID, "public.orders")
    local body = {}
    for _, k in ipairs { "enabled", "fields", "filters", "partition_key", "tracking_field",
      "data_cutoff_timestamp", "disable_data_cutoff", "user_output_name" } do body[k] = record[k] end
    local p = client:update_schema(ID, "public.orders", body, { plan = true })
    assert.equal(0, p.resets, tostring(p))
  end)

  it("update_schedule with plan = true shows the schedule's change", function()
    local sync = client:get(ID)
    local sid = sync.default_schedule.id
    local p = client:update_schedule(ID, sid, { frequency = "hourly" }, { plan = true })
    assert.equal("change", by_field(p).schedule.action)
    for _, r in ipairs(srv:requests()) do assert.equal("GET", r.method) end
  end)
end)

describe("source, target and error handling against the stand-in", function()
  it("reads a connection's schemas and destination settings, and a sync's error handling", function()
    local srv = standin.start()
    local c = bulksync.new { api_key = seed.api_key, base_url = srv.url }
    local source = c:source(seed.connections.postgres)
    assert.truthy(#source.schemas > 0)
    assert.is_nil(c:source(seed.connections.postgres, { include_fields = false }).schemas[1].fields)
    assert.truthy(c:target(seed.connections.snowflake).modes)
    assert.truthy(c:error_handling(ID).subscribers)
    local old = bulksync.new { api_key = seed.api_key, base_url = srv.url, version = "2024-02-08" }
    local ok, err = pcall(old.error_handling, old, ID)
    old:close()
    c:close()
    srv:stop()
    assert.is_false(ok)
    assert.equal("ValidationError", err.kind)
  end)
end)
