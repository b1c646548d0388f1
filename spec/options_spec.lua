-- Every options table is checked on every call: a misspelt option is a
-- ValidationError naming it and the closest known name, and nothing is sent.
-- (`{ stric = true }` used to send the very PUT `strict` was meant to stop.)
local bulksync = require "bulksync"

local SYNC = "0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a51"

local function counting_client()
  local sent = { n = 0 }
  local c = bulksync.new { api_key = "k", transport = function()
    sent.n = sent.n + 1
    return { status = 200, headers = {}, body = '{"data":[]}' }
  end }
  return c, sent
end

local function refused(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected a ValidationError")
  assert.is_true(bulksync.is_error(err), tostring(err))
  assert.equal("ValidationError", err.kind)
  return err
end

local BODY = {
  name = "x", mode = "snapshot",
  source_connection_id = "6b1f7a3e-1111-4c2d-8e9f-0a1b2c3d4e5f",
  destination_connection_id = "9c2e8b4f-2222-4d3e-9f0a-1b2c3d4e5f60",
  destination_configuration = {}, default_schedule = { frequency = "daily" },
}

describe("options of every call", function()
  it("update refuses `stric` and `paln` with the right name, sending nothing", function()
    local c, sent = counting_client()
    local err = refused(c.update, c, SYNC, BODY, { stric = true })
    assert.equal("stric", err.errors[1].path)
    assert.matches("did you mean `strict`?", err.errors[1].problem, 1, true)
    err = refused(c.update, c, SYNC, BODY, { paln = true })
    assert.matches("did you mean `plan`?", err.errors[1].problem, 1, true)
    assert.equal(0, sent.n)
  end)

  -- One misspelling per function, with the name it should suggest.
  local cases = {
    { "get", function(c, o) return c:get(SYNC, o) end, { refresh_schema = true }, "refresh_schemas" },
    { "list", function(c, o) return c:list(o) end, { actve = true }, "active" },
    { "each_sync", function(c, o) return c:each_sync(o) end, { limt = 5 }, "limit" },
    { "schemas", function(c, o) return c:schemas(SYNC, o) end, { detail = true }, "details" },
    { "schema", function(c, o) return c:schema(SYNC, "public.orders", o) end, { retires = 1 }, "retries" },
    { "patch", function(c, o) return c:patch(SYNC, { active = false }, o) end, { keep_organisation = true },
      "keep_organization" },
    { "plan", function(c, o) return c:plan(SYNC, BODY, o) end, { verison = "2025-09-18" }, "version" },
    { "update_many", function(c, o) return c:update_many({}, o) end, { concurency = 2 }, "concurrency" },
    { "validate", function(_, o) return bulksync.validate(BODY, o) end, { strcit = true }, "strict" },
    { "encode", function(_, o) return bulksync.encode(BODY, o) end, { versoin = "2024-02-08" }, "version" },
    { "to_update", function(_, o) return bulksync.to_update({ data = {} }, o) end, { schema = {} }, "schemas" },
    { "diff", function(_, o) return bulksync.diff({}, {}, o) end, { schemes = {} }, "schemas" },
  }
  for _, case in ipairs(cases) do
    local name, call, opts, want = case[1], case[2], case[3], case[4]
    it(name .. " refuses an unknown option and suggests `" .. want .. "`", function()
      local c, sent = counting_client()
      local err = refused(call, c, opts)
      assert.equal(next(opts), err.errors[1].path)
      assert.matches("unknown option; did you mean `" .. want .. "`?", err.errors[1].problem, 1, true)
      assert.equal(0, sent.n)
    end)
  end

  it("update_many refuses an item with an unknown name and sends the others", function()
    local c, sent = counting_client()
    local results = c:update_many {
      { id = SYNC, bdoy = BODY },
      { id = SYNC, body = BODY },
    }
    assert.is_false(results[1].ok)
    assert.equal("ValidationError", results[1].err.kind)
    assert.equal("bdoy", results[1].err.errors[1].path)
    assert.matches("did you mean `body`?", results[1].err.errors[1].problem, 1, true)
    assert.equal(1, sent.n)
  end)

  it("names with no close match list the known ones, and odd keys are not quoted", function()
    local c = counting_client()
    local err = refused(c.get, c, SYNC, { zzzzzzzzzz = 1 })
    assert.matches("known: refresh_schemas, retries", err.errors[1].problem, 1, true)
    err = refused(c.get, c, SYNC, { ["sk_live/abc def"] = 1 })
    assert.equal("(name not shown)", err.errors[1].path)
    err = refused(c.get, c, SYNC, { [1] = true })
    assert.equal("(name not shown)", err.errors[1].path)
  end)
end)
