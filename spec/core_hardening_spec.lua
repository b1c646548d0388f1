-- The C core against hostile input: tables that share subtables, NUL bytes
-- in names and enum values, secrets pasted into fields, servers that answer
-- with conflicting framing; and the small truths the Lua layer builds on
-- (deterministic bytes, a boolean HAVE_INTEGER, HTTP dates, memory released
-- as each parallel response is handed over).

local core = require "bulksync.core"
local bulksync = require "bulksync"
local raw = require "spec.support.rawserver"
local child = require "spec.support.child"

local V25, V24 = "2025-09-18", "2024-02-08"
local UUID1 = "0b2f6a3e-7c1d-4e5f-8a9b-0c1d2e3f4a5b"
local UUID2 = "9f8e7d6c-5b4a-4321-8fed-cba987654321"

local function body_2025()
  return {
    default_schedule = { frequency = "daily", hour = "05", minute = "30" },
    destination_configuration = { schema = "analytics" },
    destination_connection_id = UUID1,
    mode = "replicate",
    name = "orders",
    source_connection_id = UUID2,
  }
end

-- problems as { [path] = { problem, ... } }
local function by_path(problems)
  local t = {}
  for _, p in ipairs(problems or {}) do
    t[p.path] = t[p.path] or {}
    table.insert(t[p.path], p.problem)
  end
  return t
end

describe("core.HAVE_INTEGER", function()
  it("is a boolean that says whether the Lua has an integer subtype", function()
    assert.is_boolean(core.HAVE_INTEGER)
    assert.equal(math.type ~= nil, core.HAVE_INTEGER)
  end)
end)

describe("core.getdate", function()
  -- RFC 9110 section 5.6.7: all three forms name the same instant.
  local EPOCH = 784111777

  it("reads an IMF-fixdate", function()
    assert.equal(EPOCH, core.getdate("Sun, 06 Nov 1994 08:49:37 GMT"))
  end)

  it("reads the obsolete RFC 850 form", function()
    assert.equal(EPOCH, core.getdate("Sunday, 06-Nov-94 08:49:37 GMT"))
  end)

  it("reads the obsolete asctime form", function()
    assert.equal(EPOCH, core.getdate("Sun Nov  6 08:49:37 1994"))
  end)

  it("gives nil for junk, delta-seconds, empty text and embedded NULs", function()
    assert.is_nil(core.getdate("soon"))
    assert.is_nil(core.getdate("120"))
    assert.is_nil(core.getdate(""))
    assert.is_nil(core.getdate("Sun, 06 Nov 1994 08:49:37 GMT\0tail"))
    assert.is_nil(core.getdate(string.rep("x", 4096)))
    assert.has_error(function() core.getdate({}) end)
  end)
end)

