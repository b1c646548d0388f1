-- The field tables of src/schema.c and the walker that validates and encodes
-- a bulk-sync update body in one pass: what it writes (checked against
-- lua-cjson as an independent decoder), every class of problem it reports
-- with its path and wording, and the core.schema() export.

local core  = require "bulksync.core"
local cjson = require "cjson"

local V25, V24 = "2025-09-18", "2024-02-08"
local null = core.null
local UUID1 = "0b2f6a3e-7c1d-4e5f-8a9b-0c1d2e3f4a5b"
local UUID2 = "9F8E7D6C-5B4A-4321-8FED-CBA987654321"   -- any case is a UUID

-- Deep equality where numbers compare numerically (Debian's cjson decodes
-- 5 as 5.0) and the null lightuserdata of both modules is the same value.
local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function full_2025()
  return {
    default_schedule = { frequency = "daily", hour = "05", minute = "30", id = UUID1 },
    destination_configuration = { schema = "analytics", nested = { a = { 1, 2, 3 }, b = true } },
    destination_connection_id = UUID1,
    mode = "replicate",
    name = "Salesforce → Snowflake \"nightly\"",
    source_connection_id = UUID2,
    active = true,
    additional_schedules = {
      { frequency = "weekly", day_of_week = "monday", hour = "01", minute = "00",
        resync_mode = "refetch", schemas = { "users", "orders" }, selective_mode = "incrementalFields" },
      { frequency = "custom", day_of_month = "1", month = "6", schemas = core.array({}) },
    },
    automatically_add_new_fields = "onlyIncremental",
    automatically_add_new_objects = "none",
    concurrency_limit = 4,
    data_cutoff_timestamp = "2024-02-29T23:59:59.123+05:30",
    disable_record_timestamps = false,
    normalize_names = "legacy",
    organization_id = null,
    policies = { UUID1, UUID2 },
    resync_concurrency_limit = null,
    schemas = {
      "users",
      { id = "orders", enabled = true, disable_data_cutoff = null,
        data_cutoff_timestamp = "2023-12-31T00:00:00Z", partition_key = "region",
        tracking_field = null,
        fields = { "id", { id = "email", enabled = true, obfuscate = true }, { id = "ssn", obfuscate = null } },
        filters = {
          { field_id = "status", ["function"] = "StringOneOf", value = { "open", "won" } },
          { field_id = "amount", ["function"] = "GreaterThan", value = 100.5 },
          { field_id = "deleted", ["function"] = "IsNull", value = null },
        } },
    },
    source_configuration = { replication_slot = "slot_1", lookback = 7 },
  }
end

local function full_2024()
  return {
    destination_configuration = { schema = "raw" },
    destination_connection_id = UUID1,
    mode = "snapshot",
    name = "legacy sync",
    schedule = {
      frequency = "multi",
      multi = {
        type = "selective",
        schedules = {
          { item = "incrementalFields", schedule = { frequency = "continuous" } },
          { item = "nonincrementalFields", schedule = { frequency = "daily", hour = "05", minute = "00" } },
        },
      },
    },
    source_connection_id = UUID2,
    active = false,
    automatically_add_new_fields = "all",
    automatically_add_new_objects = "onlyNonIncremental",
    concurrency_limit = null,
    data_cutoff_timestamp = null,
    disable_record_timestamps = true,
    discover = false,
    normalize_names = "enabled",
    organization_id = UUID2,
    policies = core.array({}),
    resync_concurrency_limit = 2,
    schemas = { "a", "b" },
    source_configuration = {},
  }
end

local function minimal_2025()
  return {
    default_schedule = { frequency = "manual" },
    destination_configuration = {},
    destination_connection_id = UUID1,
    mode = "snapshot",
    name = "n",
    source_connection_id = UUID2,
  }
end

