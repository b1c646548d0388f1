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
