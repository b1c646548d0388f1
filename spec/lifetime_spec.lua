-- Client lifetime: several clients in one Lua state, one client shared by
-- coroutines (one call at a time), transports whose calls yield, and
-- close(), __gc and <close> releasing everything exactly once. The memory
-- side (nothing freed twice, nothing leaked on an error path) is what
-- `make check-memory` proves by running this spec under valgrind and ASan.
local bulksync = require "bulksync"
local raw = require "spec.support.rawserver"

local KEY = "sk-LIFETIME-0c1d2e3f"
local ID = "0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a51"
local DATA = '{"data":{"id":"' .. ID .. '","name":"orders"}}'
-- Lua 5.1 and LuaJIT never run __gc on tables; the curl handle still has its own.
local TABLE_GC = _VERSION ~= "Lua 5.1"

local function body(name)
  return {
    name = name or "orders", mode = "replicate",
    source_connection_id = "6b1f7a3e-1111-4c2d-8e9f-0a1b2c3d4e5f",
    destination_connection_id = "9c2e8b4f-2222-4d3e-9f0a-1b2c3d4e5f60",
    destination_configuration = { schema = "analytics" },
    default_schedule = { frequency = "manual" },
  }
end

local OK = { status = 200, reason = "OK", headers = { "Content-Type: application/json" }, body = DATA }

local function start(steps, opts)
  local srv = raw.start(steps, opts)
  finally(function() srv:stop() end)
  return srv
end

-- A transport that counts its closes and answers 200.
local function counting_transport()
  local t = { closes = 0, requests = 0 }
  t.request = function()
    t.requests = t.requests + 1
    return { status = 200, headers = {}, body = DATA }
  end
  t.close = function() t.closes = t.closes + 1 end
  return t
end

local function full_gc()
  collectgarbage("collect")
  collectgarbage("collect")
end

local PID = (function()
  local f = io.open("/proc/self/stat")
  if not f then return nil end
  local pid = f:read("*n")
  f:close()
  return pid
end)()

-- Open file descriptors of this process (nil without /proc).
local function open_fds()
  if not PID then return nil end
  local p = io.popen("ls /proc/" .. PID .. "/fd 2>/dev/null | wc -l")
  local n = tonumber(p:read("*a"))
  p:close()
  return n
end

