-- client:update_many(items, { dry_run = true }): every item's plan, reads
-- only. Against the local stand-in, whose request log shows that no PUT,
-- POST or DELETE went out and whose state shows nothing changed.
local bulksync = require "bulksync"
local standin = require "spec.support.standin"
local seed = require "standin.seed"

local ORDERS, CRM = seed.ids.orders, seed.ids.crm
local HOURLY = seed.schedule_ids.orders_hourly

local function full_body(name)
  return {
    name = name, mode = "replicate", active = true,
    source_connection_id = seed.connections.postgres,
    destination_connection_id = seed.connections.snowflake,
    destination_configuration = { schema = "analytics" },
    default_schedule = { frequency = "daily", hour = "05", minute = "30" },
  }
end

local function methods(srv)
  local out = {}
  for _, r in ipairs(srv:requests()) do out[r.method] = (out[r.method] or 0) + 1 end
  return out
end

local function assert_only_gets(srv)
  local seen = methods(srv)
  for method, n in pairs(seen) do
    assert.equal("GET", method, n .. " " .. method .. " request(s) in a dry run")
  end
  assert.truthy(seen.GET, "the dry run made its reads")
end

local function entry(p, path)
  for _, e in ipairs(p.entries) do
    if e.path == path then return e end
  end
end

