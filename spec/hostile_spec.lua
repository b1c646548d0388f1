-- Careless and hostile use of the public API: odd options, junk arguments,
-- tables that contain themselves. Each case must end in a typed error that
-- names the offending path, with nothing sent; never a raw Lua error from
-- inside the library.

local bulksync = require "bulksync"
local standin = require "spec.support.standin"
local seed = require "standin.seed"

local null = bulksync.null
local ID = seed.ids.orders
local KEY = "test-key"

-- The error f raised, asserting it is one of ours.
local function typed_error(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  assert.is_true(bulksync.is_error(err), "not a typed error: " .. tostring(err))
  return err
end

local function problem_at(err, path)
  for _, p in ipairs(err.errors or {}) do
    if p.path == path then return p.problem end
  end
  error("no problem at " .. path .. " in: " .. tostring(err), 2)
end

-- A transport that answers every request and counts them.
local function counting_client(opts)
  local sent = { n = 0 }
  opts = opts or {}
  opts.api_key = KEY
  opts.transport = function()
    sent.n = sent.n + 1
    return { status = 200, headers = {}, body = '{"data":{"id":"x"}}' }
  end
  return bulksync.new(opts), sent
end

describe("bulksync.new with values the transport cannot take", function()
  -- The Lua checks once let through what core.http then refused with a raw
  -- error (0 means "no limit" to libcurl; 1e300 overflows its milliseconds).
  for _, case in ipairs {
    { "timeout", 0 }, { "timeout", 1e300 }, { "timeout", 0.0001 },
    { "connect_timeout", 0 }, { "connect_timeout", 2 ^ 40 },
    { "max_response_size", 0 }, { "max_response_size", 2 ^ 40 },
  } do
    local name, value = case[1], case[2]
    it("refuses " .. name .. " = " .. tostring(value) .. " with a ValidationError", function()
      local err = typed_error(bulksync.new, { api_key = KEY, [name] = value })
      assert.equal("ValidationError", err.kind)
      assert.truthy(problem_at(err, name))
    end)
  end

  it("still takes the bounds themselves", function()
    local c = bulksync.new { api_key = KEY, timeout = 0.001, connect_timeout = 2000000,
      max_response_size = 1 }
    c:close()
  end)

  it("refuses a base_url with a NUL byte when the client is made, not at the first request", function()
    local err = typed_error(bulksync.new, { api_key = KEY, base_url = "http://127.0.0.1:1\0evil" })
    assert.truthy(problem_at(err, "base_url"):find("control characters", 1, true))
  end)
end)

describe("module functions given options that are not a table", function()
  local body = { name = "n" }
  it("encode and validate refuse them (a string such as \"strict\" was ignored)", function()
    for _, opts in ipairs { 5, "strict", true } do
      assert.equal("ValidationError", typed_error(bulksync.encode, body, opts).kind)
      assert.equal("ValidationError", typed_error(bulksync.validate, body, opts).kind)
    end
  end)

  it("to_update and diff refuse them", function()
    assert.equal("ValidationError", typed_error(bulksync.to_update, {}, 5).kind)
    assert.equal("ValidationError", typed_error(bulksync.diff, {}, {}, 5).kind)
  end)
end)

describe("to_update and diff with junk", function()
  for _, junk in ipairs { 5, "x", null, true } do
    local what = junk == null and "null" or type(junk)
    it("to_update of a " .. what .. " is a ValidationError naming sync", function()
      assert.truthy(problem_at(typed_error(bulksync.to_update, junk), "sync"))
    end)
    it("to_update with schemas = " .. what .. " is a ValidationError naming schemas", function()
      assert.truthy(problem_at(typed_error(bulksync.to_update, { name = "n" }, { schemas = junk }),
        "schemas"))
    end)
    it("diff of a " .. what .. " current or body is a ValidationError", function()
      assert.truthy(problem_at(typed_error(bulksync.diff, junk, {}), "current"))
      assert.truthy(problem_at(typed_error(bulksync.diff, {}, junk), "body"))
    end)
  end

  it("diff of a nil body is refused like update refuses it", function()
    assert.truthy(problem_at(typed_error(bulksync.diff, {}, nil), "body"))
  end)

  it("a table that contains itself is a ValidationError naming the field", function()
    local cyc = {}
    cyc.a = cyc
    local err = typed_error(bulksync.to_update, { name = "n", destination_configuration = cyc })
    assert.truthy(problem_at(err, "destination_configuration"):find("nested deeper", 1, true))
    err = typed_error(bulksync.diff, {}, { destination_configuration = cyc })
    assert.truthy(problem_at(err, "destination_configuration"))
    err = typed_error(bulksync.diff, { destination_configuration = cyc }, {})
    assert.truthy(problem_at(err, "destination_configuration"))
    err = typed_error(bulksync.to_update, { name = "n" },
      { schemas = { { enabled = true, filters = { { value = cyc } } } } })
    assert.truthy(problem_at(err, "schemas"))
  end)
end)

describe("client calls with junk", function()
  local srv
  setup(function() srv = standin.start() end)
  teardown(function() if srv then srv:stop() end end)
  before_each(function() srv:reset() end)

  local function client()
    return bulksync.new { api_key = KEY, base_url = srv.url, retries = 0 }
  end

  it("patch refuses a bad value of a known field before the GET", function()
    local c = client()
    for _, changes in ipairs {
      { active = "yes" }, { name = null }, { concurrency_limit = 0 / 0 },
    } do
      local name = next(changes)
      local err = typed_error(c.patch, c, ID, changes)
      assert.truthy(problem_at(err, name))
    end
    assert.equal(0, #srv:requests())
  end)

  it("patch refuses changes that contain themselves, sending nothing", function()
    local c = client()
    local cyc = {}
    cyc.a = cyc
    local err = typed_error(c.patch, c, ID, { destination_configuration = cyc })
    assert.equal("ValidationError", err.kind)
    assert.equal(0, #srv:requests())
  end)

  it("plan refuses a body that is not a table, sending nothing", function()
    local c = client()
    for _, body in ipairs { 5, null, "x" } do
      assert.truthy(problem_at(typed_error(c.plan, c, ID, body), "body"))
    end
    assert.truthy(problem_at(typed_error(c.plan, c, ID, nil), "body"))
    assert.equal(0, #srv:requests())
  end)

  it("plan of a body that contains itself is a ValidationError", function()
    local c = client()
    local cyc = {}
    cyc.a = cyc
    local err = typed_error(c.plan, c, ID, { destination_configuration = cyc })
    assert.truthy(problem_at(err, "destination_configuration"))
  end)
end)

describe("update_many with items that are not a list", function()
  it("refuses a map of items instead of returning no results", function()
    local c, sent = counting_client()
    local err = typed_error(c.update_many, c, { [ID] = { id = ID, patch = { active = false } } })
    assert.truthy(problem_at(err, "items"))
    assert.equal(0, sent.n)
  end)

  it("refuses a list with an item at a key outside 1..n", function()
    local c, sent = counting_client()
    local items = { { id = ID, patch = { active = false } } }
    items[0] = { id = ID, patch = { active = true } }
    assert.truthy(problem_at(typed_error(c.update_many, c, items), "items"))
    assert.equal(0, sent.n)
  end)

  it("refuses a list with a nil hole on every Lua (# of it differs between them)", function()
    local c, sent = counting_client()
    local good = { id = ID, patch = { active = false } }
    assert.truthy(problem_at(typed_error(c.update_many, c, { good, nil, good }), "items"))
    assert.equal(0, sent.n)
  end)

  it("still takes an empty list, and gives junk items their own errors", function()
    local c = counting_client()
    assert.same({}, c:update_many({}))
    local r = c:update_many({ 5, false, "x" })
    assert.equal(3, #r)
    for i = 1, 3 do assert.equal("ValidationError", r[i].err.kind) end
  end)
end)

describe("NUL bytes in options", function()
  -- C would cut each of these short at the NUL: a header line that is not
  -- what was checked, a CA path that names another file.
  for _, case in ipairs {
    { "api_key", { api_key = "abc\0def" } },
    { "user_agent", { user_agent = "agent\0x" } },
    { "ca_file", { ca_file = "/etc/ssl/ca.pem\0.evil" } },
    { "headers.X-Trace", { headers = { ["X-Trace"] = "a\0b" } } },
    { "headers.(name not shown)", { headers = { ["X-\0Trace"] = "a" } } },
  } do
    it("refuses one in " .. case[1] .. " with a ValidationError", function()
      local opts = case[2]
      opts.api_key = opts.api_key or KEY
      local err = typed_error(bulksync.new, opts)
      assert.equal("ValidationError", err.kind)
      assert.truthy(problem_at(err, case[1]))
    end)
  end
end)

describe("the proxy option", function()
  it("takes a proxy URL or false, and refuses anything else", function()
    bulksync.new({ api_key = KEY, proxy = "http://127.0.0.1:3128" }):close()
    bulksync.new({ api_key = KEY, proxy = "socks5h://proxy.internal:1080" }):close()
    bulksync.new({ api_key = KEY, proxy = false }):close()
    for _, bad in ipairs { true, 3128, "127.0.0.1:3128", "ftp://proxy:21", "http://pro xy:1", "http://p\0:1" } do
      local err = typed_error(bulksync.new, { api_key = KEY, proxy = bad })
      assert.truthy(problem_at(err, "proxy"))
    end
  end)

  it("is refused for a transport that is not libcurl's", function()
    local err = typed_error(bulksync.new, { api_key = KEY, proxy = "http://127.0.0.1:3128",
      transport = function() end })
    assert.matches("libcurl transport only", problem_at(err, "proxy"), 1, true)
  end)
end)

describe("a custom transport that breaks its contract", function()
  for _, case in ipairs {
    { "a status that is a string", { status = "200", headers = {}, body = "{}" }, "status" },
    { "a fractional status", { status = 200.5, headers = {}, body = "{}" }, "status" },
    { "no status", { headers = {}, body = "{}" }, "status" },
    { "headers that are a string", { status = 200, headers = "x: y", body = "{}" }, "headers" },
    { "a body that is a table", { status = 200, headers = {}, body = { data = {} } }, "body" },
    { "a string instead of a response", "HTTP/1.1 200 OK", "string" },
  } do
    it("gives a TransportError naming what was wrong: " .. case[1], function()
      local calls = 0
      local c = bulksync.new { api_key = KEY, retries = 3, transport = function()
        calls = calls + 1
        return case[2]
      end }
      local err = typed_error(c.get, c, ID)
      assert.equal("TransportError", err.kind)
      assert.matches(case[3], err.message, 1, true)
      assert.is_false(err.retryable)
      assert.equal(1, calls, "a broken transport is not retried")
    end)
  end
end)

describe("a body that reuses one table at every level", function()
  -- 41 tables, 2^40 values to walk: bounded, typed, and fast.
  local function shared(levels)
    local t = {}
    for _ = 1, levels do t = { a = t, b = t } end
    return t
  end
  local function body()
    return { name = "x", mode = "snapshot",
      source_connection_id = "6b1f7a3e-1111-4c2d-8e9f-0a1b2c3d4e5f",
      destination_connection_id = "9c2e8b4f-2222-4d3e-9f0a-1b2c3d4e5f60",
      destination_configuration = shared(40), default_schedule = { frequency = "daily" } }
  end

  it("ends validate, encode, update and patch in a ValidationError that says how to raise the limit", function()
    local ok, err = bulksync.validate(body())
    assert.is_false(ok)
    assert.matches("raise with max_values", problem_at(err, "destination_configuration"), 1, true)
    err = typed_error(bulksync.encode, body())
    assert.equal("ValidationError", err.kind)
    local c, sent = counting_client()
    err = typed_error(c.update, c, ID, body())
    assert.matches("body is too large", err.message, 1, true)
    err = typed_error(c.patch, c, ID, { destination_configuration = shared(40) })
    assert.equal("ValidationError", err.kind)
    assert.equal(0, sent.n)
  end)

  it("takes max_values and max_bytes from the call or the client, and checks them", function()
    local small = body()
    small.destination_configuration = shared(8)            -- 2^8 leaves: fine by default
    assert.is_true(bulksync.validate(small))
    local ok, err = bulksync.validate(small, { max_values = 50 })
    assert.is_false(ok)
    assert.matches("more than 50 values", err.message, 1, true)
    err = typed_error(bulksync.encode, small, { max_bytes = 100 })
    assert.matches("max_bytes", err.message, 1, true)
    local c, sent = counting_client { max_values = 50 }
    err = typed_error(c.update, c, ID, small)
    assert.matches("more than 50 values", err.message, 1, true)
    assert.equal(0, sent.n)
    for _, bad in ipairs { 0, -1, 1.5, "many", 2 ^ 60 } do
      err = typed_error(bulksync.validate, small, { max_values = bad })
      assert.truthy(problem_at(err, "max_values"))
      err = typed_error(bulksync.new, { api_key = KEY, max_bytes = bad })
      assert.truthy(problem_at(err, "max_bytes"))
    end
  end)
end)
