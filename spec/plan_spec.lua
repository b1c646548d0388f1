-- bulksync.plan: update bodies built from GET responses, and the plan that
-- shows what a full-replacement PUT would change or reset.

local core = require "bulksync.core"
local plan = require "bulksync.plan"

local null = core.null
local V2025, V2024 = "2025-09-18", "2024-02-08"

local function A(t) return setmetatable(t, core.array_mt) end

local function deepcopy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = deepcopy(x) end
  return setmetatable(out, getmetatable(v))
end

local SYNC_ID  = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
local SRC_ID   = "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"
local DST_ID   = "1b2c3d4e-5f60-4b7c-9d8e-9f0a1b2c3d4e"
local ORG_ID   = "2c3d4e5f-6071-4c8d-ae9f-0a1b2c3d4e5f"
local POLICY   = "3d4e5f60-7182-4d9e-bfa0-1b2c3d4e5f60"
local SCHED_ID = "4e5f6071-8293-4eaf-8b01-2c3d4e5f6071"
local ADD_ID   = "5f607182-93a4-4fb0-9c12-3d4e5f607182"

local function actor()
  return { id = "7182a3b4-c5d6-4e7f-8091-a2b3c4d5e6f7", name = "Ada", type = "user" }
end

-- A GET /api/bulk/syncs/{id} response (data part) for 2025-09-18, with
-- settings that differ from what an omitted field resets to.
local function sync_2025()
  return {
    id = SYNC_ID,
    name = "Orders to warehouse",
    active = false,
    mode = "replicate",
    source_connection_id = SRC_ID,
    destination_connection_id = DST_ID,
    destination_configuration = { schema = "analytics", format = "parquet" },
    source_configuration = { replication_slot = "orders_slot" },
    default_schedule = {
      id = SCHED_ID, frequency = "daily", hour = "05", minute = "30",
      created_at = "2025-01-02T03:04:05Z", created_by = actor(),
      updated_at = "2025-02-03T04:05:06Z", updated_by = actor(),
    },
    additional_schedules = A {
      {
        id = ADD_ID, frequency = "hourly", minute = "15",
        selective_mode = "incrementalFields", resync_mode = "normal",
        schemas = A { "public.orders" },
        created_at = "2025-01-02T03:04:05Z", created_by = actor(),
        updated_at = "2025-02-03T04:05:06Z", updated_by = actor(),
      },
    },
    automatically_add_new_fields = "none",
    automatically_add_new_objects = "all",
    concurrency_limit = 4,
    resync_concurrency_limit = null,
    data_cutoff_timestamp = null,
    disable_record_timestamps = true,
    normalize_names = "legacy",
    organization_id = ORG_ID,
    policies = A { POLICY },
    created_at = "2025-01-02T03:04:05Z", created_by = actor(),
    updated_at = "2025-02-03T04:05:06Z", updated_by = actor(),
  }
end

-- The same sync read with 2024-02-08: one `schedule`, and `discover`.
local function sync_2024()
  local s = sync_2025()
  s.default_schedule, s.additional_schedules = nil, nil
  s.schedule = {
    frequency = "multi",
    multi = {
      type = "itemized",
      schedules = A {
        { item = "incrementalFields", schedule = { frequency = "continuous" } },
        { item = "nonincrementalFields", schedule = { frequency = "daily", hour = "05", minute = "00" } },
      },
    },
  }
  s.discover = false
  return s
end

-- Each schema's details (GET /api/bulk/syncs/{id}/schemas/{schema_id}): one
-- selected schema with a disabled and an obfuscated field, one deselected.
local function schema_details()
  return A {
    {
      id = "public.orders", enabled = true, output_name = "orders", user_output_name = null,
      partition_key = "created_at", tracking_field = "updated_at",
      data_cutoff_timestamp = null, disable_data_cutoff = false,
      filters = A { { field_id = "status", ["function"] = "Equality", value = "paid" } },
      fields = A {
        { id = "id", enabled = true, obfuscated = false, output_name = "id" },
        { id = "email", enabled = true, obfuscated = true, output_name = "email" },
        { id = "notes", enabled = false, obfuscated = false, output_name = "notes" },
      },
    },
    {
      id = "public.audit", enabled = false, output_name = "audit",
      fields = A { { id = "id", enabled = true, obfuscated = false } },
    },
  }