-- All problems of a body, as a path -> {problem, ...} table plus the list.
local function problems(body, version, strict)
  local json, list, count = core.encode(body, version or V25, strict)
  assert.is_nil(json)
  assert.is_table(list)
  assert.are.equal(#list, count)
  local by_path = {}
  for _, p in ipairs(list) do
    by_path[p.path] = by_path[p.path] or {}
    table.insert(by_path[p.path], p.problem)
  end
  -- validate() walks the same way without writing: same problems.
  local ok, vlist, vcount = core.validate(body, version or V25, strict)
  assert.is_nil(ok)
  assert.are.equal(count, vcount)
  assert.are.same(list, vlist)
  return by_path, list
end

-- The single problem of a body that is valid except for one change.
local function only_problem(mutate, version)
  local body = (version == V24 and full_2024 or full_2025)()
  mutate(body)
  local _, list = problems(body, version)
  assert.are.equal(1, #list, "expected one problem, got: " .. cjson.encode(list))
  return list[1].path, list[1].problem
end

local function check(mutate, path, problem, version)
  local p, text = only_problem(mutate, version)
  assert.are.equal(path, p)
  assert.are.equal(problem, text)
end

describe("schema: versions", function()
  it("lists the supported API versions newest first", function()
    assert.are.same({ V25, V24 }, core.API_VERSIONS)
  end)

  it("rejects an unsupported version as an argument error", function()
    assert.has_error(function() core.encode({}, "2023-01-01") end)
    assert.has_error(function() core.schema("latest") end)
  end)
end)

-- strict wants each schema item to give its fields: a bare id would get
-- every field enabled. The fixtures' bare ids, given fields.
local function with_fields(body)
  for i, item in ipairs(body.schemas or {}) do
    if type(item) == "string" then body.schemas[i] = { id = item, fields = { "id" } } end
  end
  return body
end

describe("schema: encoding valid bodies", function()
  for _, case in ipairs({ { V25, full_2025 }, { V24, full_2024 }, { V25, minimal_2025 } }) do
    local version, make = case[1], case[2]
    it("round-trips a complete " .. version .. " body through cjson", function()
      local body = make()
      local json, errs = core.encode(body, version)
      assert.is_string(json, errs and cjson.encode(errs))
      assert.is_true(same(body, cjson.decode(json)))
      assert.is_true(core.validate(body, version))
      -- strict passes too when every resettable field is present
      if make ~= minimal_2025 then
        assert.is_string((core.encode(with_fields(body), version, true)))
      end
    end)
  end

  it("writes empty lists as [] and empty maps as {}", function()
    local body = minimal_2025()
    body.policies = {}
    body.additional_schedules = core.array({})
    body.source_configuration = {}
    body.schemas = { { id = "s", fields = {}, filters = core.array({}) } }
    local json = assert(core.encode(body, V25))
    assert.truthy(json:find('"policies":[]', 1, true))
    assert.truthy(json:find('"additional_schedules":[]', 1, true))
    assert.truthy(json:find('"source_configuration":{}', 1, true))
    assert.truthy(json:find('"destination_configuration":{}', 1, true))
    assert.truthy(json:find('"fields":[]', 1, true))
    assert.truthy(json:find('"filters":[]', 1, true))
  end)

  it("writes bulksync.null as null where the field is nullable", function()
    local body = minimal_2025()
    body.active, body.schemas, body.source_configuration = null, null, null
    local json = assert(core.encode(body, V25))
    assert.truthy(json:find('"active":null', 1, true))
    assert.truthy(json:find('"schemas":null', 1, true))
    assert.truthy(json:find('"source_configuration":null', 1, true))
  end)

  it("writes an integral float as an integer", function()
    local body = minimal_2025()
    body.concurrency_limit = 5.0
    body.resync_concurrency_limit = -3
    local json = assert(core.encode(body, V25))
    assert.truthy(json:find('"concurrency_limit":5[,}]'))
    assert.truthy(json:find('"resync_concurrency_limit":%-3[,}]'))
  end)

  it("accepts every value of every enum field", function()
    for _, version in ipairs(core.API_VERSIONS) do
      for _, f in ipairs(core.schema(version).fields) do
        for _, value in ipairs(f.enum or {}) do
          local body = version == V25 and minimal_2025() or full_2024()
          body[f.name] = value
          assert.is_string((core.encode(body, version)), f.name .. "=" .. value)
        end
      end
    end
    local body = full_2025()
    for _, fn in ipairs(core.schema(V25).by_name.schemas.items.by_name.filters.items.by_name["function"].enum) do
      body.schemas[2].filters[1]["function"] = fn
      assert.is_string((core.encode(body, V25)), fn)
    end
  end)

  it("accepts RFC 3339 date-times, leap days and any-case T/Z", function()
    for _, ts in ipairs({
      "2024-02-29T00:00:00Z", "2000-02-29T12:00:00Z", "1999-12-31t23:59:59z",
      "2024-01-01T00:00:00.5-08:00", "2024-06-30T10:20:30.123456789+14:00",
      "2024-01-31T23:59:59+00:00",
    }) do
      local body = minimal_2025()
      body.data_cutoff_timestamp = ts
      assert.is_string((core.encode(body, V25)), ts)
    end
  end)
end)

describe("schema: body shape", function()
  it("wants a table", function()
    for _, v in ipairs({ "x", 5, true, null }) do
      local _, list = problems(v)
      assert.are.equal(1, #list)
      assert.are.equal("", list[1].path)
      assert.are.equal("body must be a table, got " .. (v == null and "null" or type(v)), list[1].problem)
    end
  end)

  it("does not take a list as a body", function()
    for _, v in ipairs({ { 1, 2 }, core.array({}), { minimal_2025() } }) do
      local _, list = problems(v)
      assert.are.equal(1, #list)
      assert.are.equal("", list[1].path)
      assert.are.equal("body must be a table with string keys, got list", list[1].problem)
    end
  end)

  it("reports every missing required field, each at its own path", function()
    local by_path, list = problems({})
    assert.are.equal(6, #list)
    for _, name in ipairs({ "default_schedule", "destination_configuration", "destination_connection_id",
                            "mode", "name", "source_connection_id" }) do
      assert.are.same({ "is required" }, by_path[name])
    end
    by_path, list = problems({ name = "x" }, V24)
    assert.are.equal(5, #list)
    assert.are.same({ "is required" }, by_path.schedule)
    assert.is_nil(by_path.default_schedule)
  end)

  it("reports all problems of a body at once", function()
    local body = full_2025()
    body.name = nil
    body.mode = "snap"
    body.active = "yes"
    body.additional_schedules[2].frequency = nil
    body.schemas[2].fields[3].obfuscate = "no"
    body.colour = "blue"
    local by_path, list = problems(body)
    assert.are.equal(6, #list)
    assert.are.same({ "is required" }, by_path.name)
    assert.are.same({ 'must be one of: snapshot, replicate, got a string of 4 bytes' }, by_path.mode)
    assert.are.same({ "must be a boolean, got string" }, by_path.active)
    assert.are.same({ "is required" }, by_path["additional_schedules[2].frequency"])
    assert.are.same({ "must be a boolean, got string" }, by_path["schemas[2].fields[3].obfuscate"])
    assert.are.same({ "unknown field" }, by_path.colour)
  end)
end)

describe("schema: unknown fields", function()
  it("suggests a close field name", function()
    local body = full_2024()
    body.schedule, body.shedule = nil, body.schedule
    local by_path, list = problems(body, V24)
    assert.are.equal(2, #list)
    assert.are.same({ "unknown field; did you mean `schedule`?" }, by_path.shedule)
    assert.are.same({ "is required" }, by_path.schedule)
    check(function(b) b.nmae = b.name end, "nmae", "unknown field; did you mean `name`?")
    check(function(b) b.Name = b.name end, "Name", "unknown field; did you mean `name`?")
    check(function(b) b.modes = "snapshot" end, "modes", "unknown field; did you mean `mode`?")
    check(function(b) b.destination_connection = b.destination_connection_id end,
          "destination_connection", "unknown field; did you mean `destination_connection_id`?")
  end)

  it("says nothing more when no name is close", function()
    check(function(b) b.colour = 1 end, "colour", "unknown field")
    check(function(b) b.xy = 1 end, "xy", "unknown field")
  end)

  it("names the API version a field belongs to", function()
    check(function(b) b.schedule = { frequency = "daily" } end,
          "schedule", "`schedule` belongs to API version 2024-02-08, not 2025-09-18")
    check(function(b) b.discover = true end,
          "discover", "`discover` belongs to API version 2024-02-08, not 2025-09-18")
    check(function(b) b.default_schedule = { frequency = "daily" } end,
          "default_schedule", "`default_schedule` belongs to API version 2025-09-18, not 2024-02-08", V24)
    check(function(b) b.additional_schedules = {} end,
          "additional_schedules", "`additional_schedules` belongs to API version 2025-09-18, not 2024-02-08", V24)
    check(function(b) b.shedule = { frequency = "daily" } end, "shedule",
          "unknown field; did you mean `schedule`? It belongs to API version 2024-02-08, not 2025-09-18")
  end)

  it("applies inside nested objects too", function()
    local by_path = problems((function()
      local b = full_2025()
      b.default_schedule = { frequncy = "daily" }
      b.schemas[2].filters[1].fucntion = "IsNull"
      b.schemas[2].fields[2].colour = 1
      return b
    end)())
    assert.are.same({ "unknown field; did you mean `frequency`?" }, by_path["default_schedule.frequncy"])
    assert.are.same({ "is required" }, by_path["default_schedule.frequency"])
    assert.are.same({ "unknown field; did you mean `function`?" }, by_path["schemas[2].filters[1].fucntion"])
    assert.are.same({ "unknown field" }, by_path["schemas[2].fields[2].colour"])
  end)
end)

describe("schema: strict mode", function()
  it("lists each omitted optional top-level field with what the reset does", function()
    local by_path, list = problems(minimal_2025(), V25, true)
    local expect = {
      active = "inactive: stops running on its schedule",
      additional_schedules = "no additional schedules",
      automatically_add_new_fields = "newly discovered fields are enabled",
      automatically_add_new_objects = "newly discovered objects are not enabled",
      concurrency_limit = "default concurrency",
      data_cutoff_timestamp = "no cutoff",
      disable_record_timestamps = "record timestamps added",
      normalize_names = "names normalized",
      policies = "no policies",
      resync_concurrency_limit = "default resync concurrency",
      schemas = "all schemas selected",
      source_configuration = "source defaults",
    }
    local n = 0
    for name, note in pairs(expect) do
      n = n + 1
      assert.are.same({ "omitted: a full replacement resets it (" .. note
                        .. "); send it, or bulksync.null where nullable" }, by_path[name])
    end
    assert.are.equal(n, #list)
    assert.is_nil(by_path.organization_id)   -- kept by the server, not reset
  end)

  it("lists discover in 2024-02-08 and is satisfied by explicit nulls", function()
    local body = with_fields(full_2024())
    body.discover = nil
    local by_path, list = problems(body, V24, true)
    assert.are.equal(1, #list)
    assert.are.same({ "omitted: a full replacement resets it (discovery off); send it, or bulksync.null where nullable" },
                    by_path.discover)
    body = minimal_2025()
    for _, f in ipairs(core.schema(V25).fields) do
      if body[f.name] == nil then body[f.name] = f.nullable and null or f.enum[1] end
    end
    assert.is_string((core.encode(body, V25, true)))
  end)

  it("reports nothing extra without strict", function()
    assert.is_string((core.encode(minimal_2025(), V25)))
  end)
end)

describe("schema: value types", function()
  it("null only where nullable", function()
    check(function(b) b.name = null end, "name", "cannot be null (must be a string)")
    check(function(b) b.mode = null end, "mode", "cannot be null (must be one of: snapshot, replicate)")
    check(function(b) b.normalize_names = null end, "normalize_names",
          "cannot be null (must be one of: enabled, disabled, legacy)")
    check(function(b) b.default_schedule.hour = null end, "default_schedule.hour",
          "cannot be null (must be a string)")
    local body = full_2025()
    body.schemas[2].enabled, body.schemas[2].fields[2].obfuscate, body.policies = null, null, null
    assert.is_string((core.encode(body, V25)))
  end)

  it("strings are Lua strings only", function()
    check(function(b) b.name = 5 end, "name", "must be a string, got number")
    check(function(b) b.name = { "x" } end, "name", "must be a string, got list")
    check(function(b) b.schemas[2].partition_key = false end, "schemas[2].partition_key",
          "must be a string, got boolean")
  end)

  it("says schedule parts are strings", function()
    local hint = 'must be a string (schedule parts are strings, e.g. "05"), got number'
    check(function(b) b.default_schedule.hour = 5 end, "default_schedule.hour", hint)
    check(function(b) b.additional_schedules[2].minute = 0 end, "additional_schedules[2].minute", hint)
    check(function(b) b.schedule.multi.schedules[2].schedule.day_of_month = 1 end,
          "schedule.multi.schedules[2].schedule.day_of_month", hint, V24)
  end)

  it("booleans are Lua booleans only", function()
    check(function(b) b.active = "true" end, "active", "must be a boolean, got string")
    check(function(b) b.active = 1 end, "active", "must be a boolean, got number")
    check(function(b) b.schemas[2].fields[2].enabled = {} end, "schemas[2].fields[2].enabled",
          "must be a boolean, got empty table")
  end)

  it("integers are integral numbers in range", function()
    check(function(b) b.concurrency_limit = 1.5 end, "concurrency_limit", "must be an integer, got 1.5")
    check(function(b) b.concurrency_limit = "5" end, "concurrency_limit", "must be an integer, got string")
    check(function(b) b.concurrency_limit = 0 / 0 end, "concurrency_limit", "must be an integer, got nan")
    local p, text = only_problem(function(b) b.resync_concurrency_limit = 2 ^ 70 end)
    assert.are.equal("resync_concurrency_limit", p)
    assert.truthy(text:find("^must be an integer between %-2%^%d+ and 2%^%d+.*, got 1%.1805916207174e%+21$"))
    text = select(2, only_problem(function(b) b.concurrency_limit = math.huge end))
    assert.truthy(text:find("^must be an integer between .*, got inf$"))
  end)

  it("enums list their allowed values", function()
    check(function(b) b.mode = "snap" end, "mode", 'must be one of: snapshot, replicate, got a string of 4 bytes')
    check(function(b) b.mode = "" end, "mode", 'must be one of: snapshot, replicate, got a string of 0 bytes')
    check(function(b) b.automatically_add_new_objects = true end, "automatically_add_new_objects",
          "must be one of: all, onlyIncremental, onlyNonIncremental, none, got boolean")
    check(function(b) b.additional_schedules[1].selective_mode = "incremental" end,
          "additional_schedules[1].selective_mode",
          'must be one of: none, incrementalFields, nonincrementalFields, got a string of 11 bytes')
    local p, text = only_problem(function(b) b.schemas[2].filters[2]["function"] = "equals" end)
    assert.are.equal("schemas[2].filters[2].function", p)
    assert.truthy(text:find("^must be one of: Equality, Inequality, IsNull, .*StringMatchesTrimmed, got a string of 6 bytes$"))
  end)

  -- A wrong value may be a key pasted into the wrong place: it is never
  -- quoted back, only measured.
  it("never quotes a wrong value, only its size", function()
    check(function(b) b.mode = "snap\nshot" end, "mode",
          'must be one of: snapshot, replicate, got a string of 9 bytes; did you mean `snapshot`?')
    local long = string.rep("é", 40)
    check(function(b) b.mode = long end, "mode", 'must be one of: snapshot, replicate, got a string of 80 bytes')
  end)

  it("uuids are canonical 8-4-4-4-12 hex", function()
    local want = 'must be a UUID (8-4-4-4-12 hex digits), got a string of %d bytes'
    for _, bad in ipairs({ "abc", "0b2f6a3e7c1d4e5f8a9b0c1d2e3f4a5b", "0b2f6a3e-7c1d-4e5f-8a9b-0c1d2e3f4a5g",
                           "{0b2f6a3e-7c1d-4e5f-8a9b-0c1d2e3f4a5b}", "0b2f6a3e-7c1d-4e5f-8a9b-0c1d2e3f4a5b " }) do
      check(function(b) b.destination_connection_id = bad end, "destination_connection_id", want:format(#bad))
    end
    check(function(b) b.policies[2] = 42 end, "policies[2]",
          "must be a UUID (8-4-4-4-12 hex digits), got number")
  end)

  it("date-times are RFC 3339 with real calendar days", function()
    local cases = {
      ["2023-02-29T00:00:00Z"] = "day out of range for the month",
      ["1900-02-29T00:00:00Z"] = "day out of range for the month",
      ["2024-04-31T00:00:00Z"] = "day out of range for the month",
      ["2024-01-00T00:00:00Z"] = "day out of range for the month",
      ["2024-13-01T00:00:00Z"] = "month out of range",
      ["2024-01-01T24:00:00Z"] = "hour out of range",
      ["2024-01-01T00:60:00Z"] = "minute out of range",
      ["2024-01-01T00:00:60Z"] = "second out of range",
      ["2024-01-01T00:00:00"] = "not YYYY-MM-DDTHH:MM:SS",
      ["2024-01-01T00:00:00+01"] = "time zone offset is not Z or +HH:MM",
      ["2024-01-01T00:00:00+24:00"] = "time zone offset out of range",
      ["2024-01-01T00:00:00.Z"] = "no digits after the decimal point",
      ["2024-01-01T00:00:00ZZ"] = "text after the time zone",
      ["2024-01-01 00:00:00Z"] = "not YYYY-MM-DDTHH:MM:SS",
      ["2024-1-01T00:00:00Z"] = "not YYYY-MM-DDTHH:MM:SS",
      ["2024-01-01"] = "not YYYY-MM-DDTHH:MM:SS",
    }
    for ts, why in pairs(cases) do
      check(function(b) b.schemas[2].data_cutoff_timestamp = ts end, "schemas[2].data_cutoff_timestamp",
            ('must be an RFC 3339 date-time such as "2024-01-31T23:59:59Z", got a string of %d bytes (%s)')
              :format(#ts, why))
    end
    check(function(b) b.data_cutoff_timestamp = 1706745599 end, "data_cutoff_timestamp",
          'must be an RFC 3339 date-time such as "2024-01-31T23:59:59Z", got number')
  end)

  it("maps are tables with keys, not lists", function()
    check(function(b) b.destination_configuration = { "a", "b" } end, "destination_configuration",
          "must be an object, got list")
    check(function(b) b.destination_configuration = core.array({}) end, "destination_configuration",
          "must be an object, got list")
    check(function(b) b.source_configuration = "slot" end, "source_configuration",
          "must be an object, got string")
    check(function(b) b.destination_configuration = nil end, "destination_configuration", "is required")
  end)

  it("lists are sequences 1..n", function()
    check(function(b) b.policies = { a = UUID1 } end, "policies", "must be a list, got object")
    check(function(b) b.policies = { [1] = UUID1, [3] = UUID2 } end, "policies",
          "must be a list, got a table with holes (2 items, highest index 3)")
    check(function(b) b.policies = { [0] = UUID1 } end, "policies", "must be a list, got a table with a number key")
    check(function(b) b.policies = { [true] = UUID1 } end, "policies", "must be a list, got a table with a boolean key")
    check(function(b) b.additional_schedules = UUID1 end, "additional_schedules", "must be a list, got string")
    check(function(b) b.schemas[2].fields = { id = "x" } end, "schemas[2].fields", "must be a list, got object")
  end)

  it("walks a list built out of order in index order, reporting each item once", function()
    local body = minimal_2025()
    -- keys in a constructor go to the hash part: PUC Lua traverses these
    -- out of order (3, 1, 2 on 5.4)
    body.policies = { [3] = UUID2, [2] = "bad", [1] = UUID1 }
    local _, list = problems(body)
    assert.are.equal(1, #list)
    assert.are.equal("policies[2]", list[1].path)
    body.policies[2] = UUID1
    local json = assert(core.encode(body, V25))
    assert.are.same({ UUID1, UUID1, UUID2 }, cjson.decode(json).policies)
    -- items walked before the list turns out not to be one are not reported
    check(function(b) b.policies = { "bad", "worse", extra = 1 } end, "policies", "must be a list, got object")
  end)

  it("puts the JSON writer's problems at the value's path, once", function()
    local body = full_2025()
    body.name = "bad \255 byte"
    body.schemas[1] = "users\254"
    body.destination_configuration.nested.a[2] = 0 / 0
    body.schemas[2].filters[2].value = 1 / 0
    body.schemas[2].filters[1].value[2] = { deep = -1 / 0 }
    local by_path, list = problems(body)
    assert.are.equal(5, #list)
    for _, path in ipairs({ "name", "schemas[1]", "destination_configuration.nested.a[2]",
                            "schemas[2].filters[2].value", "schemas[2].filters[1].value[2].deep" }) do
      assert.are.equal(1, #assert(by_path[path], path))
    end
  end)

  it("objects are tables with string keys", function()
    check(function(b) b.default_schedule = { "daily" } end, "default_schedule", "must be an object, got list")
    check(function(b) b.default_schedule = "daily" end, "default_schedule", "must be an object, got string")
    check(function(b) b.additional_schedules[1] = core.array({}) end, "additional_schedules[1]",
          "must be an object, got list")
    check(function(b) b.default_schedule[5] = "x" end, "default_schedule",
          "must be an object, got a table with a number key")
    check(function(b) b.schedule.multi = 1 end, "schedule.multi", "must be an object, got number", V24)
  end)

  it("schemas and fields items are a string or an object", function()
    check(function(b) b.schemas[1] = 5 end, "schemas[1]", "must be a string or an object, got number")
    check(function(b) b.schemas[2].fields[1] = true end, "schemas[2].fields[1]",
          "must be a string or an object, got boolean")
    check(function(b) b.schemas[2].id = nil end, "schemas[2].id", "is required")
    check(function(b) b.schemas[2].fields[2].id = nil end, "schemas[2].fields[2].id", "is required")
    check(function(b) b.schemas[2].filters[3]["function"] = nil end, "schemas[2].filters[3].function", "is required")
    check(function(b) b.schemas[2].filters[1] = "status" end, "schemas[2].filters[1]",
          "must be an object, got string")
  end)

  it("checks the recursive 2024-02-08 schedule at any depth", function()
    check(function(b) b.schedule.multi.schedules[1].item = "all" end, "schedule.multi.schedules[1].item",
          'must be one of: none, incrementalFields, nonincrementalFields, got a string of 3 bytes', V24)
    check(function(b) b.schedule.multi.schedules[1].schedule = nil end,
          "schedule.multi.schedules[1].schedule", "is required", V24)
    check(function(b)
      b.schedule.multi.schedules[2].schedule.multi = { schedules = { { item = "none", schedule = { frequency = "hourli" } } } }
    end, "schedule.multi.schedules[2].schedule.multi.schedules[1].schedule.frequency",
      'must be one of: manual, continuous, hourly, daily, weekly, custom, builder, runafter, multi, dbtcloud,'
        .. ' got a string of 6 bytes; did you mean `hourly`?', V24)
  end)

  it("stops at a table that contains itself", function()
    local body = full_2024()
    local s = body.schedule
    s.multi.schedules[1].schedule = s
    local _, list = problems(body, V24)
    assert.are.equal(1, #list)
    assert.truthy(list[1].problem:find("^nested deeper than %d+ levels"))
    assert.truthy(list[1].path:find("^schedule%.multi%.schedules%[1%]%.schedule%.multi"))
  end)

  it("counts every problem but keeps the list bounded", function()
    local body = minimal_2025()
    body.policies = {}
    for i = 1, 500 do body.policies[i] = "not-a-uuid" end
    local json, list, count = core.encode(body, V25)
    assert.is_nil(json)
    assert.is_true(count > #list)
    assert.are.equal("policies[1]", list[1].path)
  end)
end)

describe("schema: core.schema export", function()
  it("describes the top-level fields in the spec's order", function()
    local s = core.schema(V25)
    assert.are.equal(V25, s.version)
    local names = {}
    for i, f in ipairs(s.fields) do
      names[i] = f.name
      assert.are.equal(f, s.by_name[f.name])
    end
    assert.are.same({ "default_schedule", "destination_configuration", "destination_connection_id", "mode",
                      "name", "source_connection_id", "active", "additional_schedules",
                      "automatically_add_new_fields", "automatically_add_new_objects", "concurrency_limit",
                      "data_cutoff_timestamp", "disable_record_timestamps", "normalize_names",
                      "organization_id", "policies", "resync_concurrency_limit", "schemas",
                      "source_configuration" }, names)
    assert.are.same({ schedule = V24, discover = V24 }, s.other_version)
    assert.are.same({ default_schedule = V25, additional_schedules = V25 }, core.schema(V24).other_version)
  end)

  it("gives types, flags, enums and reset data", function()
    local f = core.schema(V25).by_name
    assert.are.same({ name = "mode", type = "enum", required = true, nullable = false,
                      enum = { "snapshot", "replicate" } }, f.mode)
    assert.are.equal("uuid", f.destination_connection_id.type)
    assert.are.equal("map", f.destination_configuration.type)
    assert.are.equal("integer", f.concurrency_limit.type)
    assert.are.equal("date-time", f.data_cutoff_timestamp.type)

    assert.are.equal(false, f.active.reset)
    assert.are.equal("inactive: stops running on its schedule", f.active.reset_note)
    assert.is_true(f.active.nullable)
    assert.are.equal("all", f.automatically_add_new_fields.reset)
    assert.is_false(f.automatically_add_new_fields.nullable)
    assert.are.equal("none", f.automatically_add_new_objects.reset)
    assert.are.equal("enabled", f.normalize_names.reset)
    assert.are.equal(null, f.concurrency_limit.reset)
    assert.are.equal(null, f.source_configuration.reset)
    assert.are.same({}, f.additional_schedules.reset)
    assert.are.equal(core.array_mt, getmetatable(f.additional_schedules.reset))
    assert.are.equal(core.array_mt, getmetatable(f.policies.reset))
    assert.is_true(f.organization_id.kept)
    assert.is_nil(f.organization_id.reset)
    assert.are.equal("the caller's organization", f.organization_id.reset_note)
    assert.is_nil(f.schemas.reset)
    assert.are.equal("all schemas selected", f.schemas.reset_note)
    for _, field in ipairs(core.schema(V25).fields) do
      if field.required then
        assert.is_nil(field.reset_note, field.name)
      else
        assert.is_string(field.reset_note, field.name)
      end
    end
    assert.are.equal(false, core.schema(V24).by_name.discover.reset)
  end)

  it("describes nested objects and list items", function()
    local f = core.schema(V25).by_name
    local freq = f.default_schedule.by_name.frequency
    assert.are.equal("object", f.default_schedule.type)
    assert.is_true(freq.required)
    assert.are.equal(10, #freq.enum)
    assert.are.equal("string", f.default_schedule.by_name.hour.type)
    assert.are.equal("uuid", f.default_schedule.by_name.id.type)

    local add = f.additional_schedules.items
    assert.are.equal("list", f.additional_schedules.type)
    assert.is_nil(add.name)
    assert.are.same({ "normal", "refetch", "resync", "rebuild" }, add.by_name.resync_mode.enum)
    assert.are.equal("string", add.by_name.schemas.items.type)
    assert.are.equal("uuid", f.policies.items.type)

    local sc = f.schemas.items
    assert.are.equal("string_or_object", sc.type)
    assert.is_true(sc.by_name.id.required)
    assert.are.equal("date-time", sc.by_name.data_cutoff_timestamp.type)
    assert.are.equal("string_or_object", sc.by_name.fields.items.type)
    assert.is_true(sc.by_name.fields.items.by_name.obfuscate.nullable)
    local filter = sc.by_name.filters.items.by_name
    assert.are.equal(29, #filter["function"].enum)
    assert.is_true(filter["function"].required)
    assert.are.equal("any", filter.value.type)

    local sched = core.schema(V24).by_name.schedule
    local inner = sched.by_name.multi.by_name.schedules.items.by_name
    assert.are.same({ "none", "incrementalFields", "nonincrementalFields" }, inner.item.enum)
    assert.is_true(inner.schedule.by_name.frequency.required)
  end)

  it("returns fresh tables on each call", function()
    local a, b = core.schema(V25), core.schema(V25)
    assert.are_not.equal(a, b)
    a.by_name.mode.enum[1] = "changed"
    table.remove(a.fields, 1)
    assert.are.equal("snapshot", b.by_name.mode.enum[1])
    assert.are.equal("snapshot", core.schema(V25).by_name.mode.enum[1])
    assert.are.equal("default_schedule", core.schema(V25).fields[1].name)
  end)
end)
