-- patch and plan against the faithful stand-in: a partial change changes
-- what it names and nothing else, schemas and field selections included.
local bulksync = require "bulksync"
local standin = require "spec.support.standin"
local seed = require "standin.seed"

local json = standin.json

-- Deep equality over the stand-in's decoded values (null and arrays are
-- the stand-in codec's own markers).
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function differing_fields(before, after)
  local out = {}
  local keys = {}
  for k in pairs(before) do keys[k] = true end
  for k in pairs(after) do keys[k] = true end
  for k in pairs(keys) do
    if not same(before[k], after[k]) then out[#out + 1] = k end
  end
  table.sort(out)
  return out
end

for _, version in ipairs { "2025-09-18", "2024-02-08" } do
  describe("client:patch with API " .. version, function()
    local srv, client

    setup(function()
      srv = standin.start()
      client = bulksync.new { api_key = seed.api_key, base_url = srv.url, version = version }
    end)
    teardown(function()
      if client then client:close() end
      if srv then srv:stop() end
    end)
    before_each(function() srv:reset() end)

    it("changes active and nothing else, schemas and field selections included", function()
      -- A 2024-02-08 body cannot carry additional_schedules: use the sync
      -- that was configured through that version (a multi schedule).
      local id = version == "2025-09-18" and seed.ids.orders or seed.ids.marketing
      local before = srv:state(id)
      local data = client:patch(id, { active = false })
      assert.is_false(data.active)
      local after = srv:state(id)
      assert.same({ "active", "updated_at", "updated_by" },
        (function()
          local d = differing_fields(before.sync, after.sync)
          -- updated_by may legitimately stay the same actor
          local out = {}
          for _, k in ipairs(d) do if k ~= "updated_by" then out[#out + 1] = k end end
          out[#out + 1] = "updated_by"
          table.sort(out)
          return out
        end)())
      assert.is_true(same(before.schemas, after.schemas), "schema and field selections changed")
      -- What went out: GET, GET schemas, GET each schema's details (the
      -- listing has no fields), then one complete PUT: N + 2 reads.
      local reqs = srv:requests()
      local n = #before.schemas
      assert.equal(n + 3, #reqs)
      assert.equal("GET", reqs[1].method)
      assert.equal("/api/bulk/syncs/" .. id .. "/schemas", reqs[2].path)
      local detailed = {}
      for i = 3, n + 2 do
        assert.equal("GET", reqs[i].method)
        detailed[#detailed + 1] = reqs[i].path:match("/schemas/(.+)$")
      end
      local expected = {}
      for _, sch in ipairs(before.schemas) do expected[#expected + 1] = (sch.id:gsub("[^%w%-%._~]",
        function(c) return string.format("%%%02X", c:byte()) end)) end
      table.sort(detailed)
      table.sort(expected)
      assert.same(expected, detailed)
      assert.equal("PUT", reqs[n + 3].method)
      local sent = json.decode(reqs[n + 3].body)
      assert.equal(false, sent.active)
      assert.equal(before.sync.automatically_add_new_fields, sent.automatically_add_new_fields)
      assert.equal(before.sync.normalize_names, sent.normalize_names)
      -- Every schema is sent, enabled or not, each with all of its fields.
      assert.equal(n, #sent.schemas)
      for i, item in ipairs(sent.schemas) do
        assert.equal(#before.schemas[i].fields, #item.fields, item.id)
      end
      assert.is_nil(sent.id)
      assert.is_nil(sent.created_at)
    end)

    it("changes a schedule while keeping the rest", function()
      local id = seed.ids.crm
      local before = srv:state(id)
      local change
      if version == "2025-09-18" then
        change = { default_schedule = { frequency = "hourly", minute = "10" } }
      else
        change = { schedule = { frequency = "hourly", minute = "10" } }
      end
      client:patch(id, change)
      local after = srv:state(id)
      for _, k in ipairs(differing_fields(before.sync, after.sync)) do
        assert.truthy(({ default_schedule = true, schedule = true, updated_at = true, updated_by = true })[k],
          "unexpected change to " .. k)
      end
      assert.is_true(same(before.schemas, after.schemas))
    end)

    it("refuses unknown, read-only and ill-typed changes before any PUT", function()
      local id = seed.ids.orders
      local cases = {
        { { actve = false }, "actve", "did you mean `active`" },
        { { id = seed.ids.crm }, "id", "read-only" },
        { { created_at = "2020-01-01T00:00:00Z" }, "created_at", "read-only" },
        { { concurrency_limit = "four" }, "concurrency_limit", "integer" },
        { { mode = "mirror" }, "mode", "one of" },
      }
      for _, case in ipairs(cases) do
        srv:reset()
        local ok, err = pcall(client.patch, client, id, case[1])
        assert.is_false(ok)
        assert.equal("ValidationError", err.kind)
        assert.equal(case[2], err.errors[1].path)
        assert.truthy(err.errors[1].problem:find(case[3], 1, true), err.errors[1].problem)
        for _, r in ipairs(srv:requests()) do assert.not_equal("PUT", r.method) end
      end
    end)
  end)
end

describe("patch when the fetched sync cannot make a complete body", function()
  it("names the missing field instead of resetting it", function()
    local srv = standin.start()
    local client = bulksync.new { api_key = seed.api_key, base_url = srv.url }
    local id = seed.ids.orders
    -- The next GET answers a sync without its schedule.
    local state = client:get(id)
    state.default_schedule = nil
    srv:script { { status = 200, body = require("cjson").encode { data = state } } }
    local ok, err = pcall(client.patch, client, id, { active = false })
    local reqs = srv:requests()
    client:close()
    srv:stop()
    assert.is_false(ok)
    assert.equal("ValidationError", err.kind)
    assert.equal("default_schedule", err.errors[1].path)
    for _, r in ipairs(reqs) do assert.not_equal("PUT", r.method) end
  end)
end)

describe("client:plan", function()
  local srv, client
  setup(function()
    srv = standin.start()
    client = bulksync.new { api_key = seed.api_key, base_url = srv.url }
  end)
  teardown(function()
    if client then client:close() end
    if srv then srv:stop() end
  end)

  it("shows what a careless full update would reset, sending nothing", function()
    local id = seed.ids.orders
    local current = client:get(id)
    srv:reset()
    local careless = {
      name = "Renamed", mode = current.mode,
      source_connection_id = current.source_connection_id,
      destination_connection_id = current.destination_connection_id,
      destination_configuration = current.destination_configuration,
      default_schedule = { frequency = current.default_schedule.frequency },
    }
    local p = client:plan(id, careless)
    for _, r in ipairs(srv:requests()) do assert.equal("GET", r.method) end
    local by_field = {}
    for _, c in ipairs(p.changes) do by_field[c.field] = c end
    assert.equal("change", by_field.name.action)
    assert.equal("reset", by_field.automatically_add_new_fields.action)
    assert.equal("all", by_field.automatically_add_new_fields.to)
    assert.equal("reset", by_field.normalize_names.action)
    assert.equal("reset", by_field.schemas.action)
    assert.equal("reset", by_field.policies.action)
    assert.truthy(p.resets >= 5)
    local text = tostring(p)
    assert.truthy(text:find("RESET", 1, true))
    assert.truthy(text:find("automatically_add_new_fields", 1, true))
  end)

  it("update(..., { plan = true }) returns the plan without sending", function()
    local id = seed.ids.orders
    srv:reset()
    local body = bulksync.to_update(client:get(id), { schemas = client:schemas(id, { details = true }) })
    local p = client:update(id, body, { plan = true })
    assert.equal(0, p.resets)
    assert.is_false(p:has_resets())
    for _, r in ipairs(srv:requests()) do assert.equal("GET", r.method) end
  end)

  it("a plan of the body the server would get from patch has no resets", function()
    local id = seed.ids.crm
    srv:reset()
    local details = client:schemas(id, { details = true })
    local body = bulksync.to_update(client:get(id), { schemas = details })
    body.active = true
    local p = bulksync.diff(client:get(id), body, { schemas = details })
    assert.equal(0, p.resets)
  end)
end)
