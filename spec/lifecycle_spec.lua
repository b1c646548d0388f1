-- Running a sync from Lua: activate, pause, resume, cancel, delete, start
-- and wait, status, executions. Each call's request (method, path, query,
-- body), its result, its careless inputs (nothing sent) and its errors,
-- against a routing transport that plays the server.
local bulksync = require "bulksync"
local cjson = require "cjson"

local SYNC = "0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a51"
local EXEC = "7c1e2d3f-4a5b-4c6d-8e7f-901a2b3c4d5e"
local BASE = "/api/bulk/syncs/" .. SYNC

-- routes["METHOD /path?query"] = function(req) -> status, body[, headers]
local function server(routes, opts)
  local srv = { requests = {}, sleeps = {} }
  opts = opts or {}
  opts.api_key = "k"
  opts.retry_base = 0
  opts.transport = {
    request = function(req)
      local path = req.url:gsub("^https?://[^/]+", "")
      srv.requests[#srv.requests + 1] = { method = req.method, path = path, body = req.body,
        key = req.headers["Idempotency-Key"] }
      local route = routes[req.method .. " " .. path]
      if not route then return { status = 404, headers = {}, body = '{"message":"no route","status":404}' } end
      local status, body, headers = route(req)
      return { status = status, headers = headers or {}, body = body or "" }
    end,
    sleep = function(s) srv.sleeps[#srv.sleeps + 1] = s end,
  }
  srv.client = bulksync.new(opts)
  return srv
end

local function refused(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected a ValidationError")
  assert.is_true(bulksync.is_error(err), tostring(err))
  assert.equal("ValidationError", err.kind, tostring(err))
  return err
end

local function execution(status, extra)
  local e = { id = EXEC, status = status }
  for k, v in pairs(extra or {}) do e[k] = v end
  return cjson.encode { data = e }
end

describe("activate, pause, resume", function()
  it("post {active} and return the answer's data", function()
    local srv = server { ["POST " .. BASE .. "/activate"] = function(req)
      return 200, '{"data":{"id":"' .. SYNC .. '","active":' .. tostring(cjson.decode(req.body).active) .. '}}'
    end }
    assert.is_false(srv.client:pause(SYNC).active)
    assert.is_true(srv.client:resume(SYNC).active)
    assert.is_false(srv.client:activate(SYNC, false).active)
    assert.same({ active = false }, cjson.decode(srv.requests[1].body))
    assert.same({ active = true }, cjson.decode(srv.requests[2].body))
  end)

  it("refuse a missing or non-boolean active, a bad id or option, sending nothing", function()
    local srv = server {}
    refused(srv.client.activate, srv.client, SYNC, "no")
    refused(srv.client.activate, srv.client, SYNC)
    refused(srv.client.pause, srv.client, "not-a-uuid")
    local err = refused(srv.client.pause, srv.client, SYNC, { retires = 1 })
    assert.matches("did you mean `retries`", err.errors[1].problem, 1, true)
    assert.equal(0, #srv.requests)
  end)
end)

describe("delete, cancel, status, execution, cancel_execution", function()
  it("send each to its path and return its data (true for the empty 200 of delete)", function()
    local srv = server {
      ["DELETE " .. BASE] = function() return 200, "" end,
      ["POST " .. BASE .. "/cancel"] = function() return 200, '{"data":{"message":"canceling"}}' end,
      ["GET " .. BASE .. "/status"] = function() return 200, '{"data":{"current_execution":null}}' end,
      ["GET " .. BASE .. "/executions/" .. EXEC] = function() return 200, execution("running") end,
      ["POST " .. BASE .. "/executions/" .. EXEC .. "/cancel"] = function()
        return 200, '{"data":{"message":"canceled"}}'
      end,
    }
    local c = srv.client
    assert.is_true(c:delete(SYNC))
    assert.equal("canceling", c:cancel(SYNC).message)
    assert.equal(bulksync.null, c:status(SYNC).current_execution)
    assert.equal("running", c:execution(SYNC, EXEC).status)
    assert.equal("canceled", c:cancel_execution(SYNC, EXEC).message)
    local want = { "DELETE", "POST", "GET", "GET", "POST" }
    for i, r in ipairs(srv.requests) do assert.equal(want[i], r.method) end
    assert.is_nil(srv.requests[2].body)
  end)

  it("refuse an execution id that is not a UUID, sending nothing", function()
    local srv = server {}
    local err = refused(srv.client.execution, srv.client, SYNC, "42")
    assert.equal("exec_id", err.errors[1].path)
    refused(srv.client.cancel_execution, srv.client, SYNC, nil)
    assert.equal(0, #srv.requests)
  end)
end)

describe("list_status", function()
  it("repeats sync_id for each id and checks every one", function()
    local other = "0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a52"
    local srv = server { ["GET /api/bulk/syncs/status?sync_id=" .. SYNC .. "&sync_id=" .. other] = function()
      return 200, '{"data":[{"sync_id":"' .. SYNC .. '"},{"sync_id":"' .. other .. '"}]}'
    end }
    assert.equal(2, #srv.client:list_status { sync_id = { SYNC, other } })
    local err = refused(srv.client.list_status, srv.client, { sync_id = { SYNC, "nope" } })
    assert.equal("sync_id", err.errors[1].path)
    refused(srv.client.list_status, srv.client, { all = "yes" })
    assert.equal(1, #srv.requests)
  end)
end)

describe("executions", function()
  local function paged()
    return server {
      ["GET " .. BASE .. "/executions?limit=2"] = function()
        return 200, cjson.encode { data = { { id = "a" }, { id = "b" } }, pagination = { next_page_token = "t2" } }
      end,
      ["GET " .. BASE .. "/executions?limit=2&page_token=t2"] = function()
        return 200, cjson.encode { data = { { id = "c" } } }
      end,
    }
  end

  it("executions returns one page and the token of the next", function()
    local srv = paged()
    local page, meta = srv.client:executions(SYNC, { limit = 2 })
    assert.equal(2, #page)
    assert.equal("t2", meta.next_page_token)
    local last, meta2 = srv.client:executions(SYNC, { limit = 2, page_token = meta.next_page_token })
    assert.equal("c", last[1].id)
    assert.is_nil(meta2.next_page_token)
  end)

  it("each_execution walks every page", function()
    local srv = paged()
    local ids = {}
    for e in srv.client:each_execution(SYNC, { limit = 2 }) do ids[#ids + 1] = e.id end
    assert.same({ "a", "b", "c" }, ids)
  end)

  it("refuses a limit past the API's 100 and an unknown option", function()
    local srv = server {}
    refused(srv.client.executions, srv.client, SYNC, { limit = 101 })
    local err = refused(srv.client.each_execution, srv.client, SYNC, { only_terminl = true })
    assert.matches("did you mean `only_terminal`", err.errors[1].problem, 1, true)
    assert.equal(0, #srv.requests)
  end)
end)

describe("start and wait", function()
  local function running(steps, final)
    local polls = 0
    return server {
      ["POST " .. BASE .. "/executions"] = function() return 200, execution("created") end,
      ["GET " .. BASE .. "/executions/" .. EXEC] = function()
        polls = polls + 1
        if polls >= steps then return 200, execution(final or "completed", { record_count = 42 }) end
        return 200, execution("running")
      end,
    }
  end

  it("start sends the body fields of its options and returns the execution", function()
    local srv = running(1)
    local e = srv.client:start(SYNC, { fetch_mode = "full", test = true })
    assert.equal("created", e.status)
    assert.same({ fetch_mode = "full", test = true }, cjson.decode(srv.requests[1].body))
  end)

  it("start refuses a wrong enum, test with resync_mode, and an unknown option, sending nothing", function()
    local srv = running(1)
    refused(srv.client.start, srv.client, SYNC, { fetch_mode = "everything" })
    refused(srv.client.start, srv.client, SYNC, { test = true, resync_mode = "resync" })
    local err = refused(srv.client.start, srv.client, SYNC, { fecth_mode = "full" })
    assert.matches("did you mean `fetch_mode`", err.errors[1].problem, 1, true)
    refused(srv.client.start, srv.client, SYNC, { wait = "yes" })
    assert.equal(0, #srv.requests)
  end)

  it("start is not repeated after a failure unless it carries an Idempotency-Key", function()
    local calls = 0
    local srv = server { ["POST " .. BASE .. "/executions"] = function()
      calls = calls + 1
      if calls == 1 then return 503, '{"message":"busy"}' end
      return 200, execution("created")
    end }
    local ok, err = pcall(srv.client.start, srv.client, SYNC)
    assert.is_false(ok)
    assert.equal("ServerError", err.kind)
    assert.equal(1, calls)
    assert.equal("created", srv.client:start(SYNC, { idempotency_key = "start-run-0001" }).status)
    assert.equal(2, calls)
  end)

  it("start with wait polls until the execution ends, reporting each poll", function()
    local srv = running(3)
    local seen = {}
    local e = srv.client:start(SYNC, { wait = { interval = 1, on_progress = function(x) seen[#seen + 1] = x.status end } })
    assert.equal("completed", e.status)
    assert.equal(42, e.record_count)
    assert.same({ "running", "running", "completed" }, seen)
    assert.same({ 1, 1.5 }, srv.sleeps)   -- the interval grows gently
  end)

  it("wait ends on failed too, and start(..., { wait = true }) takes the defaults", function()
    local srv = running(2, "failed")
    assert.equal("failed", srv.client:start(SYNC, { wait = true }).status)
    assert.same({ 2 }, srv.sleeps)
  end)

  it("wait raises a WaitTimeoutError carrying the last execution", function()
    local srv = running(100)
    local ok, err = pcall(srv.client.wait, srv.client, SYNC, EXEC, { interval = 2, timeout = 5 })
    assert.is_false(ok)
    assert.equal("WaitTimeoutError", err.kind)
    assert.equal("running", err.execution.status)
    assert.same({ 2, 3 }, srv.sleeps)
  end)

  it("wait honours a Retry-After longer than its interval", function()
    local polls = 0
    local srv = server { ["GET " .. BASE .. "/executions/" .. EXEC] = function()
      polls = polls + 1
      if polls == 2 then return 200, execution("completed") end
      return 200, execution("running"), { ["retry-after"] = "7" }
    end }
    srv.client:wait(SYNC, EXEC, { interval = 1 })
    assert.same({ 7 }, srv.sleeps)
  end)

  it("wait refuses bad options", function()
    local srv = server {}
    refused(srv.client.wait, srv.client, SYNC, EXEC, { timeout = 0 })
    refused(srv.client.wait, srv.client, SYNC, EXEC, { interval = "2" })
    refused(srv.client.wait, srv.client, SYNC, EXEC, { on_progress = 1 })
    assert.equal(0, #srv.requests)
  end)
end)

describe("408", function()
  it("is a RequestTimeoutError, retried", function()
    local calls = 0
    local srv = server { ["GET " .. BASE .. "/status"] = function()
      calls = calls + 1
      if calls == 1 then return 408, '{"message":"slow"}' end
      return 200, '{"data":{}}'
    end, }
    srv.client:status(SYNC)
    assert.equal(2, calls)
    local srv2 = server({ ["GET " .. BASE .. "/status"] = function() return 408, '{"message":"slow"}' end }, { retries = 0 })
    local ok, err = pcall(srv2.client.status, srv2.client, SYNC)
    assert.is_false(ok)
    assert.equal("RequestTimeoutError", err.kind)
    assert.is_true(err.retryable)
  end)
end)

describe("against the stand-in", function()
  local standin = require "spec.support.standin"
  local seed = require "standin.seed"
  local srv, client, sleeps
  setup(function()
    srv = standin.start()
    sleeps = {}
    client = bulksync.new { api_key = seed.api_key, base_url = srv.url,
      sleep = function(s) sleeps[#sleeps + 1] = s end }
  end)
  teardown(function()
    if client then client:close() end
    if srv then srv:stop() end
  end)
  before_each(function() srv:reset(); sleeps = {} end)

  for _, version in ipairs { "2025-09-18", "2024-02-08" } do
    it("starts and waits for an execution through its states (" .. version .. ")", function()
      local c = bulksync.new { api_key = seed.api_key, base_url = srv.url, version = version,
        sleep = function(s) sleeps[#sleeps + 1] = s end }
      local seen = {}
      local e = c:start(seed.ids.orders, { fetch_mode = "full",
        wait = { interval = 0.5, on_progress = function(x) seen[#seen + 1] = x.status end } })
      c:close()
      assert.equal("completed", e.status)
      assert.truthy(e.record_count and e.record_count > 0)
      assert.equal("completed", seen[#seen])
      assert.is_true(#seen >= 2)
      assert.equal(#seen - 1, #sleeps)
    end)
  end

  it("a second start while one runs is a ConflictError; cancel ends it", function()
    local e = client:start(seed.ids.orders)
    local ok, err = pcall(client.start, client, seed.ids.orders)
    assert.is_false(ok)
    assert.equal("ConflictError", err.kind)
    client:cancel_execution(seed.ids.orders, e.id)
    assert.equal("canceled", client:execution(seed.ids.orders, e.id).status)
    local page = client:executions(seed.ids.orders)
    assert.equal(e.id, page[1].id)
  end)

  it("pausing cancels the running execution, and delete removes the sync", function()
    local e = client:start(seed.ids.orders)
    assert.is_false(client:pause(seed.ids.orders).active)
    assert.equal("canceled", client:execution(seed.ids.orders, e.id).status)
    assert.is_true(client:resume(seed.ids.orders).active)
    assert.is_true(client:delete(seed.ids.crm))
    local ok, err = pcall(client.get, client, seed.ids.crm)
    assert.is_false(ok)
    assert.equal("NotFoundError", err.kind)
  end)

  it("a failed execution ends the wait with its status", function()
    srv:config { executions_fail = true }
    local e = client:start(seed.ids.orders, { wait = true })
    assert.equal("failed", e.status)
  end)
end)

describe("update_many with writes of every kind", function()
  local OTHER = "0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a52"
  local function routes()
    local r = {}
    for _, id in ipairs { SYNC, OTHER } do
      local base = "/api/bulk/syncs/" .. id
      r["POST " .. base .. "/activate"] = function(req)
        return 200, '{"data":{"id":"' .. id .. '","active":' .. tostring(cjson.decode(req.body).active) .. '}}'
      end
      r["POST " .. base .. "/executions"] = function() return 200, execution("created") end
      r["POST " .. base .. "/cancel"] = function() return 200, '{"data":{"message":"ok"}}' end
      r["DELETE " .. base] = function() return 200, "" end
    end
    return r
  end

  it("runs each item's own request and reports each result in order", function()
    local srv = server(routes())
    local results = srv.client:update_many {
      { id = SYNC, activate = false },
      { id = OTHER, start = { test = true } },
      { id = SYNC, cancel = true },
      { id = OTHER, delete = true },
    }
    for i, r in ipairs(results) do assert.is_true(r.ok, i .. ": " .. tostring(r.err)) end
    assert.is_false(results[1].data.active)
    assert.equal("created", results[2].data.status)
    assert.is_true(results[4].data)
    local sent = {}
    for _, q in ipairs(srv.requests) do sent[#sent + 1] = q.method .. " " .. q.path:gsub("^/api/bulk/syncs/", "") end
    table.sort(sent)
    local want = { "DELETE " .. OTHER, "POST " .. OTHER .. "/executions", "POST " .. SYNC .. "/activate",
      "POST " .. SYNC .. "/cancel" }
    table.sort(want)
    assert.same(want, sent)
    assert.same({ test = true }, cjson.decode(srv.requests[2].body))
  end)

  it("refuses a bad item up front, sending the others", function()
    local srv = server(routes())
    local results = srv.client:update_many {
      { id = SYNC, activate = "no" },
      { id = SYNC, start = { fetch_mode = "all of it" } },
      { id = SYNC, activate = true, delete = true },
      { id = SYNC, activte = true },
      { id = OTHER, activate = true },
    }
    for i = 1, 4 do
      assert.is_false(results[i].ok)
      assert.equal("ValidationError", results[i].err.kind)
    end
    assert.matches("did you mean", results[4].err.errors[1].problem, 1, true)
    assert.is_true(results[5].ok)
    assert.equal(1, #srv.requests)
  end)
end)

describe("update_many and writes that are unsafe to repeat", function()
  it("sends a start item once after a failure unless it carries an Idempotency-Key", function()
    local calls = 0
    local srv = server { ["POST " .. BASE .. "/executions"] = function()
      calls = calls + 1
      return 503, '{"message":"busy"}'
    end }
    local results = srv.client:update_many { { id = SYNC, start = {} } }
    assert.is_false(results[1].ok)
    assert.equal(1, calls)
    results = srv.client:update_many { { id = SYNC, start = {}, idempotency_key = "start-run-0002" } }
    assert.is_false(results[1].ok)
    assert.equal(1 + 3, calls)   -- the client's two retries
  end)
end)
