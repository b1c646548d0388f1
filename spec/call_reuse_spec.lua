-- A single call reuses what it can from the one before it: the URL of the
-- same row and id, and (with libcurl, which keeps nothing of a request)
-- the request table itself. Neither may leak into another call.
local bulksync = require "bulksync"
local raw = require "spec.support.rawserver"

local ID1 = "0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a51"
local ID2 = "7c9e2f10-3b4d-4e5f-8a6b-9c0d1e2f3a4b"
local OK = { status = 200, headers = { "Content-Type: application/json" }, body = '{"data":{"id":"x"}}' }

local function body()
  return {
    name = "orders", mode = "replicate",
    source_connection_id = "6b1f7a3e-1111-4c2d-8e9f-0a1b2c3d4e5f",
    destination_connection_id = "9c2e8b4f-2222-4d3e-9f0a-1b2c3d4e5f60",
    destination_configuration = { schema = "analytics" },
    default_schedule = { frequency = "daily", hour = "05", minute = "00" },
  }
end

describe("the URL kept from the previous call", function()
  it("is used only for the same row and the same id", function()
    local seen = {}
    local c = bulksync.new { api_key = "k", transport = function(req)
      seen[#seen + 1] = req.method .. " " .. req.url
      return { status = 200, headers = {}, body = '{"data":{}}' }
    end }
    c:update(ID1, body())
    c:update(ID1, body())
    c:status(ID1)
    c:update(ID2, body())
    c:get(ID1, { refresh_schemas = true })
    c:get(ID1)
    local base = "https://app.polytomic.com/api/bulk/syncs/"
    assert.are.same({
      "PUT " .. base .. ID1, "PUT " .. base .. ID1, "GET " .. base .. ID1 .. "/status",
      "PUT " .. base .. ID2, "GET " .. base .. ID1 .. "?refresh_schemas=true", "GET " .. base .. ID1,
    }, seen)
  end)

  it("belongs to its client", function()
    local urls = {}
    local function transport(req)
      urls[#urls + 1] = req.url
      return { status = 200, headers = {}, body = '{"data":{}}' }
    end
    local a = bulksync.new { api_key = "k", base_url = "https://a.example", transport = transport }
    local b = bulksync.new { api_key = "k", base_url = "https://b.example", transport = transport }
    a:update(ID1, body())
    b:update(ID1, body())
    assert.are.same({ "https://a.example/api/bulk/syncs/" .. ID1, "https://b.example/api/bulk/syncs/" .. ID1 },
      urls)
  end)
end)

describe("the request table libcurl lends back", function()
  local srv
  after_each(function() if srv then srv:stop() end end)

  it("is not shared with a call made while the first waits to retry", function()
    srv = raw.start({
      OK,   -- a first call, after which the client has a table to lend
      { status = 503, headers = { "Retry-After: 0" }, body = "busy" },
      OK,   -- the call made from inside the wait
      OK,   -- the retry of the first
    })
    local c
    local inner
    c = bulksync.new { api_key = "k", base_url = srv.url, retries = 1, sleep = function()
      if not inner then inner = c:status(ID2) end
    end }
    c:get(ID2)
    local data = c:update(ID1, body(), { idempotency_key = "key-12345678" })
    c:close()
    assert.are.equal("x", data.id)
    assert.are.equal("x", inner.id)
    local reqs = srv:requests()
    table.remove(reqs, 1)
    assert.are.equal(3, #reqs)
    assert.are.equal("PUT", reqs[1].method)
    assert.are.equal("GET", reqs[2].method)
    assert.are.equal("/api/bulk/syncs/" .. ID2 .. "/status", reqs[2].target)
    assert.are.equal(nil, reqs[2].headers["idempotency-key"])
    -- The retry is the first request again, byte for byte.
    assert.are.equal("PUT", reqs[3].method)
    assert.are.equal("/api/bulk/syncs/" .. ID1, reqs[3].target)
    assert.are.equal("key-12345678", reqs[3].headers["idempotency-key"])
    assert.are.equal(reqs[1].body, reqs[3].body)
  end)

  it("drops the Idempotency-Key of the call before", function()
    srv = raw.start({ OK, OK })
    local c = bulksync.new { api_key = "k", base_url = srv.url }
    c:update(ID1, body(), { idempotency_key = "key-12345678" })
    c:update(ID1, body())
    c:close()
    local reqs = srv:requests()
    assert.are.equal("key-12345678", reqs[1].headers["idempotency-key"])
    assert.are.equal(nil, reqs[2].headers["idempotency-key"])
  end)
end)
