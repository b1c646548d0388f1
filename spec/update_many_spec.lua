-- client:update_many: many updates at once. Over libcurl against the local
-- stand-in (what lands, typed per-item errors, retries in rounds, how many
-- connections carry the work, progress, errors and cleanup), then through a
-- plain transport and through OpenResty-style light threads (a fake ngx
-- with a coroutine scheduler, so it runs under every Lua).
local bulksync = require "bulksync"
local standin = require "spec.support.standin"
local seed = require "standin.seed"
local cjson = require "cjson"

local IDS = { seed.ids.orders, seed.ids.crm }
local unpack = table.unpack or unpack
local function pack(...) return { n = select("#", ...), ... } end

local function full_body(name)
  return {
    name = name or "Orders to warehouse",
    mode = "replicate",
    active = true,
    source_connection_id = seed.connections.postgres,
    destination_connection_id = seed.connections.snowflake,
    destination_configuration = { schema = "analytics" },
    default_schedule = { frequency = "daily", hour = "05", minute = "30" },
    additional_schedules = bulksync.array({}),
    policies = { seed.policies.finance },
  }
end

-- n items with distinct names, so each PUT can be told apart.
local function items(n)
  local list = {}
  for i = 1, n do list[i] = { id = IDS[i % #IDS + 1], body = full_body("sync " .. i) } end
  return list
end

local function distinct_connections(reqs)
  local seen, n = {}, 0
  for _, r in ipairs(reqs) do
    if not seen[r.connection] then seen[r.connection], n = true, n + 1 end
  end
  return n
end

describe("client:update_many over libcurl", function()
  local srv, client

  setup(function()
    srv = standin.start()
    client = bulksync.new { api_key = seed.api_key, base_url = srv.url, retry_base = 0.01 }
  end)
  teardown(function()
    if client then client:close() end
    if srv then srv:stop() end
  end)
  before_each(function() srv:reset() end)

  it("lands every item, with its own body, and returns results in input order", function()
    local list = items(20)
    local results = client:update_many(list, { concurrency = 6 })
    assert.equal(20, #results)
    for i, r in ipairs(results) do
      assert.is_true(r.ok, tostring(r.err))
      assert.equal("sync " .. i, r.data.name)
      assert.equal(list[i].id, r.data.id)
      assert.equal(200, r.meta.status)
      assert.equal(1, r.meta.attempts)
    end
    local reqs = srv:requests()
    assert.equal(20, #reqs)
    local landed = {}
    for _, r in ipairs(reqs) do
      assert.equal("PUT", r.method)
      landed[cjson.decode(r.body).name] = r.path
    end
    for i, item in ipairs(list) do
      assert.equal("/api/bulk/syncs/" .. item.id, landed["sync " .. i])
    end
    -- What went out is exactly what update would send for the same body.
    for _, r in ipairs(reqs) do
      local i = tonumber(cjson.decode(r.body).name:match("%d+"))
      assert.same(cjson.decode(bulksync.encode(list[i].body)), cjson.decode(r.body))
    end
  end)

  it("reports each failure at its index and lets the others finish", function()
    local list = items(6)
    list[2].body.mode = "mirror"                        -- invalid: never sent
    list[4] = { id = seed.unknown_id, body = full_body("sync 4") }
    list[6] = { id = "not-a-uuid", body = full_body("sync 6") }
    srv:script { { status = 503, body = "busy" } }      -- whichever PUT arrives first
    local results = client:update_many(list, { concurrency = 3 })

    assert.is_false(results[2].ok)
    assert.equal("ValidationError", results[2].err.kind)
    assert.equal("mode", results[2].err.errors[1].path)
    assert.is_false(results[6].ok)
    assert.equal("ValidationError", results[6].err.kind)
    assert.is_false(results[4].ok)
    assert.equal("NotFoundError", results[4].err.kind)
    assert.equal(404, results[4].err.status)
    for _, i in ipairs { 1, 3, 5 } do
      assert.is_true(results[i].ok, tostring(results[i].err))
      assert.equal("sync " .. i, results[i].data.name)
    end

    -- The 503 hit one sent item; it alone took a second attempt.
    local reqs = srv:requests()
    local total, twice = 0, 0
    for _, i in ipairs { 1, 3, 4, 5 } do
      local n = results[i].ok and results[i].meta.attempts or results[i].err.attempts
      total = total + n
      if n == 2 then twice = twice + 1 end
    end
    assert.equal(1, twice)
    assert.equal(5, total)
    assert.equal(5, #reqs)
    for _, r in ipairs(reqs) do
      local name = cjson.decode(r.body).name
      assert.is_true(name ~= "sync 2" and name ~= "sync 6")
    end
  end)

  it("resends the same body with the item's Idempotency-Key on a retry", function()
    srv:script { { status = 503, body = "busy" } }
    local results = client:update_many({ { id = IDS[1], body = full_body("keyed"), idempotency_key = "many-key-0001" } })
    assert.is_true(results[1].ok)
    assert.equal(2, results[1].meta.attempts)
    local reqs = srv:requests()
    assert.equal(2, #reqs)
    assert.equal(reqs[1].body, reqs[2].body)
    assert.equal("many-key-0001", reqs[1].headers["idempotency-key"])
    assert.equal("many-key-0001", reqs[2].headers["idempotency-key"])
  end)

  it("gives up on an item after its retries, with the attempts counted", function()
    srv:script { { status = 500 }, { status = 500 }, { status = 500 } }
    local results = client:update_many({ { id = IDS[1], body = full_body() } }, { retries = 2 })
    assert.is_false(results[1].ok)
    assert.equal("InternalServerError", results[1].err.kind)
    assert.equal(3, results[1].err.attempts)
    assert.equal("PUT", results[1].err.method)
  end)

  it("never has more than `concurrency` requests in flight", function()
    srv:config { delay = 0.05 }
    local c = bulksync.new { api_key = seed.api_key, base_url = srv.url }   -- no pooled connections yet
    local results = c:update_many(items(12), { concurrency = 3 })
    c:close()
    for _, r in ipairs(results) do assert.is_true(r.ok) end
    local reqs = srv:requests()
    assert.equal(12, #reqs)
    -- Each request in flight needs a connection of its own (HTTP/1.1).
    assert.equal(3, distinct_connections(reqs))
    assert.equal(3, srv:connections())
  end)

  it("carries 50 updates over at most 5 reused connections", function()
    srv:config { delay = 0.01 }
    local results = client:update_many(items(50), { concurrency = 5 })
    assert.equal(50, #results)
    for _, r in ipairs(results) do assert.is_true(r.ok) end
    assert.equal(50, #srv:requests())
    assert.is_true(srv:connections() <= 5)
    assert.is_true(distinct_connections(srv:requests()) <= 5)
    -- The next call reuses the pool rather than opening new connections.
    srv:reset()
    client:update_many(items(10), { concurrency = 5 })
    assert.equal(0, srv:connections())
  end)

  it("patches items: fetches each sync, then puts back the whole body with the change", function()
    local results = client:update_many({
      { id = seed.ids.orders, patch = { name = "patched orders" } },
      { id = seed.ids.crm, body = full_body("plain crm") },
    }, { concurrency = 4 })
    assert.is_true(results[1].ok, tostring(results[1].err))
    assert.equal("patched orders", results[1].data.name)
    assert.is_true(results[2].ok)
    local puts, gets = {}, 0
    for _, r in ipairs(srv:requests()) do
      if r.method == "PUT" then puts[r.path] = cjson.decode(r.body) else gets = gets + 1 end
    end
    -- the sync, its schemas listing, and each schema's details (N + 2)
    assert.equal(2 + #srv:state(seed.ids.orders).schemas, gets)
    local sent = puts["/api/bulk/syncs/" .. seed.ids.orders]
    assert.equal("patched orders", sent.name)
    -- Everything not changed was kept, not reset.
    assert.equal("none", sent.automatically_add_new_fields)
    assert.equal("disabled", sent.normalize_names)
  end)

  it("reports a patch item whose sync is missing, and sends no PUT for it", function()
    local results = client:update_many({ { id = seed.unknown_id, patch = { name = "x" } } })
    assert.is_false(results[1].ok)
    assert.equal("NotFoundError", results[1].err.kind)
    for _, r in ipairs(srv:requests()) do assert.equal("GET", r.method) end
  end)

  it("calls on_progress once per item, counting up to the total", function()
    local list = items(9)
    list[5].body.mode = "nope"
    local calls = {}
    local results = client:update_many(list, { concurrency = 4,
      on_progress = function(done, total, item, result)
        calls[#calls + 1] = { done = done, total = total, item = item, result = result }
      end })
    assert.equal(9, #calls)
    local items_seen = {}
    for k, c in ipairs(calls) do
      assert.equal(k, c.done)
      assert.equal(9, c.total)
      local i
      for j, it_ in ipairs(list) do if it_ == c.item then i = j end end
      assert.truthy(i)
      assert.is_nil(items_seen[i])
      items_seen[i] = true
      assert.equal(results[i], c.result)
    end
  end)

  it("raises on_progress's error once everything is cleaned up; the client still works", function()
    srv:config { delay = 0.05 }
    local boom = { reason = "stop here" }
    local calls = 0
    local ok, err = pcall(client.update_many, client, items(20), { concurrency = 4,
      on_progress = function() calls = calls + 1; if calls == 2 then error(boom) end end })
    assert.is_false(ok)
    assert.equal(boom, err)
    assert.equal(2, calls)
    -- Nothing new was started after the error.
    assert.is_true(#srv:requests() <= 4 + 2)
    srv:config { delay = 0 }
    local results = client:update_many(items(8), { concurrency = 4 })
    for _, r in ipairs(results) do assert.is_true(r.ok) end
    local data = client:update(IDS[1], full_body("after"))
    assert.equal("after", data.name)
  end)

  it("refuses bad options before sending anything", function()
    for _, bad in ipairs { 0, 1.5, 1001, "8", -1 } do
      local ok, err = pcall(client.update_many, client, items(2), { concurrency = bad })
      assert.is_false(ok)
      assert.equal("ValidationError", err.kind)
      assert.equal("concurrency", err.errors[1].path)
    end
    local ok, err = pcall(client.update_many, client, items(2), { on_progress = "yes" })
    assert.is_false(ok)
    assert.equal("on_progress", err.errors[1].path)
    ok, err = pcall(client.update_many, client, "items")
    assert.is_false(ok)
    assert.equal("ValidationError", err.kind)
    assert.equal(0, #srv:requests())
  end)

  it("returns an empty list for no items", function()
    assert.same({}, client:update_many({}))
    assert.equal(0, #srv:requests())
  end)

  it("reports a refused connection per item as a TransportError", function()
    local s2 = standin.start()
    local url = s2.url
    s2:stop()
    local c = bulksync.new { api_key = seed.api_key, base_url = url, retries = 1, retry_base = 0.01 }
    local results = c:update_many(items(3), { concurrency = 2 })
    c:close()
    for _, r in ipairs(results) do
      assert.is_false(r.ok)
      assert.equal("TransportError", r.err.kind)
      assert.equal(2, r.err.attempts)
      assert.truthy(r.err.curl_code)
    end
  end)

  it("close() inside on_progress lets the call finish, then the client is closed", function()
    local c = bulksync.new { api_key = seed.api_key, base_url = srv.url }
    local results = c:update_many(items(6), { concurrency = 2,
      on_progress = function(done) if done == 1 then c:close() end end })
    for _, r in ipairs(results) do assert.is_true(r.ok) end
    assert.equal(6, #srv:requests())
    assert.has_error(function() c:update_many(items(1)) end, "bulksync: client is closed")
    c:close()   -- again: nothing to do
  end)

  it("frees the multi handle when an unclosed client is collected", function()
    local weak = setmetatable({}, { __mode = "v" })
    do
      local c = bulksync.new { api_key = seed.api_key, base_url = srv.url }
      c:update_many(items(4), { concurrency = 4 })
      weak.handle = c.transport.handle
    end
    collectgarbage()
    collectgarbage()
    assert.is_nil(weak.handle)
  end)
end)

describe("client:update_many through the core handle", function()
  local core = require "bulksync.core"

  it("checks every request before starting any", function()
    local h = core.http { headers = { "X-A: b" } }
    local reqs = { { method = "GET", url = "http://127.0.0.1:1/" }, { method = "GET", url = "http://x/", body = "no" } }
    assert.has_error(function() h:perform_many(reqs, 2) end,
      "bulksync.http: requests[2]: a GET request has no body")
    assert.has_error(function() h:perform_many({ { method = "BREW", url = "http://x/" } }, 1) end,
      "bulksync.http: requests[1]: method must be GET, PUT, POST, DELETE or PATCH")
    assert.has_error(function()
      h:perform_many({ { method = "GET", url = "http://x/", extra_lines = { "Bad\r\nLine: x" } } }, 1)
    end, "bulksync.http: header value contains CR or LF (requests[1].extra_lines[1])")
    assert.has_error(function() h:perform_many({}, 0) end)
    -- An item that is not a table names its position, and only that.
    assert.has_error(function() h:perform_many({ "GET http://x/" }, 1) end,
      "bulksync.http: requests[1]: must be a table")
    h:close()
    assert.has_error(function() h:perform_many({}, 1) end, "bulksync: client is closed")
  end)

  it("refuses to run again from inside its own callback", function()
    local srv = standin.start()
    local h = core.http { headers = { "Authorization: Bearer " .. seed.api_key } }
    local url = srv.url .. "/api/bulk/syncs/" .. seed.ids.orders
    local inner
    local results = h:perform_many({ { method = "GET", url = url }, { method = "GET", url = url } }, 1,
      function() inner = inner or select(2, pcall(h.perform_many, h, { { method = "GET", url = url } }, 1)) end)
    srv:stop()
    h:close()
    assert.equal(200, results[1].status)
    assert.equal(200, results[2].status)
    assert.truthy(tostring(inner):find("busy", 1, true))
  end)
end)

describe("client:update_many without libcurl", function()
  local OK = '{"data":{"id":"x"}}'

  it("runs a function transport one item at a time, retrying in rounds after the longest wait", function()
    local sent, slept, active, most = {}, {}, 0, 0
    local first = {}
    local c = bulksync.new { api_key = "k", base_url = "http://127.0.0.1:9", retries = 1,
      sleep = function(s) slept[#slept + 1] = s end,
      transport = function(req)
        active = active + 1
        most = math.max(most, active)
        sent[#sent + 1] = req.url
        active = active - 1
        local id = req.url:match("[^/]+$")
        if not first[id] then
          first[id] = true
          if id == IDS[1] then return { status = 503, headers = { ["retry-after"] = "2" }, body = "" } end
          if id == IDS[2] then return { status = 429, headers = { ["retry-after"] = "1" }, body = "" } end
        end
        return { status = 200, headers = {}, body = OK }
      end }
    local list = { { id = IDS[1], body = full_body() }, { id = IDS[2], body = full_body() },
      { id = seed.ids.marketing, body = full_body() } }
    local results = c:update_many(list, { concurrency = 8 })
    assert.equal(1, most)
    assert.equal(5, #sent)
    assert.same({ 2 }, slept)   -- one sleep per round: the longest asked for
    assert.equal(2, results[1].meta.attempts)
    assert.equal(2, results[2].meta.attempts)
    assert.equal(1, results[3].meta.attempts)
    for _, r in ipairs(results) do assert.equal("x", r.data.id) end
  end)

  it("reports a non-JSON success per item as a DecodeError", function()
    local c = bulksync.new { api_key = "k", transport = function() return { status = 200, headers = {}, body = "oops" } end }
    local results = c:update_many({ { id = IDS[1], body = full_body() } })
    assert.is_false(results[1].ok)
    assert.equal("DecodeError", results[1].err.kind)
  end)

  describe("with OpenResty light threads", function()
    -- A fake ngx.thread: spawn runs a coroutine until it yields; wait runs
    -- every live thread round-robin until the awaited one is dead.
    local function fake_ngx()
      local live = {}
      local ngx = { thread = {} }
      local function step(th)
        th.result = pack(coroutine.resume(th.co, unpack(th.args or {})))
        th.args = nil
      end
      function ngx.thread.spawn(f, ...)
        local th = { co = coroutine.create(f), args = pack(...) }
        step(th)
        live[#live + 1] = th
        return th
      end
      function ngx.thread.wait(th)
        while coroutine.status(th.co) ~= "dead" do
          for _, t in ipairs(live) do
            if coroutine.status(t.co) == "suspended" then step(t) end
          end
        end
        return unpack(th.result, 1, th.result.n)
      end
      return ngx
    end

    local saved
    before_each(function() saved = rawget(_G, "ngx"); rawset(_G, "ngx", fake_ngx()) end)
    after_each(function() rawset(_G, "ngx", saved) end)

    -- A transport whose request yields once, like a cosocket, run many at
    -- once by the OpenResty transport's light threads.
    local function threaded_client(fail_id)
      local stats = { active = 0, most = 0, sent = 0 }
      local function request(req)
        stats.active = stats.active + 1
        stats.most = math.max(stats.most, stats.active)
        stats.sent = stats.sent + 1
        coroutine.yield()
        stats.active = stats.active - 1
        if fail_id and req.url:find(fail_id, 1, true) then
          return { status = 404, headers = {}, body = '{"message":"gone","status":404}' }
        end
        return { status = 200, headers = {}, body = '{"data":{"id":"' .. req.url:match("[^/]+$") .. '"}}' }
      end
      local c = bulksync.new { api_key = "k", retry_base = 0, transport = { name = "ngx",
        request = request, request_many = require("bulksync.ngx").threaded(request) } }
      return c, stats
    end

    it("keeps at most `concurrency` requests in flight and returns results in order", function()
      local c, stats = threaded_client(seed.ids.crm)
      local list = {}
      for i = 1, 10 do list[i] = { id = i == 7 and seed.ids.crm or IDS[1], body = full_body() } end
      local results = c:update_many(list, { concurrency = 3 })
      assert.equal(3, stats.most)
      assert.equal(10, stats.sent)
      for i, r in ipairs(results) do
        if i == 7 then
          assert.equal("NotFoundError", r.err.kind)
        else
          assert.is_true(r.ok)
          assert.equal(IDS[1], r.data.id)
        end
      end
    end)

    it("stops taking items when on_progress raises, and raises it", function()
      local c, stats = threaded_client()
      local ok, err = pcall(c.update_many, c, items(10), { concurrency = 2,
        on_progress = function(done) if done == 3 then error("enough") end end })
      assert.is_false(ok)
      assert.truthy(tostring(err):find("enough", 1, true))
      assert.is_true(stats.sent < 10)
    end)
  end)
end)