describe("NUL bytes in enum values and field names", function()
  -- Each of these once compared as a C string and read past the end of the
  -- literal it matched up to the NUL; scripts/check-memory.sh runs them
  -- under ASan and valgrind.
  it("reports an enum value holding a NUL as a normal problem", function()
    for _, bad in ipairs { "snap\0shot", "snapshot\0", "snapshot\0xxxxxxxxxxxxxxxxxxxxxxxxxxx", "\0" } do
      local b = body_2025()
      b.mode = bad
      local ok, problems = core.validate(b, V25)
      assert.is_nil(ok)
      local p = by_path(problems)
      assert.equal(1, #problems)
      assert.truthy(p.mode and p.mode[1]:find("^must be one of: snapshot, replicate"))
    end
  end)

  it("reports a field name holding a NUL as an unknown field", function()
    for _, key in ipairs { "na\0me", "name\0", "schedule\0xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                           "discover\0zzzzzzzzzzzzzzzzzzzzzzzz" } do
      local b = body_2025()
      b[key] = 1
      local ok, problems = core.validate(b, V25)
      assert.is_nil(ok)
      assert.equal(1, #problems)
      assert.equal(key, problems[1].path)
      assert.truthy(problems[1].problem:find("^unknown field"))
      assert.falsy(problems[1].problem:find("belongs to API version", 1, true))
    end
  end)

  it("still knows a field of the other version by its exact name", function()
    local b = body_2025()
    b.schedule = { frequency = "daily" }
    local _, problems = core.validate(b, V25)
    assert.truthy(problems[1].problem:find("belongs to API version " .. V24, 1, true))
  end)
end)

describe("a secret pasted into a body", function()
  local KEY = "pk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0"

  local function problems_of(b, version)
    local ok, problems = core.validate(b, version or V25)
    assert.is_nil(ok)
    local _, encode_problems = core.encode(b, version or V25)
    return problems, encode_problems
  end

  local function assert_not_quoted(list)
    assert.truthy(#list > 0)
    for _, p in ipairs(list) do
      assert.falsy(p.problem:find(KEY, 1, true), p.problem)
      assert.falsy(p.problem:find(KEY:sub(1, 12), 1, true), p.problem)
    end
  end

  it("is not quoted when it is given as an enum value", function()
    local b = body_2025()
    b.mode = KEY
    local v, e = problems_of(b)
    assert_not_quoted(v)
    assert_not_quoted(e)
    assert.equal("must be one of: snapshot, replicate, got a string of " .. #KEY .. " bytes", v[1].problem)
  end)

  it("is not quoted in a nested field, a UUID or a date-time", function()
    local b = body_2025()
    b.default_schedule.frequency = KEY
    b.destination_connection_id = KEY
    b.data_cutoff_timestamp = KEY
    b.additional_schedules = { { frequency = "daily", resync_mode = KEY, id = KEY } }
    b.schemas = { { id = "s", filters = { { ["function"] = KEY } } } }
    local v, e = problems_of(b)
    assert_not_quoted(v)
    assert_not_quoted(e)
    local p = by_path(v)
    assert.truthy(p["default_schedule.frequency"][1]:find("got a string of " .. #KEY .. " bytes$"))
    assert.truthy(p.destination_connection_id[1]:find("got a string of " .. #KEY .. " bytes$"))
    assert.truthy(p.data_cutoff_timestamp[1]:find("got a string of " .. #KEY .. " bytes (", 1, true))
    assert.truthy(p["additional_schedules[1].id"])
    assert.truthy(p["schemas[1].filters[1].function"])
  end)

  it("is not repeated in the problem when it names a field (the path keeps it)", function()
    local b = body_2025()
    b[KEY] = 1
    b.default_schedule[KEY] = true
    local v24 = { schedule = { frequency = "daily" }, destination_configuration = {},
                  destination_connection_id = UUID1, mode = "replicate", name = "n",
                  source_connection_id = UUID2, [KEY] = 1 }
    for _, list in ipairs { (problems_of(b)), (problems_of(v24, V24)) } do
      assert_not_quoted(list)
      for _, p in ipairs(list) do assert.equal("unknown field", p.problem) end
    end
  end)

  it("still gets a suggestion that quotes the schema, not the input", function()
    local b = body_2025()
    b.mode = "snapshots"
    b.default_schedule.frequency = "Daily"
    local p = by_path((problems_of(b)))
    assert.equal("must be one of: snapshot, replicate, got a string of 9 bytes; did you mean `snapshot`?", p.mode[1])
    assert.truthy(p["default_schedule.frequency"][1]:find("; did you mean `daily`?", 1, true))
  end)

  it("never reaches the ValidationError of bulksync.validate and bulksync.encode", function()
    local b = body_2025()
    b.mode = KEY
    b.default_schedule.frequency = KEY
    local ok, err = bulksync.validate(b)
    assert.is_false(ok)
    assert.equal("ValidationError", err.kind)
    assert.falsy(tostring(err):find(KEY, 1, true))
    assert.falsy(err.message:find(KEY, 1, true))
    local ok2, err2 = pcall(bulksync.encode, b)
    assert.is_false(ok2)
    assert.falsy(tostring(err2):find(KEY, 1, true))
  end)
end)