describe("client lifetime", function()
  describe("several clients in one Lua state", function()
    it("keep their own keys, connections and options", function()
      local srv = start({}, { default = OK })
      local clients = {}
      for i = 1, 4 do
        clients[i] = bulksync.new { api_key = KEY .. "-" .. i, base_url = srv.url, transport = "curl",
          headers = { ["X-Client"] = tostring(i) } }
      end
      for round = 1, 3 do
        for i, c in ipairs(clients) do
          if round == 2 then c:update(ID, body("client " .. i)) else c:get(ID) end
        end
      end
      local reqs = srv:requests()
      assert.equal(12, #reqs)
      for n, r in ipairs(reqs) do
        local i = (n - 1) % 4 + 1
        assert.equal("Bearer " .. KEY .. "-" .. i, r.headers.authorization)
        assert.equal(tostring(i), r.headers["x-client"])
        if n > 4 and n <= 8 then assert.truthy(r.body:find('"client ' .. i .. '"', 1, true)) end
      end
      -- One kept-alive connection per client.
      assert.equal(4, srv:connections())
      clients[2]:close()
      assert.has_error(function() clients[2]:get(ID) end, "bulksync: client is closed")
      for _, i in ipairs { 1, 3, 4 } do assert.equal(ID, (clients[i]:get(ID)).id) end
      for _, c in ipairs(clients) do c:close() end
    end)

    it("fail independently: one client's faults do not touch another", function()
      local good = start({}, { default = OK })
      local bad = start({}, { default = { reset = true } })
      local a = bulksync.new { api_key = KEY, base_url = good.url, transport = "curl" }
      local b = bulksync.new { api_key = KEY, base_url = bad.url, transport = "curl", retries = 0 }
      for _ = 1, 3 do
        assert.equal(ID, (a:get(ID)).id)
        local ok, err = pcall(b.get, b, ID)
        assert.is_false(ok)
        assert.equal("TransportError", err.kind)
      end
      assert.equal(1, good:connections())
      a:close()
      b:close()
    end)
  end)

  describe("one client, several coroutines", function()
    it("serves calls made one at a time from different coroutines over one connection", function()
      local srv = start({}, { default = OK })
      local c = bulksync.new { api_key = KEY, base_url = srv.url, transport = "curl" }
      finally(function() c:close() end)
      local done = {}
      local cos = {}
      for i = 1, 5 do
        cos[i] = coroutine.create(function()
          for step = 1, 3 do
            local data = step == 2 and c:update(ID, body("co " .. i)) or c:get(ID)
            assert.equal(ID, data.id)
            coroutine.yield(step)
          end
          done[i] = true
        end)
      end
      -- Round robin: each resume makes one call, then the coroutine yields.
      for _ = 1, 4 do
        for i = 1, 5 do
          if coroutine.status(cos[i]) == "suspended" then
            local ok, err = coroutine.resume(cos[i])
            assert.is_true(ok, tostring(err))
          end
        end
      end
      for i = 1, 5 do assert.is_true(done[i]) end
      assert.equal(15, #srv:requests())
      assert.equal(1, srv:connections())
    end)

    it("lets a transport and the retry wait yield, as cosockets and ngx.sleep do", function()
      local answers = { { status = 503, headers = { ["retry-after"] = "2" }, body = "" },
        { status = 200, headers = {}, body = DATA } }
      local n = 0
      local c = bulksync.new { api_key = KEY,
        transport = function()
          coroutine.yield("io")
          n = n + 1
          return answers[n]
        end,
        sleep = function(s) coroutine.yield("sleep " .. s) end }
      local co = coroutine.wrap(function()
        local data, meta = c:update(ID, body())
        return "done", data.id, meta.attempts
      end)
      assert.same({ "io" }, { co() })
      assert.same({ "sleep 2" }, { co() })
      assert.same({ "io" }, { co() })
      assert.same({ "done", ID, 2 }, { co() })
      c:close()
    end)

    it("a coroutine abandoned while its call is suspended leaves the client usable", function()
      local gate = true
      local c = bulksync.new { api_key = KEY, transport = function()
        if gate then coroutine.yield() end
        return { status = 200, headers = {}, body = DATA }
      end }
      local co = coroutine.create(function() return c:get(ID) end)
      assert.is_true((coroutine.resume(co)))
      co = nil   -- never resumed again
      full_gc()
      gate = false
      assert.equal(ID, (c:get(ID)).id)
      c:close()
    end)
  end)

  describe("release", function()
    it("close() releases once; later closes and calls do nothing more", function()
      local t = counting_transport()
      local c = bulksync.new { api_key = KEY, transport = t }
      c:get(ID)
      c:close()
      c:close()
      assert.equal(1, t.closes)
      assert.equal("bulksync.client(https://app.polytomic.com, 2025-09-18, closed)", tostring(c))
      c = nil
      full_gc()
      assert.equal(1, t.closes)
    end)

    it("every method of a closed client is a clear error and sends nothing", function()
      local t = counting_transport()
      local c = bulksync.new { api_key = KEY, transport = t }
      c:close()
      local calls = {
        function() return c:update(ID, body()) end,
        function() return c:get(ID) end,
        function() return c:list() end,
        function() return c:schemas(ID) end,
        function() return c:patch(ID, { active = false }) end,
        function() return c:plan(ID, body()) end,
        function() return c:update_many({ { id = ID, body = body() } }) end,
      }
      for i, call in ipairs(calls) do
        local ok, err = pcall(call)
        assert.is_false(ok, "call " .. i)
        assert.truthy(tostring(err):find("bulksync: client is closed", 1, true), tostring(err))
      end
      assert.equal(0, t.requests)
    end)

    it("a forgotten client is closed by the garbage collector, once", function()
      if not TABLE_GC then return pending("this Lua runs no __gc on tables") end
      local t = counting_transport()
      local c = bulksync.new { api_key = KEY, transport = t }
      c:get(ID)
      local weak = setmetatable({ c }, { __mode = "v" })
      c = nil
      full_gc()
      assert.is_nil(weak[1])
      assert.equal(1, t.closes)
      full_gc()
      assert.equal(1, t.closes)
    end)

    it("a forgotten curl client gives back its handle and its connection", function()
      local srv = start({}, { default = OK })
      full_gc()
      local before = open_fds()
      local weak = setmetatable({}, { __mode = "v" })
      for i = 1, 20 do
        local c = bulksync.new { api_key = KEY, base_url = srv.url, transport = "curl" }
        c:get(ID)
        weak[i] = c.transport.handle
      end
      full_gc()
      for i = 1, 20 do assert.is_nil(weak[i], "handle " .. i) end
      if before then assert.truthy(open_fds() <= before + 1, "sockets left open") end
    end)

    it("close() closes the curl handle, and the handle's own finalizer runs after it safely", function()
      local srv = start({}, { default = OK })
      local c = bulksync.new { api_key = KEY, base_url = srv.url, transport = "curl" }
      c:get(ID)
      local handle = c.transport.handle
      c:close()
      assert.equal("bulksync.http (closed)", tostring(handle))
      assert.has_error(function() handle:perform("GET", srv.url) end, "bulksync: client is closed")
      c, handle = nil, nil
      full_gc()   -- both finalizers run on already-released state
    end)

    if _VERSION == "Lua 5.4" then
      it("<close> releases once at the end of the block, also on an error", function()
        local t = counting_transport()
        local chunk = assert(load([[
          local bulksync, t, fail = ...
          local kept
          local ok = pcall(function()
            local c <close> = bulksync.new { api_key = "k", transport = t }
            kept = c
            c:get("0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a51")
            if fail then error("boom") end
          end)
          return kept, ok
        ]]))
        local c, ok = chunk(bulksync, t, false)
        assert.is_true(ok)
        assert.equal(1, t.closes)
        assert.truthy(tostring(c):find("closed", 1, true))
        c:close()
        assert.equal(1, t.closes)
        local t2 = counting_transport()
        local c2, ok2 = chunk(bulksync, t2, true)   -- luacheck: ignore 231
        assert.is_false(ok2)
        assert.equal(1, t2.closes)
        c, c2 = nil, nil
        full_gc()
        assert.equal(1, t.closes)
        assert.equal(1, t2.closes)
      end)

      it("<close> on a curl client closes its handle", function()
        local chunk = assert(load([[
          local bulksync = ...
          local handle
          do
            local c <close> = bulksync.new { api_key = "k", transport = "curl" }
            handle = c.transport.handle
          end
          return handle
        ]]))
        assert.equal("bulksync.http (closed)", tostring(chunk(bulksync)))
      end)
    end
  end)

  describe("error paths", function()
    -- Each failure below is raised after curl, the encoder or the decoder
    -- allocated; under check-memory any leak or double free fails the run.
    -- Here: the Lua heap stays flat over many of them.
    it("many failing calls leave nothing behind", function()
      local srv = start({}, { default = { status = 200, body_size = 3000 } })
      local c = bulksync.new { api_key = KEY, base_url = srv.url, transport = "curl", retries = 0,
        max_response_size = 2000 }
      finally(function() c:close() end)
      local bad_body = body()
      bad_body.destination_configuration = { deep = { { { "\255" } } }, n = 0 / 0 }
      local function round()
        for _ = 1, 25 do
          assert.equal("TransportError", select(2, pcall(c.get, c, ID)).kind)
          assert.equal("ValidationError", select(2, pcall(c.update, c, ID, bad_body)).kind)
          assert.is_false((pcall(bulksync.decode, string.rep("[", 100))))
        end
      end
      round()
      full_gc()
      local base = collectgarbage("count")
      for _ = 1, 4 do round() end
      full_gc()
      assert.truthy(collectgarbage("count") < base + 64, "Lua heap grew by " .. (collectgarbage("count") - base) .. " KiB")
    end)
  end)
end)
