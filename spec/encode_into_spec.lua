-- A single update's body is encoded straight into the libcurl handle and
-- sent from there: the bytes are those core.encode gives, a retry sends
-- them again, and a reference to a body that was replaced is refused.
local core = require "bulksync.core"
local bulksync = require "bulksync"
local standin = require "spec.support.standin"
local seed = require "standin.seed"

local V25 = "2025-09-18"

describe("core.encode_into", function()
  local srv, handle, body, url
  setup(function()
    srv = standin.start()
    local client = bulksync.new { api_key = seed.api_key, base_url = srv.url }
    local details = client:schemas(seed.ids.orders, { details = true })
    body = bulksync.to_update(client:get(seed.ids.orders), { schemas = details })
    client:close()
    handle = core.http { headers = { "Authorization: Bearer " .. seed.api_key, "Content-Type: application/json",
      "X-Polytomic-Version: " .. V25 } }
    url = srv.url .. "/api/bulk/syncs/" .. seed.ids.orders
  end)
  teardown(function()
    if handle then handle:close() end
    if srv then srv:stop() end
  end)
  before_each(function() srv:reset() end)

  it("sends exactly the bytes core.encode gives, as often as asked", function()
    local token = assert(core.encode_into(handle, body, V25))
    assert.equal(200, (handle:perform("PUT", url, token)))
    assert.equal(200, (handle:perform("PUT", url, token)))
    local reqs = srv:requests()
    assert.equal(2, #reqs)
    assert.equal(core.encode(body, V25), reqs[1].body)
    assert.equal(reqs[1].body, reqs[2].body)
  end)

  it("refuses a token whose body was replaced, or whose encoding failed", function()
    local first = assert(core.encode_into(handle, body, V25))
    local second = assert(core.encode_into(handle, body, V25))
    assert.has_error(function() handle:perform("PUT", url, first) end)
    assert.equal(200, (handle:perform("PUT", url, second)))
    local bad = { name = 42 }
    local ok, problems = core.encode_into(handle, bad, V25)
    assert.is_nil(ok)
    assert.is_table(problems)
    assert.has_error(function() handle:perform("PUT", url, second) end)
    assert.equal(1, #srv:requests())
  end)

  it("is what client:update sends over libcurl, the retry included", function()
    local client = bulksync.new { api_key = seed.api_key, base_url = srv.url, retry_base = 0 }
    srv:script { { status = 503, body = '{"message":"busy","status":503}' } }
    client:update(seed.ids.orders, body)
    client:close()
    local reqs = srv:requests()
    assert.equal(2, #reqs)
    assert.equal(core.encode(body, V25), reqs[1].body)
    assert.equal(reqs[1].body, reqs[2].body)
  end)
end)
