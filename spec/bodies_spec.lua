-- The request bodies beside the sync update, selected by a body kind:
-- activate (ActivateSyncInput), start (StartBulkSyncRequest, which
-- differs between the API versions), schema (UpdateBulkSchema, a whole
-- replacement), schemas (UpdateBulkSyncSchemasRequest) and schedule
-- (CreateScheduleRequest, spelt in camelCase). The same descriptors and the same
-- walker as the sync body: what they write, every problem with its path
-- and code, the exclusive pair of start, and their core.schema() export.

local core = require "bulksync.core"
local raw  = require "spec.support.rawserver"

local V25, V24 = "2025-09-18", "2024-02-08"
local null = core.null

local function problems_of(body, version, kind, strict)
  local ok, problems, count = core.validate(body, version, strict, nil, kind)
  assert.is_nil(ok)
  assert.equal(#problems, count)
  local out = core.encode(body, version, strict, nil, kind)
  assert.is_nil(out)
  return problems
end

-- The only problem, with its path and code; its message is returned.
local function one_problem(body, version, kind, path, code, strict)
  local problems = problems_of(body, version, kind, strict)
  assert.equal(1, #problems, "problems: " .. #problems)
  assert.equal(path, problems[1].path)
  assert.equal(code, problems[1].code)
  return problems[1].problem
end

describe("bodies: core.BODY_KINDS", function()
  it("lists the kinds, the sync body first", function()
    assert.same({ "sync", "activate", "start", "schema", "schemas", "schedule" }, core.BODY_KINDS)
  end)

  it("takes nil and \"sync\" as the sync body", function()
    local body = { name = 42 }
    local _, a = core.validate(body, V25, false, nil)
    local _, b = core.validate(body, V25, false, nil, "sync")
    assert.same(a, b)
    assert.same(core.schema(V25), core.schema(V25, "sync"))
  end)

  it("refuses an unknown kind as an argument error in every function", function()
    for _, call in ipairs {
      function() core.encode({}, V25, false, nil, "stop") end,
      function() core.validate({}, V25, false, nil, "Start") end,
      function() core.schema(V25, "activ") end,
      function() core.encode({}, V25, false, nil, 1) end,
    } do
      local ok, err = pcall(call)
      assert.is_false(ok)
      assert.matches("bad argument", err)
      assert.matches("body kind", err)
    end
  end)
end)

describe("bodies: activate", function()
  for _, version in ipairs(core.API_VERSIONS) do
    it("encodes { active = true | false } in " .. version, function()
      assert.equal('{"active":true}', core.encode({ active = true }, version, false, nil, "activate"))
      assert.equal('{"active":false}', core.encode({ active = false }, version, true, nil, "activate"))
      assert.is_true(core.validate({ active = false }, version, true, nil, "activate"))
    end)
  end

  it("requires active", function()
    local msg = one_problem({}, V25, "activate", "active", "required")
    assert.matches("is required", msg)
  end)

  it("wants a boolean, never null", function()
    assert.matches("must be a boolean, got string",
                   one_problem({ active = "yes" }, V25, "activate", "active", "type"))
    assert.matches("cannot be null", one_problem({ active = null }, V24, "activate", "active", "null"))
  end)

  it("names an unknown field and the one probably meant", function()
    local problems = problems_of({ active = true, actve = false }, V25, "activate")
    assert.equal(1, #problems)
    assert.equal("actve", problems[1].path)
    assert.equal("unknown", problems[1].code)
    assert.matches("did you mean `active`?", problems[1].problem, 1, true)
  end)

  it("does not take the sync body's fields", function()
    local problems = problems_of({ active = true, name = "x" }, V25, "activate")
    assert.equal("name", problems[1].path)
    assert.equal("unknown", problems[1].code)
  end)
end)

describe("bodies: start", function()
  it("encodes a 2025-09-18 body in the schema's order", function()
    local body = { test = false, schemas = { "public.users", "public.orders" }, resync_mode = "rebuild",
                   fetch_mode = "incremental" }
    assert.equal('{"fetch_mode":"incremental","resync_mode":"rebuild",'
                 .. '"schemas":["public.users","public.orders"],"test":false}',
                 core.encode(body, V25, false, nil, "start"))
  end)

  it("encodes a 2024-02-08 body in the schema's order", function()
    local body = { test = true, schemas = { "a" }, resync = false, fetch_mode = "full" }
    assert.equal('{"fetch_mode":"full","resync":false,"schemas":["a"],"test":true}',
                 core.encode(body, V24, false, nil, "start"))
  end)

  it("takes every field as optional, and schemas as null or empty", function()
    for _, version in ipairs(core.API_VERSIONS) do
      assert.equal("{}", core.encode({}, version, false, nil, "start"))
      assert.equal('{"schemas":null}', core.encode({ schemas = null }, version, false, nil, "start"))
      assert.equal('{"schemas":[]}', core.encode({ schemas = {} }, version, false, nil, "start"))
      assert.equal('{"test":true}', core.encode({ test = true }, version, false, nil, "start"))
    end
  end)

  it("checks the enums and suggests the nearest value", function()
    local msg = one_problem({ fetch_mode = "ful" }, V25, "start", "fetch_mode", "enum")
    assert.matches("one of: none, incremental, full", msg, 1, true)
    assert.matches("did you mean `full`?", msg, 1, true)
    msg = one_problem({ resync_mode = "resyncc" }, V25, "start", "resync_mode", "enum")
    assert.matches("one of: refetch, resync, rebuild", msg, 1, true)
    assert.matches("did you mean `resync`?", msg, 1, true)
  end)

  it("checks the types, down to the list items", function()
    one_problem({ test = "yes" }, V25, "start", "test", "type")
    one_problem({ resync = 1 }, V24, "start", "resync", "type")
    one_problem({ schemas = "public.users" }, V25, "start", "schemas", "type")
    one_problem({ schemas = { "a", 2 } }, V24, "start", "schemas[2]", "type")
    one_problem({ fetch_mode = null }, V25, "start", "fetch_mode", "null")
    one_problem({ test = null }, V25, "start", "test", "null")
  end)

  it("names an unknown field and the one probably meant", function()
    local msg = one_problem({ fetchmode = "full" }, V25, "start", "fetchmode", "unknown")
    assert.matches("did you mean `fetch_mode`?", msg, 1, true)
    msg = one_problem({ colour = "red" }, V25, "start", "colour", "unknown")
    assert.equal("unknown field", msg)
  end)

  it("says which API version a field of the other one belongs to", function()
    local msg = one_problem({ resync = true }, V25, "start", "resync", "unknown")
    assert.matches("`resync` belongs to API version " .. V24 .. ", not " .. V25, msg, 1, true)
    msg = one_problem({ resync_mode = "refetch" }, V24, "start", "resync_mode", "unknown")
    assert.matches("`resync_mode` belongs to API version " .. V25 .. ", not " .. V24, msg, 1, true)
    msg = one_problem({ resyncmode = "refetch" }, V24, "start", "resyncmode", "unknown")
    assert.matches("did you mean `resync_mode`? It belongs to API version " .. V25, msg, 1, true)
  end)

  describe("test and a resync together", function()
    it("are refused at the later field, naming the earlier (2025-09-18)", function()
      local msg = one_problem({ test = true, resync_mode = "refetch" }, V25, "start", "test", "structure")
      assert.matches("cannot be sent with `resync_mode`", msg, 1, true)
      assert.matches("exclusive", msg)
    end)

    it("are refused at the later field, naming the earlier (2024-02-08)", function()
      local msg = one_problem({ test = true, resync = true }, V24, "start", "test", "structure")
      assert.matches("cannot be sent with `resync`", msg, 1, true)
    end)

    it("give a code of core.PROBLEM_CODES", function()
      local codes = {}
      for _, c in ipairs(core.PROBLEM_CODES) do codes[c] = true end
      local problems = problems_of({ test = true, resync_mode = "rebuild" }, V25, "start")
      assert.truthy(codes[problems[1].code])
    end)

    it("are fine when one of them is off", function()
      assert.equal('{"resync_mode":"rebuild","test":false}',
                   core.encode({ test = false, resync_mode = "rebuild" }, V25, false, nil, "start"))
      assert.equal('{"resync":false,"test":true}',
                   core.encode({ test = true, resync = false }, V24, false, nil, "start"))
      assert.equal('{"resync":true,"test":false}',
                   core.encode({ test = false, resync = true }, V24, false, nil, "start"))
      assert.is_true(core.validate({ test = true, schemas = { "a" } }, V25, true, nil, "start"))
    end)

    it("are reported beside the other problems of the body", function()
      local problems = problems_of({ test = true, resync_mode = "refetch", fetch_mode = "all" }, V25, "start")
      local by_path = {}
      for _, p in ipairs(problems) do by_path[p.path] = p.code end
      assert.same({ fetch_mode = "enum", test = "structure" }, by_path)
    end)
  end)
end)

describe("bodies: strict", function()
  it("refuses nothing more in bodies that reset nothing", function()
    assert.equal("{}", core.encode({}, V25, true, nil, "start"))
    assert.equal("{}", core.encode({}, V24, true, nil, "start"))
    assert.equal('{"active":true}', core.encode({ active = true }, V25, true, nil, "activate"))
  end)

  it("still refuses what the sync body's full replacement would reset", function()
    local _, problems = core.validate({}, V25, true, nil, "sync")
    local strict = 0
    for _, p in ipairs(problems) do
      if p.code == "strict" then strict = strict + 1 end
    end
    assert.is_true(strict > 0)
  end)

  it("keeps the required and exclusive problems", function()
    one_problem({}, V25, "activate", "active", "required", true)
    one_problem({ test = true, resync_mode = "refetch" }, V25, "start", "test", "structure", true)
  end)
end)

describe("bodies: core.schema(version, kind)", function()
  local function names(s)
    local out = {}
    for i, f in ipairs(s.fields) do
      out[i] = f.name
      assert.equal(f, s.by_name[f.name])
    end
    return out
  end

  it("exports the start body of 2025-09-18", function()
    local s = core.schema(V25, "start")
    assert.equal(V25, s.version)
    assert.equal("start", s.kind)
    assert.equal("StartBulkSyncRequest", s.title)
    assert.same({ "fetch_mode", "resync_mode", "schemas", "test" }, names(s))
    local f = s.by_name
    assert.same({ "none", "incremental", "full" }, f.fetch_mode.enum)
    assert.same({ "refetch", "resync", "rebuild" }, f.resync_mode.enum)
    assert.equal("enum", f.fetch_mode.type)
    assert.equal("list", f.schemas.type)
    assert.equal("string", f.schemas.items.type)
    assert.equal("boolean", f.test.type)
    assert.is_true(f.schemas.nullable)
    for _, field in ipairs(s.fields) do
      assert.is_false(field.required)
      assert.is_nil(field.reset)
      if field.name ~= "schemas" then assert.is_false(field.nullable) end
    end
    assert.equal("test", f.resync_mode.exclusive)
    assert.is_nil(f.test.exclusive)
    assert.same({ resync = V24 }, s.other_version)
    assert.same({}, s.read_only)
  end)

  it("exports the start body of 2024-02-08", function()
    local s = core.schema(V24, "start")
    assert.same({ "fetch_mode", "resync", "schemas", "test" }, names(s))
    assert.equal("boolean", s.by_name.resync.type)
    assert.equal("test", s.by_name.resync.exclusive)
    assert.same({ resync_mode = V25 }, s.other_version)
  end)

  it("exports the activate body, the same in both versions", function()
    for _, version in ipairs(core.API_VERSIONS) do
      local s = core.schema(version, "activate")
      assert.equal("ActivateSyncInput", s.title)
      assert.same({ "active" }, names(s))
      assert.is_true(s.by_name.active.required)
      assert.is_false(s.by_name.active.nullable)
      assert.same({}, s.other_version)
    end
  end)

  it("keeps the sync body's export as it was", function()
    local s = core.schema(V25)
    assert.equal("sync", s.kind)
    assert.equal("default_schedule", s.fields[1].name)
    assert.same({ schedule = V24, discover = V24 }, s.other_version)
    assert.same({ "id", "created_at", "created_by", "updated_at", "updated_by" }, s.read_only)
  end)
end)

local function paths_codes(problems)
  local out = {}
  for _, p in ipairs(problems) do out[p.path] = p.code end
  return out
end

-- A schema replacement with every field sent.
local function full_schema()
  return {
    data_cutoff_timestamp = "2024-01-31T23:59:59Z", disable_data_cutoff = false, enabled = true,
    fields = { { id = "email", enabled = true, obfuscated = true, user_output_name = "mail" } },
    filters = { { field_id = "status", ["function"] = "Equality", value = "open" } },
    partition_key = "region", tracking_field = "updated_at", user_output_name = "tickets",
  }
end

describe("bodies: schema (PUT .../schemas/{schema_id})", function()
  for _, version in ipairs(core.API_VERSIONS) do
    it("encodes every field in the schema's order in " .. version, function()
      assert.equal('{"data_cutoff_timestamp":"2024-01-31T23:59:59Z","disable_data_cutoff":false,"enabled":true,'
                   .. '"fields":[{"enabled":true,"id":"email","obfuscated":true,"user_output_name":"mail"}],'
                   .. '"filters":[{"field_id":"status","function":"Equality","value":"open"}],'
                   .. '"partition_key":"region","tracking_field":"updated_at","user_output_name":"tickets"}',
                   core.encode(full_schema(), version, true, nil, "schema"))
    end)
  end

  it("takes every field as optional, and the nullable ones as null, without strict", function()
    assert.equal("{}", core.encode({}, V25, false, nil, "schema"))
    assert.equal('{"data_cutoff_timestamp":null,"fields":null,"filters":null}',
                 core.encode({ data_cutoff_timestamp = null, fields = null, filters = null }, V24, false, nil,
                             "schema"))
    assert.equal('{"fields":[]}', core.encode({ fields = {} }, V25, false, nil, "schema"))
  end)

  it("checks the types, the date-time and the filters it shares with the sync body", function()
    one_problem({ enabled = "yes" }, V25, "schema", "enabled", "type")
    one_problem({ enabled = null }, V25, "schema", "enabled", "null")
    one_problem({ partition_key = null }, V25, "schema", "partition_key", "null")
    one_problem({ data_cutoff_timestamp = "2024-13-01T00:00:00Z" }, V25, "schema", "data_cutoff_timestamp", "format")
    one_problem({ fields = { { id = 7 } } }, V25, "schema", "fields[1].id", "type")
    one_problem({ fields = { { obfuscate = true } } }, V25, "schema", "fields[1].obfuscate", "unknown")
    one_problem({ filters = { { field_id = "a" } } }, V24, "schema", "filters[1].function", "required")
    local msg = one_problem({ filters = { { ["function"] = "Equalty" } } }, V25, "schema", "filters[1].function",
                            "enum")
    assert.matches("did you mean `Equality`?", msg, 1, true)
    msg = one_problem({ enabeld = true }, V25, "schema", "enabeld", "unknown")
    assert.matches("did you mean `enabled`?", msg, 1, true)
  end)

  describe("with strict, as a whole replacement", function()
    it("refuses every omitted field", function()
      local _, problems = core.validate({}, V25, true, nil, "schema")
      local want = {}
      for _, name in ipairs { "data_cutoff_timestamp", "disable_data_cutoff", "enabled", "fields", "filters",
                              "partition_key", "tracking_field", "user_output_name" } do
        want[name] = "strict"
      end
      assert.same(want, paths_codes(problems))
      for _, p in ipairs(problems) do
        if p.path == "fields" then
          assert.matches("omitted: the server would leave every field of the schema enabled", p.problem, 1, true)
        else
          assert.matches("omitted: a full replacement resets it", p.problem, 1, true)
        end
      end
    end)

    it("refuses fields omitted, null or empty: the server would enable every field", function()
      for _, fields in ipairs { null, {} } do
        local body = full_schema()
        body.fields = fields
        local msg = one_problem(body, V25, "schema", "fields", "strict", true)
        assert.matches("every field of the schema enabled", msg, 1, true)
        assert.matches("list them (strict)", msg, 1, true)
        assert.matches(fields == null and "is null" or "is empty", msg, 1, true)
        -- Without strict the same body goes as it is.
        assert.is_string(core.encode(body, V25, false, nil, "schema"))
      end
      local body = full_schema()
      body.fields = nil
      assert.matches("omitted", one_problem(body, V24, "schema", "fields", "strict", true))
    end)

    it("takes null for the other nullable fields", function()
      local body = full_schema()
      body.filters, body.data_cutoff_timestamp = null, null
      assert.is_true(core.validate(body, V25, true, nil, "schema"))
    end)
  end)
end)

describe("bodies: schemas (PATCH .../schemas)", function()
  local item = { id = "public.users", enabled = true, disable_data_cutoff = true,
                 data_cutoff_timestamp = null,
                 fields = { { id = "email", enabled = false, obfuscated = false, output_name = "email",
                              user_output_name = "mail" } },
                 filters = { { ["function"] = "IsNotNull", field_id = "email" } },
                 output_name = "users", partition_key = "", tracking_field = "updated_at",
                 user_output_name = "people" }

  for _, version in ipairs(core.API_VERSIONS) do
    it("encodes the items in the schema's order in " .. version, function()
      assert.equal('{"schemas":[{"data_cutoff_timestamp":null,"disable_data_cutoff":true,"enabled":true,'
                   .. '"fields":[{"enabled":false,"id":"email","obfuscated":false,"output_name":"email",'
                   .. '"user_output_name":"mail"}],"filters":[{"field_id":"email","function":"IsNotNull"}],'
                   .. '"id":"public.users","output_name":"users","partition_key":"",'
                   .. '"tracking_field":"updated_at","user_output_name":"people"}]}',
                   core.encode({ schemas = { item } }, version, true, nil, "schemas"))
    end)
  end

  it("requires schemas, and an id in every item", function()
    one_problem({}, V25, "schemas", "schemas", "required")
    one_problem({ schemas = { { enabled = true } } }, V25, "schemas", "schemas[1].id", "required")
    one_problem({ schemas = { { id = "a" }, { id = "b" }, { enabled = false } } }, V24, "schemas",
                "schemas[3].id", "required")
    assert.equal('{"schemas":[{"enabled":false,"id":"a"}]}',
                 core.encode({ schemas = { { id = "a", enabled = false } } }, V25, false, nil, "schemas"))
  end)

  it("checks the items' types and names", function()
    one_problem({ schemas = "public.users" }, V25, "schemas", "schemas", "type")
    one_problem({ schemas = { "public.users" } }, V25, "schemas", "schemas[1]", "type")
    one_problem({ schemas = { { id = "a", enabled = null } } }, V25, "schemas", "schemas[1].enabled", "null")
    one_problem({ schemas = { { id = "a", fields = null } } }, V25, "schemas", "schemas[1].fields", "null")
    one_problem({ schemas = { { id = "a", fields = { { id = "x", obfuscated = 1 } } } } }, V25, "schemas",
                "schemas[1].fields[1].obfuscated", "type")
    local msg = one_problem({ schemas = { { id = "a", outputname = "x" } } }, V25, "schemas",
                            "schemas[1].outputname", "unknown")
    assert.matches("did you mean `output_name`?", msg, 1, true)
  end)

  it("with strict refuses an item without fields, or with none listed", function()
    local _, problems = core.validate({ schemas = { { id = "a" }, item, { id = "c", fields = {} } } }, V25, true,
                                      nil, "schemas")
    assert.same({ ["schemas[1].fields"] = "strict", ["schemas[3].fields"] = "strict" }, paths_codes(problems))
    for _, p in ipairs(problems) do
      assert.matches("every field of the schema enabled", p.problem, 1, true)
    end
    assert.is_true(core.validate({ schemas = { { id = "a" }, { id = "c", fields = {} } } }, V25, false, nil,
                                 "schemas"))
  end)

  it("with strict refuses nothing else: a patch leaves what it does not send", function()
    assert.is_true(core.validate({ schemas = { { id = "a", fields = { { id = "x" } } } } }, V24, true, nil,
                                 "schemas"))
  end)
end)

describe("bodies: schedule (POST/PUT .../schedules)", function()
  for _, version in ipairs(core.API_VERSIONS) do
    it("encodes the camelCase fields in the schema's order in " .. version, function()
      local body = { schedule = { selectiveMode = "incrementalFields", month = "1", minute = "30", hour = "05",
                                  frequency = "custom", dayOfWeek = "monday", dayOfMonth = "1" } }
      assert.equal('{"schedule":{"dayOfMonth":"1","dayOfWeek":"monday","frequency":"custom","hour":"05",'
                   .. '"minute":"30","month":"1","selectiveMode":"incrementalFields"}}',
                   core.encode(body, version, true, nil, "schedule"))
    end)
  end

  it("requires schedule and its frequency", function()
    one_problem({}, V25, "schedule", "schedule", "required")
    one_problem({ schedule = {} }, V25, "schedule", "schedule.frequency", "required")
    one_problem({ schedule = null }, V24, "schedule", "schedule", "null")
    assert.equal('{"schedule":{"frequency":"manual"}}',
                 core.encode({ schedule = { frequency = "manual" } }, V25, false, nil, "schedule"))
  end)

  it("checks the enums and the schedule parts", function()
    local msg = one_problem({ schedule = { frequency = "dayly" } }, V25, "schedule", "schedule.frequency", "enum")
    assert.matches("did you mean `daily`?", msg, 1, true)
    msg = one_problem({ schedule = { frequency = "daily", selectiveMode = "incremental" } }, V25, "schedule",
                      "schedule.selectiveMode", "enum")
    assert.matches("one of: none, incrementalFields, nonincrementalFields", msg, 1, true)
    msg = one_problem({ schedule = { frequency = "daily", hour = 5 } }, V25, "schedule", "schedule.hour", "type")
    assert.matches("schedule parts are strings", msg, 1, true)
    one_problem({ schedule = { frequency = "weekly", dayOfWeek = 1 } }, V24, "schedule", "schedule.dayOfWeek",
                "type")
  end)

  it("suggests the camelCase name for a snake_case one", function()
    for snake, camel in pairs { day_of_week = "dayOfWeek", day_of_month = "dayOfMonth",
                                selective_mode = "selectiveMode", DAY_OF_WEEK = "dayOfWeek",
                                selective__mode = "selectiveMode" } do
      local msg = one_problem({ schedule = { frequency = "daily", [snake] = "x" } }, V25, "schedule",
                              "schedule." .. snake, "unknown")
      assert.matches("did you mean `" .. camel .. "`?", msg, 1, true)
    end
  end)

  it("does not take the sync schedule's fields or spelling", function()
    local problems = problems_of({ schedule = { frequency = "daily", multi = {}, schemas = { "a" } } }, V25,
                                 "schedule")
    assert.same({ ["schedule.multi"] = "unknown", ["schedule.schemas"] = "unknown" }, paths_codes(problems))
  end)
end)

describe("bodies: the suggesters' measure", function()
  it("counts another spelling of a name (case, '_') nearer than a typo", function()
    assert.equal("dayOfWeek", core.closest("day_of_week", { "day_of_weak", "dayOfWeek" }))
    assert.equal("selectiveMode", core.closest("Selective_Mode", { "selective_node", "selectiveMode" }))
    assert.equal("hour", core.closest("h_o_u_r", { "hour", "month" }))
    assert.is_nil(core.closest("_", { "a" }))
  end)
end)

describe("bodies: core.schema of the schema and schedule bodies", function()
  local function names(s)
    local out = {}
    for i, f in ipairs(s.fields) do
      out[i] = f.name
      assert.equal(f, s.by_name[f.name])
    end
    return out
  end

  for _, version in ipairs(core.API_VERSIONS) do
    it("exports the schema body, a replacement, in " .. version, function()
      local s = core.schema(version, "schema")
      assert.equal("schema", s.kind)
      assert.equal("UpdateBulkSchema", s.title)
      assert.is_true(s.replace)
      assert.same({ "data_cutoff_timestamp", "disable_data_cutoff", "enabled", "fields", "filters",
                    "partition_key", "tracking_field", "user_output_name" }, names(s))
      local f = s.by_name
      assert.is_true(f.fields.strict)
      assert.is_true(f.fields.nullable)
      assert.equal("every field of the schema enabled", f.fields.reset_note)
      assert.equal("UpdateBulkField", f.fields.items.title)
      assert.same({ "enabled", "id", "obfuscated", "user_output_name" }, names(f.fields.items))
      assert.equal("BulkFilter", f.filters.items.title)
      assert.equal(29, #f.filters.items.by_name["function"].enum)
      assert.is_true(f.filters.nullable)
      assert.equal("date-time", f.data_cutoff_timestamp.type)
      assert.is_true(f.data_cutoff_timestamp.nullable)
      for _, field in ipairs(s.fields) do
        assert.is_false(field.required)
        assert.is_string(field.reset_note, field.name)
        if field.name ~= "fields" then assert.is_nil(field.strict) end
      end
      assert.same({}, s.other_version)
      assert.same({}, s.read_only)
    end)

    it("exports the schemas body in " .. version, function()
      local s = core.schema(version, "schemas")
      assert.equal("UpdateBulkSyncSchemasRequest", s.title)
      assert.is_false(s.replace)
      assert.same({ "schemas" }, names(s))
      assert.is_true(s.by_name.schemas.required)
      local item = s.by_name.schemas.items
      assert.equal("BulkSchema", item.title)
      assert.same({ "data_cutoff_timestamp", "disable_data_cutoff", "enabled", "fields", "filters", "id",
                    "output_name", "partition_key", "tracking_field", "user_output_name" }, names(item))
      assert.is_true(item.by_name.id.required)
      assert.is_true(item.by_name.fields.strict)
      assert.is_false(item.by_name.fields.nullable)
      assert.same({ "enabled", "id", "obfuscated", "output_name", "user_output_name" },
                  names(item.by_name.fields.items))
      assert.same({}, s.other_version)
    end)

    it("exports the schedule body in " .. version, function()
      local s = core.schema(version, "schedule")
      assert.equal("CreateScheduleRequest", s.title)
      assert.is_false(s.replace)
      assert.same({ "schedule" }, names(s))
      local sched = s.by_name.schedule
      assert.is_true(sched.required)
      assert.equal("BulkSyncScheduleAPI", sched.title)
      assert.same({ "dayOfMonth", "dayOfWeek", "frequency", "hour", "minute", "month", "selectiveMode" },
                  names(sched))
      assert.is_true(sched.by_name.frequency.required)
      assert.equal(10, #sched.by_name.frequency.enum)
      assert.same({ "none", "incrementalFields", "nonincrementalFields" }, sched.by_name.selectiveMode.enum)
      assert.same({}, s.other_version)
    end)
  end

  it("marks the sync body a replacement and the others not", function()
    assert.is_true(core.schema(V25).replace)
    assert.is_true(core.schema(V24, "sync").replace)
    assert.is_false(core.schema(V25, "start").replace)
    assert.is_false(core.schema(V25, "activate").replace)
    assert.is_true(core.schema(V25).by_name.schemas.items.by_name.fields.strict)
  end)
end)

describe("bodies: core.encode_into with a kind", function()
  local srv, handle
  setup(function()
    srv = raw.start({}, { default = { status = 200, headers = { "Content-Type: application/json" },
                                      body = '{"data":{}}' } })
    handle = core.http { headers = { "Content-Type: application/json" } }
  end)
  teardown(function()
    if handle then handle:close() end
    if srv then srv:stop() end
  end)

  it("sends the bytes core.encode gives for that kind", function()
    local body = { schemas = { "a" }, fetch_mode = "full", test = true }
    local token = assert(core.encode_into(handle, body, V25, false, nil, "start"))
    assert.equal(200, (handle:perform("POST", srv.url .. "/api/bulk/syncs/x/executions", token)))
    local reqs = srv:requests()
    assert.equal(core.encode(body, V25, false, nil, "start"), reqs[#reqs].body)
    assert.equal('{"fetch_mode":"full","schemas":["a"],"test":true}', reqs[#reqs].body)
  end)

  it("sends a schema replacement and a schedule", function()
    local token = assert(core.encode_into(handle, full_schema(), V24, true, nil, "schema"))
    assert.equal(200, (handle:perform("PUT", srv.url .. "/api/bulk/syncs/x/schemas/s", token)))
    local reqs = srv:requests()
    assert.equal(core.encode(full_schema(), V24, true, nil, "schema"), reqs[#reqs].body)
    token = assert(core.encode_into(handle, { schedule = { frequency = "hourly", minute = "5" } }, V25, false,
                                    nil, "schedule"))
    assert.equal(200, (handle:perform("POST", srv.url .. "/api/bulk/syncs/x/schedules", token)))
    reqs = srv:requests()
    assert.equal('{"schedule":{"frequency":"hourly","minute":"5"}}', reqs[#reqs].body)
  end)

  it("returns the problems of that kind's body", function()
    local ok, problems, count = core.encode_into(handle, { test = true, resync_mode = "rebuild" }, V25, false,
                                                 nil, "start")
    assert.is_nil(ok)
    assert.equal(1, count)
    assert.equal("test", problems[1].path)
  end)

  it("refuses a bad kind or version and leaves the handle usable", function()
    assert.has_error(function() core.encode_into(handle, {}, V25, false, nil, "stop") end)
    assert.has_error(function() core.encode_into(handle, {}, "2020-01-01", false, nil, "start") end)
    local token = assert(core.encode_into(handle, { active = false }, V24, false, nil, "activate"))
    assert.equal(200, (handle:perform("POST", srv.url .. "/api/bulk/syncs/x/activate", token)))
    local reqs = srv:requests()
    assert.equal('{"active":false}', reqs[#reqs].body)
  end)
end)