describe("client:update_many with dry_run", function()
  local srv, client

  setup(function()
    srv = standin.start()
    client = bulksync.new { api_key = seed.api_key, base_url = srv.url, retry_base = 0.01 }
  end)
  teardown(function()
    if client then client:close() end
    if srv then srv:stop() end
  end)
  before_each(function() srv:reset() end)

  it("gives a patch item's plan, nested, after its reads, and writes nothing", function()
    local before = srv:state(ORDERS)
    local results = client:update_many({
      { id = ORDERS, patch = { destination_configuration = { schema = "ANALYTICS", table_prefix = "x_",
        warehouse = "LOAD_WH" }, name = "Renamed" } },
    }, { dry_run = true })
    local r = results[1]
    assert.is_true(r.ok, tostring(r.err))
    assert.is_nil(r.data)
    assert.is_nil(r.meta)
    local e = entry(r.plan, "destination_configuration.table_prefix")
    assert.equal("pg_", e.from)
    assert.equal("x_", e.to)
    assert.equal("change", entry(r.plan, "name").action)
    -- the body patch would send keeps everything else
    assert.equal(0, r.plan.resets)
    assert.equal(2, r.plan.counts.change)
    assert.equal(3, #r.plan.entries)   -- and organization_id, not known to be kept
    assert.matches('destination_configuration%.table_prefix%s+"pg_" %-> "x_"', tostring(r.plan))
    assert_only_gets(srv)
    assert.same(before, srv:state(ORDERS))
  end)

  it("gives a body item the same plan as client:plan, from one read pass", function()
    local body = full_body("Orders, careless")
    local results = client:update_many({ { id = ORDERS, body = body } }, { dry_run = true })
    local r = results[1]
    assert.is_true(r.ok, tostring(r.err))
    assert.is_true(r.plan:has_resets())
    assert.equal("reset", entry(r.plan, "automatically_add_new_fields").action)
    local text = tostring(r.plan)
    assert.matches("RESET%s+normalize_names", text)
    -- the sync, the listing and each schema's details were read
    local paths = {}
    for _, q in ipairs(srv:requests()) do paths[q.path] = true end
    assert.truthy(paths["/api/bulk/syncs/" .. ORDERS])
    assert.truthy(paths["/api/bulk/syncs/" .. ORDERS .. "/schemas"])
    assert.truthy(paths["/api/bulk/syncs/" .. ORDERS .. "/schemas/public.orders"])
    assert_only_gets(srv)
    assert.equal(text, tostring(client:plan(ORDERS, body)))
  end)

  it("plans a record replaced whole against the record read now", function()
    local results = client:update_many({
      { id = ORDERS, schema_id = "public.orders", patch_schema = { partition_key = "updated_at" } },
      { id = ORDERS, schema_id = "public.orders", update_schema = { enabled = true } },
      { id = ORDERS, schedule_id = HOURLY, update_schedule = { frequency = "hourly", minute = "45" } },
    }, { dry_run = true })
    for i, r in ipairs(results) do assert.is_true(r.ok, i .. ": " .. tostring(r.err)) end
    local patched = results[1].plan
    assert.equal("schema", patched.kind)
    assert.equal("change", entry(patched, "partition_key").action)
    assert.equal(0, patched.resets)
    -- a bare body drops the fields and filters: resets, shown as such
    local bare = results[2].plan
    assert.is_true(bare:has_resets())
    assert.equal("reset", entry(bare, "fields").action)
    local sched = results[3].plan
    assert.equal("schedule", sched.kind)
    local minute = entry(sched, "schedule.minute")
    assert.same({ "15", "45" }, { minute.from, minute.to })
    assert_only_gets(srv)
  end)

  it("plans every other write as the call it would make", function()
    local results = client:update_many({
      { id = ORDERS, activate = false },
      { id = ORDERS, start = { schemas = { "public.orders" } } },
      { id = CRM, cancel = true },
      { id = CRM, delete = true },
      { id = ORDERS, create_schedule = { frequency = "daily", hour = "1", minute = "0" } },
      { id = ORDERS, schedule_id = HOURLY, delete_schedule = true },
    }, { dry_run = true })
    local want = {
      { "POST", "/api/bulk/syncs/" .. ORDERS .. "/activate", '{"active":false}' },
      { "POST", "/api/bulk/syncs/" .. ORDERS .. "/executions", '{"schemas":["public.orders"]}' },
      { "POST", "/api/bulk/syncs/" .. CRM .. "/cancel" },
      { "DELETE", "/api/bulk/syncs/" .. CRM },
      { "POST", "/api/bulk/syncs/" .. ORDERS .. "/schedules" },
      { "DELETE", "/api/bulk/syncs/" .. ORDERS .. "/schedules/" .. HOURLY },
    }
    for i, r in ipairs(results) do
      assert.is_true(r.ok, i .. ": " .. tostring(r.err))
      local call = r.plan.call
      assert.equal(want[i][1], call.method, i)
      assert.equal(want[i][2], call.path, i)
      if want[i][3] then assert.equal(want[i][3], call.body, i) end
      assert.equal(0, r.plan.resets)
      assert.truthy(tostring(r.plan):find("would call " .. want[i][1] .. " " .. want[i][2], 1, true))
    end
    assert.equal("activate", results[1].plan.call.name)
    assert.truthy(results[5].plan.call.body:find('"schedule":{', 1, true))
    -- nothing at all was sent: these writes read nothing either
    assert.equal(0, #srv:requests())
    assert.truthy(srv:state(CRM))
  end)

  it("sends no write for a whole mixed batch, and reports each item in order", function()
    local before = { srv:state(ORDERS), srv:state(CRM) }
    local progress = {}
    local results = client:update_many({
      { id = ORDERS, body = full_body("one") },
      { id = CRM, patch = { active = true } },
      { id = ORDERS, activate = false },
      { id = seed.unknown_id, patch = { active = true } },
      { id = "not-a-uuid", body = full_body("x") },
      { id = ORDERS, schema_id = "public.orders", patch_schema = { enabled = false } },
    }, { dry_run = true, concurrency = 3, on_progress = function(done, total, _, result)
      progress[#progress + 1] = { done, total, result.ok }
    end })
    assert.equal(6, #results)
    assert.is_true(results[1].ok)
    assert.is_true(results[2].ok)
    assert.equal("change", entry(results[2].plan, "active").action)
    assert.is_true(results[3].ok)
    assert.is_false(results[4].ok)
    assert.equal("NotFoundError", results[4].err.kind)
    assert.is_false(results[5].ok)
    assert.equal("ValidationError", results[5].err.kind)
    assert.is_true(results[6].ok)
    for _, r in ipairs(results) do assert.is_nil(r.data) end
    assert.equal(6, #progress)
    assert_only_gets(srv)
    assert.same(before, { srv:state(ORDERS), srv:state(CRM) })
    -- the same batch without dry_run does write
    srv:reset()
    client:update_many({ { id = ORDERS, activate = false } })
    assert.equal(1, methods(srv).POST)
  end)

  it("checks the option like every other", function()
    for _, case in ipairs {
      { { dry_run = "yes" }, "dry_run", "must be true or false" },
      { { dryrun = true }, "dryrun", "did you mean `dry_run`?" },
    } do
      local ok, err = pcall(client.update_many, client, { { id = ORDERS, activate = true } }, case[1])
      assert.is_false(ok)
      assert.equal("ValidationError", err.kind)
      assert.equal(case[2], err.errors[1].path)
      assert.matches(case[3], err.errors[1].problem, 1, true)
    end
    assert.equal(0, #srv:requests())
  end)

  it("reports each patch item's progress once, dry run or not", function()
    for _, dry in ipairs { true, false } do
      srv:reset()
      local calls = {}
      local results = client:update_many({
        { id = ORDERS, patch = { name = "a" } },
        { id = CRM, patch = { name = "b" } },
        { id = ORDERS, schema_id = "public.orders", patch_schema = { enabled = true } },
      }, { dry_run = dry, on_progress = function(done, _, _, result) calls[#calls + 1] = { done, result.ok } end })
      for i, r in ipairs(results) do assert.is_true(r.ok, i .. ": " .. tostring(r.err)) end
      assert.same({ { 1, true }, { 2, true }, { 3, true } }, calls)
    end
  end)

  it("with dry_run = false, writes as usual", function()
    local results = client:update_many({ { id = ORDERS, activate = false } }, { dry_run = false })
    assert.is_true(results[1].ok)
    assert.is_nil(results[1].plan)
    assert.is_false(srv:state(ORDERS).sync.active)
  end)
end)