end

-- GET /api/bulk/syncs/{id}/schemas: the listing, which has no fields or filters.
local function listing()
  local out = A {}
  for i, s in ipairs(schema_details()) do
    out[i] = { id = s.id, enabled = s.enabled, output_name = s.output_name, user_output_name = "",
      partition_key = s.partition_key or "", tracking_field = s.tracking_field or "",
      data_cutoff_timestamp = null, disable_data_cutoff = false }
  end
  return out
end

local function all_selected_list()
  return A {
    { id = "public.orders", enabled = true,
      fields = A { { id = "id", enabled = true, obfuscated = false } } },
  }
end

local function entry_of(p, field)
  for _, e in ipairs(p.changes) do
    if e.field == field then return e end
  end
end

-- Entries that change or reset something (organization_id's "unknown" is
-- specified on its own).
local function non_keeps(p)
  local out = {}
  for _, e in ipairs(p.changes) do
    if e.action ~= "keep" and e.action ~= "unknown" then out[#out + 1] = e end
  end
  return out
end

local function assert_valid(body, version)
  local ok, problems = core.validate(body, version)
  if not ok then
    local lines = {}
    for _, pr in ipairs(problems) do lines[#lines + 1] = pr.path .. ": " .. pr.problem end
    error("body does not validate for " .. version .. ":\n" .. table.concat(lines, "\n"), 2)
  end
  assert.is_true(ok)
end

describe("bulksync.plan", function()
  it("reads its fields from the core schema export", function()
    local s = core.schema(V2025)
    assert.is_table(s.fields)
    assert.is_table(s.by_name.default_schedule)
    assert.is_truthy(#s.fields > 0)
  end)

  describe("to_update", function()
    it("drops read-only fields at the top level", function()
      local body = assert(plan.to_update(sync_2025()))
      for _, k in ipairs { "id", "created_at", "created_by", "updated_at", "updated_by" } do
        assert.is_nil(body[k], k)
      end
      assert.equal("Orders to warehouse", body.name)
      assert.equal("none", body.automatically_add_new_fields)
      assert.equal(4, body.concurrency_limit)
    end)

    it("drops read-only fields inside schedules and keeps the schedule's id", function()
      local body = assert(plan.to_update(sync_2025()))
      local d = body.default_schedule
      assert.same({ id = SCHED_ID, frequency = "daily", hour = "05", minute = "30" }, d)
      local a = body.additional_schedules[1]
      assert.equal(ADD_ID, a.id)
      assert.is_nil(a.created_at)
      assert.is_nil(a.updated_by)
      assert.equal("incrementalFields", a.selective_mode)
      assert.same({ "public.orders" }, a.schemas)
    end)

    it("keeps explicit nulls as null and lists as arrays, even empty ones", function()
      local s = sync_2025()
      s.additional_schedules = A {}
      local body = assert(plan.to_update(s))
      assert.equal(null, body.resync_concurrency_limit)
      assert.equal(null, body.data_cutoff_timestamp)
      assert.equal(core.array_mt, getmetatable(body.additional_schedules))
      assert.equal(0, #body.additional_schedules)
      assert.equal(core.array_mt, getmetatable(body.policies))
    end)

    it("copies, never shares or mutates the response", function()
      local s = sync_2025()
      local before = deepcopy(s)
      local body = assert(plan.to_update(s, { schemas = schema_details() }))
      assert.same(before, s)
      assert.are_not.equal(s.destination_configuration, body.destination_configuration)
      body.destination_configuration.schema = "changed"
      assert.equal("analytics", s.destination_configuration.schema)
    end)

    it("drops organization_id unless asked to keep it", function()
      assert.is_nil(assert(plan.to_update(sync_2025())).organization_id)
      local body = assert(plan.to_update(sync_2025(), { keep_organization = true }))
      assert.equal(ORG_ID, body.organization_id)
    end)

    it("leaves schemas out when the schema listing is not given", function()
      assert.is_nil(assert(plan.to_update(sync_2025())).schemas)
    end)

    it("lists every schema, enabled or not, with every field, spelling obfuscated as obfuscate", function()
      local body = assert(plan.to_update(sync_2025(), { schemas = schema_details() }))
      local schemas = body.schemas
      assert.equal(core.array_mt, getmetatable(schemas))
      assert.equal(2, #schemas, "a disabled schema is listed, not left to a default")
      local orders = schemas[1]
      assert.equal("public.orders", orders.id)
      assert.is_true(orders.enabled)
      assert.equal("created_at", orders.partition_key)
      assert.equal("updated_at", orders.tracking_field)
      assert.is_false(orders.disable_data_cutoff)
      assert.is_nil(orders.output_name)
      assert.is_nil(orders.user_output_name)
      assert.same({ { field_id = "status", ["function"] = "Equality", value = "paid" } }, orders.filters)
      assert.same({
        { id = "id", enabled = true, obfuscate = false },
        { id = "email", enabled = true, obfuscate = true },
        { id = "notes", enabled = false, obfuscate = false },
      }, orders.fields)
      for _, f in ipairs(orders.fields) do assert.is_nil(f.obfuscated) end
      assert.same({ id = "public.audit", enabled = false, fields = { { id = "id", enabled = true, obfuscate = false } } },
        schemas[2])
    end)

    it("lists a sync whose schemas are all disabled item by item, never as an empty list", function()
      local details = schema_details()
      details[1].enabled = false
      local body = assert(plan.to_update(sync_2025(), { schemas = details }))
      assert.equal(2, #body.schemas)
      assert.is_false(body.schemas[1].enabled)
      assert.is_false(body.schemas[2].enabled)
    end)

    it("keeps an unused partition_key or tracking_field as the empty string the API uses", function()
      local details = schema_details()
      details[1].partition_key, details[1].tracking_field = "", ""
      local body = assert(plan.to_update(sync_2025(), { schemas = details }))
      assert.equal("", body.schemas[1].partition_key)
      assert.equal("", body.schemas[1].tracking_field)
      assert_valid(body, V2025)
    end)

    it("leaves schemas out for a sync without schemas: no body value says none", function()
      assert.is_nil(assert(plan.to_update(sync_2025(), { schemas = A {} })).schemas)
      assert.is_nil(assert(plan.to_update(sync_2025(), { schemas = { data = null } })).schemas)
    end)

    it("refuses the schemas listing, which has no fields, and says what to pass", function()
      local body, problems = plan.to_update(sync_2025(), { schemas = listing() })
      assert.is_nil(body)
      assert.equal("schemas", problems[1].path)
      assert.matches("no fields", problems[1].problem, 1, true)
      assert.matches("details = true", problems[1].problem, 1, true)
    end)

    it("refuses a 2025-09-18 body from a sync whose default schedule is multi", function()
      local s = sync_2025()
      s.default_schedule.frequency = "multi"
      local body, problems = plan.to_update(s)
      assert.is_nil(body)
      assert.equal("default_schedule.frequency", problems[1].path)
      assert.matches("2024-02-08", problems[1].problem, 1, true)
      assert.matches("would drop", problems[1].problem, 1, true)
    end)

    it("leaves out nested nulls the request cannot carry (filters: null in the listing)", function()
      local list = schema_details()
      list[1].filters = null
      local body = assert(plan.to_update(sync_2025(), { schemas = list }))
      assert.is_nil(body.schemas[1].filters)
      assert.equal(null, body.schemas[1].data_cutoff_timestamp)
      assert_valid(body, V2025)
    end)

    it("accepts the {data = ...} envelopes", function()
      local body = assert(plan.to_update({ data = sync_2025() }, { schemas = { data = schema_details() } }))
      assert.equal("Orders to warehouse", body.name)
      assert.equal(2, #body.schemas)
    end)

    it("refuses, naming the field, when a required field is missing", function()
      local s = sync_2025()
      s.default_schedule = nil
      local body, problems = plan.to_update(s)
      assert.is_nil(body)
      assert.equal(1, #problems)
      assert.equal("default_schedule", problems[1].path)
      assert.matches("missing from the fetched sync; cannot build a complete body", problems[1].problem, 1, true)
    end)

    it("refuses when a required field is null", function()
      local s = sync_2025()
      s.name = null
      local body, problems = plan.to_update(s)
      assert.is_nil(body)
      assert.equal("name", problems[1].path)
      assert.matches("null in the fetched sync", problems[1].problem, 1, true)
    end)

    it("refuses a 2024-02-08 sync read as 2025-09-18 and says which version fits", function()
      local body, problems = plan.to_update(sync_2024(), { version = V2025 })
      assert.is_nil(body)
      assert.equal("default_schedule", problems[1].path)
      assert.matches(V2024, problems[1].problem, 1, true)
    end)

    it("round-trips a decoded GET response into JSON with its nulls and empty lists", function()
      local json = [[{"data":{"id":"]] .. SYNC_ID .. [[","name":"Orders","mode":"snapshot",
        "source_connection_id":"]] .. SRC_ID .. [[","destination_connection_id":"]] .. DST_ID .. [[",
        "destination_configuration":{"schema":"analytics","tags":[]},
        "default_schedule":{"id":"]] .. SCHED_ID .. [[","frequency":"manual","created_at":"2025-01-02T03:04:05Z"},
        "additional_schedules":[],"policies":[],"concurrency_limit":null,"normalize_names":"disabled",
        "created_at":"2025-01-02T03:04:05Z"}}]]
      local body = assert(plan.to_update(assert(core.decode(json))))
      local text = assert(core.encode(body, V2025))
      assert.truthy(text:find('"additional_schedules":[]', 1, true))
      assert.truthy(text:find('"policies":[]', 1, true))
      assert.truthy(text:find('"tags":[]', 1, true))
      assert.truthy(text:find('"concurrency_limit":null', 1, true))
      assert.truthy(text:find('"normalize_names":"disabled"', 1, true))
      assert.is_nil(text:find("created_at", 1, true))
      assert.truthy(text:find(SCHED_ID, 1, true))
    end)

    it("builds a body that validates, version 2025-09-18", function()
      assert_valid(assert(plan.to_update(sync_2025())), V2025)
      assert_valid(assert(plan.to_update(sync_2025(), { schemas = schema_details(), keep_organization = true })), V2025)
    end)

    it("builds a body that validates, version 2024-02-08", function()
      local body = assert(plan.to_update(sync_2024(), { version = V2024, schemas = schema_details() }))
      assert.is_nil(body.default_schedule)
      assert.equal("multi", body.schedule.frequency)
      assert.equal("05", body.schedule.multi.schedules[2].schedule.hour)
      assert.is_false(body.discover)
      assert_valid(body, V2024)
    end)
  end)

  describe("apply", function()
    it("replaces a top-level value whole", function()
      local body = assert(plan.to_update(sync_2025()))
      local out = plan.apply(body, { destination_configuration = { schema = "staging" } }, V2025)
      assert.same({ schema = "staging" }, out.destination_configuration)
      out = plan.apply(body, { default_schedule = { frequency = "manual" } }, V2025)
      assert.same({ frequency = "manual" }, out.default_schedule)
      assert_valid(out, V2025)
    end)

    it("clears a nullable field with null", function()
      local body = assert(plan.to_update(sync_2025()))
      local out = plan.apply(body, { concurrency_limit = null }, V2025)
      assert.equal(null, out.concurrency_limit)
      assert_valid(out, V2025)
    end)

    it("mutates neither the body nor the changes", function()
      local body = assert(plan.to_update(sync_2025()))
      local changes = { name = "Renamed", destination_configuration = { schema = "x" } }
      local body_before, changes_before = deepcopy(body), deepcopy(changes)
      local out = plan.apply(body, changes, V2025)
      assert.same(body_before, body)
      assert.same(changes_before, changes)
      assert.equal("Renamed", out.name)
      assert.are_not.equal(changes.destination_configuration, out.destination_configuration)
      assert.are_not.equal(body.default_schedule, out.default_schedule)
      assert.equal("Orders to warehouse", body.name)
    end)

    it("marks a plain table given for a list field as an array", function()
      local body = assert(plan.to_update(sync_2025()))
      local out = plan.apply(body, { policies = {} }, V2025)
      assert.equal(core.array_mt, getmetatable(out.policies))
    end)
  end)

  describe("diff", function()
    local careless = function()
      local s = sync_2025()
      return {
        name = s.name, mode = s.mode,
        source_connection_id = s.source_connection_id,
        destination_connection_id = s.destination_connection_id,
        destination_configuration = s.destination_configuration,
        default_schedule = { id = SCHED_ID, frequency = "daily", hour = "05", minute = "30" },
      }
    end

    it("lists every reset a careless body would cause", function()
      local schema = core.schema(V2025)
      local p = plan.diff(sync_2025(), careless(), { schemas = schema_details(), version = V2025 })
      local e = entry_of(p, "automatically_add_new_fields")
      assert.equal("reset", e.action)
      assert.equal("none", e.from)
      assert.equal("all", e.to)
      assert.equal(schema.by_name.automatically_add_new_fields.reset_note, e.note)
      assert.equal("reset", entry_of(p, "normalize_names").action)
      assert.equal("legacy", entry_of(p, "normalize_names").from)
      assert.equal("enabled", entry_of(p, "normalize_names").to)
      for _, name in ipairs { "concurrency_limit", "policies", "disable_record_timestamps",
                              "source_configuration", "additional_schedules", "schemas" } do
        local x = entry_of(p, name)
        assert.equal("reset", x.action, name)
        assert.same(schema.by_name[name].reset, x.to)
      end
      assert.same({ POLICY }, entry_of(p, "policies").from)
      assert.equal(4, entry_of(p, "concurrency_limit").from)
      -- already what a reset gives: nothing lost
      assert.equal("keep", entry_of(p, "resync_concurrency_limit").action)
      assert.equal("keep", entry_of(p, "data_cutoff_timestamp").action)
      -- not known to be kept when omitted: said, not counted as a reset
      assert.equal("unknown", entry_of(p, "organization_id").action)
      assert.matches("partner callers send it", entry_of(p, "organization_id").note, 1, true)
      assert.equal(1, p.unknowns)
      assert.equal("keep", entry_of(p, "name").action)
      assert.is_true(p:has_resets())
      local n = 0
      for _, x in ipairs(p.changes) do if x.action == "reset" then n = n + 1 end end
      assert.equal(n, p.resets)
      assert.equal(SYNC_ID, p.id)
      assert.equal(V2025, p.version)
    end)

    it("takes the sync id from opts when the response has none", function()
      local s = sync_2025()
      s.id = nil
      local p = plan.diff(s, careless(), { id = SYNC_ID })
      assert.equal(SYNC_ID, p.id)
      assert.matches(SYNC_ID, tostring(p), 1, true)
    end)

    it("shows a schema selection sent without knowing the current one as a change", function()
      local body = assert(plan.to_update(sync_2025(), { schemas = schema_details() }))
      local e = entry_of(plan.diff(sync_2025(), body), "schemas")
      assert.equal("change", e.action)
      assert.matches("current selection unknown", e.note, 1, true)
    end)

    it("does not warn about resets that lose nothing", function()
      local s = sync_2025()
      s.additional_schedules, s.policies, s.concurrency_limit = null, null, nil
      local p = plan.diff(s, careless(), { schemas = schema_details() })
      assert.equal("keep", entry_of(p, "additional_schedules").action)
      assert.equal("keep", entry_of(p, "policies").action)
      assert.equal("keep", entry_of(p, "concurrency_limit").action)
      s.policies = A {}
      assert.equal("keep", entry_of(plan.diff(s, careless()), "policies").action)
    end)

    it("has one entry per schema field, in schema order", function()
      local schema = core.schema(V2025)
      local p = plan.diff(sync_2025(), careless())
      assert.equal(#schema.fields, #p.changes)
      for i, f in ipairs(schema.fields) do assert.equal(f.name, p.changes[i].field) end
    end)

    it("finds nothing to change in a body built by to_update", function()
      local body = assert(plan.to_update(sync_2025(), { schemas = schema_details() }))
      local p = plan.diff(sync_2025(), body, { schemas = schema_details() })
      assert.equal(0, p.resets)
      assert.is_false(p:has_resets())
      assert.same({}, non_keeps(p))
    end)

    it("finds nothing to change in a 2024-02-08 body built by to_update", function()
      local opts = { version = V2024, schemas = schema_details() }
      local p = plan.diff(sync_2024(), assert(plan.to_update(sync_2024(), opts)), opts)
      assert.equal(V2024, p.version)
      assert.same({}, non_keeps(p))
    end)

    it("reports exactly one change when one field changes", function()
      local body = assert(plan.to_update(sync_2025(), { schemas = schema_details() }))
      local p = plan.diff(sync_2025(), plan.apply(body, { name = "Orders, hourly" }),
                          { schemas = schema_details() })
      local list = non_keeps(p)
      assert.equal(1, #list)
      assert.same({ field = "name", action = "change", from = "Orders to warehouse", to = "Orders, hourly" },
                  { field = list[1].field, action = list[1].action, from = list[1].from, to = list[1].to })
    end)

    it("tells a clear from an add", function()
      local body = assert(plan.to_update(sync_2025(), { schemas = schema_details() }))
      body = plan.apply(body, { concurrency_limit = null, resync_concurrency_limit = 2 })
      local p = plan.diff(sync_2025(), body, { schemas = schema_details() })
      local clear, add = entry_of(p, "concurrency_limit"), entry_of(p, "resync_concurrency_limit")
      assert.equal("clear", clear.action)
      assert.equal(4, clear.from)
      assert.equal(null, clear.to)
      assert.equal("add", add.action)
      assert.equal(2, add.to)
      assert.equal(0, p.resets)
    end)

    it("ignores read-only fields the body carries over from the response", function()
      local body = assert(plan.to_update(sync_2025(), { schemas = schema_details() }))
      body.default_schedule.created_at = "2025-01-02T03:04:05Z"
      local p = plan.diff(sync_2025(), body, { schemas = schema_details() })
      assert.same({}, non_keeps(p))
    end)

    it("resets schemas when the body omits them, even when every schema and field is selected now", function()
      local body = assert(plan.to_update(sync_2025()))
      local e = entry_of(plan.diff(sync_2025(), body, { schemas = all_selected_list() }), "schemas")
      assert.equal("reset", e.action)
      assert.matches("every field enabled", e.note, 1, true)
    end)

    it("resets schemas when an item gives no fields, whatever is selected now", function()
      local body = assert(plan.to_update(sync_2025(), { schemas = schema_details() }))
      body.schemas[2] = "public.audit"                 -- a bare id
      local p = plan.diff(sync_2025(), body, { schemas = schema_details() })
      local e = entry_of(p, "schemas")
      assert.equal("reset", e.action)
      assert.matches("item 2 (public.audit)", e.note, 1, true)
      body = assert(plan.to_update(sync_2025(), { schemas = schema_details() }))
      body.schemas[1].fields = A {}                    -- an empty list enables every field too
      e = entry_of(plan.diff(sync_2025(), body, { schemas = schema_details() }), "schemas")
      assert.equal("reset", e.action)
      assert.matches("item 1 (public.orders)", e.note, 1, true)
    end)

    it("does not take the listing for the current field selections", function()
      local body = assert(plan.to_update(sync_2025(), { schemas = schema_details() }))
      local e = entry_of(plan.diff(sync_2025(), body, { schemas = listing() }), "schemas")
      assert.equal("change", e.action)
      assert.matches("current selection unknown", e.note, 1, true)
    end)

    it("says organization_id is kept only when the body sends it", function()
      local body = assert(plan.to_update(sync_2025(), { schemas = schema_details(), keep_organization = true }))
      local p = plan.diff(sync_2025(), body, { schemas = schema_details() })
      assert.equal("keep", entry_of(p, "organization_id").action)
      assert.equal(0, p.unknowns)
      body.organization_id = nil
      p = plan.diff(sync_2025(), body, { schemas = schema_details() })
      assert.equal("unknown", entry_of(p, "organization_id").action)
      assert.equal(0, p.resets)
      assert.matches("?%s+organization_id", tostring(p))
      assert.matches("1 not known", tostring(p), 1, true)
    end)

    it("resets schemas when a field is disabled or obfuscated", function()
      local body = assert(plan.to_update(sync_2025()))
      local list = all_selected_list()
      list[1].fields[1].enabled = false
      assert.equal("reset", entry_of(plan.diff(sync_2025(), body, { schemas = list }), "schemas").action)
      list = all_selected_list()
      list[1].fields[1].obfuscated = true
      assert.equal("reset", entry_of(plan.diff(sync_2025(), body, { schemas = list }), "schemas").action)
    end)

    it("resets schemas, saying so, when the current selection is unknown", function()
      local body = assert(plan.to_update(sync_2025()))
      local p = plan.diff(sync_2025(), body)
      local e = entry_of(p, "schemas")
      assert.equal("reset", e.action)
      assert.matches("current selection unknown", e.note, 1, true)
      assert.equal(1, p.resets)
    end)

    it("renders resets loudly for people", function()
      local p = plan.diff(sync_2025(), careless(), { schemas = schema_details() })
      local text = tostring(p)
      assert.equal(text, plan.render(p))
      assert.matches('RESET%s+automatically_add_new_fields%s+"none" %-> "all"', text)
      assert.matches("(" .. core.schema(V2025).by_name.automatically_add_new_fields.reset_note .. ")", text, 1, true)
      assert.matches("RESET%s+normalize_names", text)
      assert.matches("RESET%s+policies", text)
      assert.matches("RESET%s+schemas", text)
      assert.matches(SYNC_ID, text, 1, true)
      assert.matches("%d+ fields? unchanged", text)
      -- unchanged fields get no line of their own
      assert.is_nil(text:find("\n%s+%S+%s+name%s"))
    end)

    it("renders one line per change with aligned columns", function()
      local body = assert(plan.to_update(sync_2025(), { schemas = schema_details(), keep_organization = true }))
      body = plan.apply(body, { name = "Renamed", concurrency_limit = null,
                                destination_configuration = { schema = "staging", format = "parquet" } })
      local text = plan.render(plan.diff(sync_2025(), body, { schemas = schema_details() }))
      local lines = {}
      for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
      -- header, three changes, the unchanged summary
      assert.equal(5, #lines)
      assert.matches('change%s+name%s+"Orders to warehouse" %-> "Renamed"', text)
      assert.matches("clear%s+concurrency_limit%s+4 %-> null", text)
      assert.matches('change%s+destination_configuration%.schema%s+"analytics" %-> "staging"', text)
      -- the "from" column starts at the same place on every line
      local from_col = {}
      for i = 2, 4 do from_col[#from_col + 1] = #lines[i]:match("^%s*%S+%s+%S+%s+") end
      assert.equal(from_col[1], from_col[2])
      assert.equal(from_col[2], from_col[3])
    end)
  end)
end)

describe("a printed plan", function()
  it("never shows the organization id, which identifies the caller", function()
    local s = sync_2025()
    local body = assert(plan.to_update(s, { keep_organization = true }))
    body.organization_id = "9d8e7f60-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
    local text = tostring(plan.diff(s, body, { schemas = schema_details() }))
    assert.is_nil(text:find(ORG_ID, 1, true))
    assert.is_nil(text:find("9d8e7f60", 1, true))
    assert.matches("organization_id%s+%(not shown%) %-> %(not shown%)", text)
    assert.is_true(core.schema(V2025).by_name.organization_id.secret)
  end)
end)
