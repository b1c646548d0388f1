-- What bulksync.core exports about its own descriptors and limits, so the
-- Lua layer reads them instead of repeating them.
local core = require "bulksync.core"

local function body_2025()
  return {
    default_schedule = { frequency = "daily" },
    destination_configuration = { schema = "S" },
    destination_connection_id = "0b2f6a3e-7c1d-4e5f-8a9b-0c1d2e3f4a5b",
    mode = "replicate",
    name = "n",
    source_connection_id = "0b2f6a3e-7c1d-4e5f-8a9b-0c1d2e3f4a5b",
  }
end

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

describe("core exports", function()
  it("names the default API version, the newest one", function()
    assert.equal("2025-09-18", core.DEFAULT_VERSION)
    assert.equal(core.API_VERSIONS[1], core.DEFAULT_VERSION)
  end)

  it("lists the fields a GET returns that a body never carries", function()
    for _, v in ipairs(core.API_VERSIONS) do
      assert.same({ "id", "created_at", "created_by", "updated_at", "updated_by" }, core.schema(v).read_only)
    end
  end)

  it("gives the schema endpoints' spelling of a field", function()
    local schema = core.schema("2025-09-18")
    local fc = schema.by_name.schemas.items.by_name.fields.items.by_name
    assert.equal("obfuscated", fc.obfuscate.response_name)
    assert.is_nil(fc.enabled.response_name)
  end)

  it("keeps the walk limits and adds the http client's", function()
    local L = core.LIMITS
    assert.equal(500000, L.max_values)
    assert.is_number(L.max_bytes)
    assert.is_table(L.ceiling)
    assert.same({ default = 60, min = 0.001, max = 2000000 }, L.timeout)
    assert.same({ default = 10, min = 0.001, max = 2000000 }, L.connect_timeout)
    assert.same({ default = 16777216, min = 1, max = 4294967295 }, L.max_response_size)
  end)

  it("checks http options against the limits it exports", function()
    local L = core.LIMITS
    assert.has_error(function() core.http { timeout = L.timeout.max * 2 } end)
    assert.has_error(function() core.http { timeout = L.timeout.min / 2 } end)
    assert.has_error(function() core.http { max_response_size = L.max_response_size.max + 1 } end)
    core.http { timeout = L.timeout.max, max_response_size = L.max_response_size.max }:close()
  end)
end)

describe("problem codes", function()
  local codes = set(core.PROBLEM_CODES)

  local function codes_of(body, strict, limits)
    local ok, problems = core.validate(body, "2025-09-18", strict, limits)
    assert.is_nil(ok)
    local by_path = {}
    for _, p in ipairs(problems) do
      assert.truthy(codes[p.code], tostring(p.code) .. " is not in core.PROBLEM_CODES")
      by_path[p.path] = p.code
    end
    return by_path
  end

  it("lists every code once", function()
    local want = { "required", "unknown", "type", "enum", "format", "null", "range", "strict",
      "structure", "limit" }
    assert.same(set(want), codes)
    assert.equal(#want, #core.PROBLEM_CODES)
  end)

  it("gives every problem a code", function()
    local b = body_2025()
    b.name = nil
    b.colour = "red"
    b.active = "yes"
    b.mode = "replicat"
    b.source_connection_id = "not-a-uuid"
    b.destination_connection_id = core.null
    b.concurrency_limit = 2 ^ 80
    b.data_cutoff_timestamp = "2024-13-01T00:00:00Z"
    b.destination_configuration = { x = { 1, nil, 3 } }
    local c = codes_of(b)
    assert.equal("required", c.name)
    assert.equal("unknown", c.colour)
    assert.equal("type", c.active)
    assert.equal("enum", c.mode)
    assert.equal("format", c.source_connection_id)
    assert.equal("null", c.destination_connection_id)
    assert.equal("range", c.concurrency_limit)
    assert.equal("format", c.data_cutoff_timestamp)
    assert.equal("structure", c["destination_configuration.x"])
  end)

  it("codes strict refusals and limits", function()
    local c = codes_of(body_2025(), true)
    assert.equal("strict", c.active)
    local b = body_2025()
    b.policies = {}
    for i = 1, 50 do b.policies[i] = "0b2f6a3e-7c1d-4e5f-8a9b-0c1d2e3f4a5b" end
    local ok, problems = core.validate(b, "2025-09-18", false, { max_values = 20 })
    assert.is_nil(ok)
    assert.equal("limit", problems[1].code)
  end)

  it("codes problems inside free-form values and core.encode_value", function()
    local t = {}
    t.self = t
    local _, problems = core.encode_value({ a = t, b = 0 / 0, c = print })
    local by = {}
    for _, p in ipairs(problems) do by[p.path] = p.code end
    assert.equal("structure", by["a.self"])
    assert.equal("range", by.b)
    assert.equal("type", by.c)
  end)
end)
