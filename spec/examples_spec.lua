-- The examples run as a user would run them, against the stand-in: they
-- work, they say what happened, and their output never holds the key.
local standin = require "spec.support.standin"
local seed = require "standin.seed"
local cjson = require "cjson"

-- The interpreter running this spec, so each Lua of the matrix runs the
-- examples with the module built for it.
local LUA = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function run(srv, script, args, key)
  local tmp = os.tmpname()
  local cmd = string.format(
    "cd %s && LUA_PATH='./?.lua;./?/init.lua;;' LUA_CPATH='./?.so;;' POLYTOMIC_API_KEY=%s BULKSYNC_BASE_URL=%s %s %s %s >%s 2>&1",
    q("."), q(key or seed.api_key), q(srv.url), LUA, q(script), args or "", q(tmp))
  local ok = os.execute(cmd)
  local f = io.open(tmp, "rb")
  local out = f:read("*a")
  f:close()
  os.remove(tmp)
  return (ok == true or ok == 0), out
end

local function write_temp(text)
  local path = os.tmpname()
  local f = io.open(path, "wb")
  f:write(text)
  f:close()
  return path
end

describe("examples", function()
  local srv
  setup(function() srv = standin.start() end)
  teardown(function() if srv then srv:stop() end end)
  before_each(function() srv:reset() end)

  local function complete_body()
    local state = srv:state(seed.ids.orders).sync
    return cjson.encode {
      name = "From a file", mode = state.mode,
      source_connection_id = state.source_connection_id,
      destination_connection_id = state.destination_connection_id,
      destination_configuration = { schema = "from_file" },
      default_schedule = { frequency = "daily", hour = "04", minute = "00" },
    }
  end

  it("update_from_file.lua updates the sync from a JSON file", function()
    local path = write_temp(complete_body())
    local ok, out = run(srv, "examples/update_from_file.lua", seed.ids.orders .. " " .. q(path))
    os.remove(path)
    assert.is_true(ok, out)
    assert.truthy(out:find("updated " .. seed.ids.orders, 1, true), out)
    assert.equal("From a file", srv:state(seed.ids.orders).sync.name)
  end)

  it("update_from_file.lua --strict refuses a file that omits fields, sending nothing", function()
    local path = write_temp(complete_body())
    local ok, out = run(srv, "examples/update_from_file.lua", seed.ids.orders .. " " .. q(path) .. " --strict")
    os.remove(path)
    assert.is_false(ok)
    assert.truthy(out:find("ValidationError", 1, true), out)
    assert.truthy(out:find("normalize_names", 1, true), out)
    assert.equal(0, #srv:requests())
  end)

  it("plan.lua shows the resets and sends no PUT", function()
    local path = write_temp(complete_body())
    local ok, out = run(srv, "examples/plan.lua", seed.ids.orders .. " " .. q(path))
    os.remove(path)
    assert.is_true(ok, out)
    assert.truthy(out:find("RESET", 1, true), out)
    assert.truthy(out:find("automatically_add_new_fields", 1, true), out)
    for _, r in ipairs(srv:requests()) do assert.equal("GET", r.method) end
  end)

  it("patch.lua changes one field and keeps the rest", function()
    local before = srv:state(seed.ids.orders)
    local ok, out = run(srv, "examples/patch.lua", seed.ids.orders .. " active=false")
    assert.is_true(ok, out)
    local after = srv:state(seed.ids.orders)
    assert.is_false(after.sync.active)
    assert.equal(before.sync.normalize_names, after.sync.normalize_names)
    assert.equal(before.sync.automatically_add_new_fields, after.sync.automatically_add_new_fields)
  end)

  it("demo.lua tells the story", function()
    local ok, out = run(srv, "examples/demo.lua")
    assert.is_true(ok, out)
    assert.truthy(out:find("RESET", 1, true), out)
    assert.truthy(out:find("<- changed", 1, true), out)
    assert.truthy(out:find("completed, %d+ records"), out)
    -- The organization id identifies the caller: no example prints it.
    assert.falsy(out:find(seed.org_id, 1, true), out)
  end)

  it("never print the key, even when it is rejected", function()
    local key = "sk_example_UNIQUE-7731"
    local path = write_temp(complete_body())
    for _, case in ipairs {
      { "examples/update_from_file.lua", seed.ids.orders .. " " .. q(path) },
      { "examples/plan.lua", seed.ids.orders .. " " .. q(path) },
      { "examples/patch.lua", seed.ids.orders .. " active=false" },
      { "examples/demo.lua", "" },
    } do
      local ok, out = run(srv, case[1], case[2], key)
      assert.is_false(ok, case[1])
      assert.truthy(out:find("UnauthorizedError", 1, true), out)
      assert.falsy(out:find(key, 1, true), out)
    end
    os.remove(path)
  end)
end)
