-- The shortcuts on the per-update path keep the results they replace:
-- the decoder's cache of short strings, the remembered id check, and
-- handing out a transport's headers table only when it is fresh.
local bulksync = require "bulksync"
local cjson = require "cjson"

local SYNC_ID = "0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a51"

local function body25()
  return {
    name = "orders to warehouse",
    mode = "replicate",
    source_connection_id = "6b1f7a3e-1111-4c2d-8e9f-0a1b2c3d4e5f",
    destination_connection_id = "9c2e8b4f-2222-4d3e-9f0a-1b2c3d4e5f60",
    destination_configuration = { schema = "analytics" },
    default_schedule = { frequency = "daily", hour = "05", minute = "00" },
  }
end

describe("decoding repeated and colliding short strings", function()
  it("gives every string its own text, however often the cache slots are reused", function()
    -- Thousands of distinct short strings share far fewer cache slots.
    local list = {}
    for i = 1, 5000 do
      list[i] = string.format("k%d", i * 7919 % 100003) .. string.rep("x", i % 39)
    end
    local text = cjson.encode(list)
    for _ = 1, 3 do
      local got = bulksync.decode(text)
      assert.are.equal(#list, #got)
      for i = 1, #list do
        if got[i] ~= list[i] then
          error(string.format("item %d: got %q, want %q", i, got[i], list[i]))
        end
      end
    end
  end)

  it("reads the same key text back as the same key in every object", function()
    local text = '[{"id":"a","name":"n1"},{"name":"n2","id":"b"},{"i\\u0064":"c"}]'
    local got = bulksync.decode(text)
    assert.are.same({ { id = "a", name = "n1" }, { id = "b", name = "n2" }, { id = "c" } }, got)
  end)

  it("keeps strings longer than the cached ones exact", function()
    local long = string.rep("y", 41)
    local got = bulksync.decode('["' .. long .. '","' .. long .. 'z"]')
    assert.are.equal(long, got[1])
    assert.are.equal(long .. "z", got[2])
  end)
end)

describe("the per-update id check", function()
  local function client()
    local c = bulksync.new { api_key = "k", transport = function()
      return { status = 200, headers = {}, body = '{"data":{}}' }
    end }
    return c
  end

  it("still refuses a bad id right after a good one", function()
    local c = client()
    c:update(SYNC_ID, body25())
    local ok, err = pcall(c.update, c, "not-a-uuid", body25())
    assert.is_false(ok)
    assert.are.equal("ValidationError", err.kind)
    ok = pcall(c.update, c, nil, body25())
    assert.is_false(ok)
  end)

  it("lower-cases the same id the same way every time", function()
    local urls = {}
    local c = bulksync.new { api_key = "k", transport = function(req)
      urls[#urls + 1] = req.url
      return { status = 200, headers = {}, body = '{"data":{}}' }
    end }
    local upper = SYNC_ID:upper()
    c:update(upper, body25())
    c:update(upper, body25())
    c:update(SYNC_ID, body25())
    assert.are.equal(3, #urls)
    for _, u in ipairs(urls) do
      assert.are.equal(SYNC_ID, u:match("([^/]+)$"))
    end
  end)
end)

describe("response headers in meta", function()
  it("are a copy when a custom transport reuses its headers table", function()
    local shared = { ["x-polytomic-version"] = "2025-09-18", ["x-n"] = "1" }
    local c = bulksync.new { api_key = "k", transport = function()
      return { status = 200, headers = shared, body = '{"data":{}}' }
    end }
    local _, meta = c:update(SYNC_ID, body25())
    assert.are_not.equal(shared, meta.headers)
    shared["x-n"] = "2"
    assert.are.equal("1", meta.headers["x-n"])
  end)
end)
