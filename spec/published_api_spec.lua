-- The client against the API as published, not as we once assumed it: the
-- list is paged, `data` may be null, the schemas listing has no fields, and
-- a 2025-09-18 body cannot carry a `multi` schedule. A routing transport
-- plays the server, so every request is seen and nothing is real.
local bulksync = require "bulksync"
local cjson = require "cjson"

local SYNC = "0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a51"
local SRC = "6b1f7a3e-1111-4c2d-8e9f-0a1b2c3d4e5f"
local DST = "9c2e8b4f-2222-4d3e-9f0a-1b2c3d4e5f60"

local function json(v) return cjson.encode(v) end

-- routes["GET /api/bulk/syncs?..."] = function(req) -> status, body text;
-- an unrouted request is a 404. Every request is recorded.
local function server(routes)
  local srv = { requests = {} }
  srv.transport = {
    request = function(req)
      local path = req.url:gsub("^https?://[^/]+", "")
      srv.requests[#srv.requests + 1] = { method = req.method, path = path, body = req.body }
      local route = routes[req.method .. " " .. path]
      if not route then return { status = 404, headers = {}, body = '{"message":"no route"}' } end
      local status, body = route(req)
      return { status = status, headers = {}, body = body }
    end,
    sleep = function() end,
  }
  srv.client = bulksync.new { api_key = "k", transport = srv.transport, retries = 0 }
  return srv
end

local function methods(srv)
  local out = {}
  for i, r in ipairs(srv.requests) do out[i] = r.method end
  return out
end

local function sync(n)
  return {
    id = string.format("0b4a6ad1-6a2b-4d8e-9a3f-%012d", n), name = "sync " .. n, mode = "snapshot",
    source_connection_id = SRC, destination_connection_id = DST,
    destination_configuration = { schema = "s" },
    default_schedule = { frequency = "daily", hour = "05" },
    automatically_add_new_fields = "none", automatically_add_new_objects = "all",
    normalize_names = "disabled", active = true, disable_record_timestamps = false,
  }
end

describe("client:list follows every page", function()
  -- 120 syncs in pages of 50, chained by opaque tokens.
  local function paged(total, size)
    local routes = {}
    local pages = math.ceil(total / size)
    for p = 1, pages do
      local data = {}
      for i = (p - 1) * size + 1, math.min(p * size, total) do data[#data + 1] = sync(i) end
      local envelope = { data = data }
      if p < pages then envelope.pagination = { next_page_token = "tok/" .. p .. "+x" } end
      local path = "/api/bulk/syncs" .. (p == 1 and "" or ("?page_token=tok%2F" .. (p - 1) .. "%2Bx"))
      routes["GET " .. path] = function() return 200, json(envelope) end
    end
    return routes
  end

  it("returns every sync of every page, in order, and counts the pages", function()
    local srv = server(paged(120, 50))
    local all, meta = srv.client:list()
    assert.equal(120, #all)
    for i = 1, 120 do assert.equal("sync " .. i, all[i].name) end
    assert.equal(3, meta.pages)
    assert.equal(3, #srv.requests)
    -- the token goes back escaped, as an opaque query value
    assert.equal("/api/bulk/syncs?page_token=tok%2F2%2Bx", srv.requests[3].path)
  end)

  it("each_sync fetches a page only when the loop reaches it", function()
    local srv = server(paged(120, 50))
    local seen = 0
    for s in srv.client:each_sync() do
      seen = seen + 1
      assert.equal("sync " .. seen, s.name)
      if seen == 50 then assert.equal(1, #srv.requests) end
      if seen == 51 then assert.equal(2, #srv.requests) end
    end
    assert.equal(120, seen)
    assert.equal(3, #srv.requests)
  end)

  it("passes active and limit on every page", function()
    local srv = server {
      ["GET /api/bulk/syncs?active=false&limit=2"] = function()
        return 200, json { data = { sync(1), sync(2) }, pagination = { next_page_token = "t" } }
      end,
      ["GET /api/bulk/syncs?active=false&limit=2&page_token=t"] = function()
        return 200, json { data = { sync(3) }, pagination = { next_page_token = "" } }
      end,
    }
    local all = srv.client:list { active = false, limit = 2 }
    assert.equal(3, #all)
  end)

  it("stops with a DecodeError when the server repeats a page token", function()
    local srv = server {
      ["GET /api/bulk/syncs"] = function() return 200, json { data = { sync(1) }, pagination = { next_page_token = "a" } } end,
      ["GET /api/bulk/syncs?page_token=a"] = function()
        return 200, json { data = { sync(2) }, pagination = { next_page_token = "a" } }
      end,
    }
    local ok, err = pcall(srv.client.list, srv.client)
    assert.is_false(ok)
    assert.equal("DecodeError", err.kind)
    assert.matches("page token", err.message, 1, true)
    assert.equal(2, #srv.requests)
  end)

  it("reads {\"data\": null} as an empty list", function()
    local srv = server { ["GET /api/bulk/syncs"] = function() return 200, '{"data":null}' end }
    local all = srv.client:list()
    assert.same({}, all)
    assert.equal(bulksync.array_mt, getmetatable(all))
    local n = 0
    for _ in srv.client:each_sync() do n = n + 1 end
    assert.equal(0, n)
  end)

  it("refuses bad options before any request", function()
    local srv = server {}
    for _, opts in ipairs { { active = "yes" }, { limit = 0 }, { limit = 51 }, { limit = 2.5 } } do
      local ok, err = pcall(srv.client.list, srv.client, opts)
      assert.is_false(ok)
      assert.equal("ValidationError", err.kind)
      assert.equal(next(opts), err.errors[1].path)
      ok, err = pcall(srv.client.each_sync, srv.client, opts)
      assert.is_false(ok)
      assert.equal("ValidationError", err.kind)
    end
    assert.equal(0, #srv.requests)
  end)
end)

-- The listing (no fields) and each schema's details.
local LISTING = {
  { id = "public.orders", enabled = true, output_name = "orders", user_output_name = "",
    partition_key = "", tracking_field = "updated_at", data_cutoff_timestamp = cjson.null,
    disable_data_cutoff = false },
  { id = "public/odd name", enabled = false, output_name = "odd", user_output_name = "",
    partition_key = "", tracking_field = "", data_cutoff_timestamp = cjson.null, disable_data_cutoff = false },
}
local DETAILS = {
  ["public.orders"] = { id = "public.orders", enabled = true, output_name = "orders", user_output_name = "",
    partition_key = "", tracking_field = "updated_at", data_cutoff_timestamp = cjson.null,
    disable_data_cutoff = false,
    fields = { { id = "id", enabled = true, obfuscated = false, output_name = "id", user_output_name = "" },
               { id = "email", enabled = true, obfuscated = true, output_name = "email", user_output_name = "" },
               { id = "notes", enabled = false, obfuscated = false, output_name = "notes", user_output_name = "" } },
    filters = { { field_id = "status", ["function"] = "Equality", value = "paid" } } },
  ["public/odd name"] = { id = "public/odd name", enabled = false, output_name = "odd", user_output_name = "",
    partition_key = "", tracking_field = "", data_cutoff_timestamp = cjson.null, disable_data_cutoff = false,
    fields = { { id = "a", enabled = false, obfuscated = false, output_name = "a", user_output_name = "" } },
    filters = {} },
}

local function escaped(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local function sync_routes(current, listing, overrides)
  local base = "/api/bulk/syncs/" .. SYNC
  local routes = {
    ["GET " .. base] = function() return 200, json { data = current } end,
    ["GET " .. base .. "/schemas"] = function() return 200, listing end,
    ["PUT " .. base] = function(req) return 200, '{"data":' .. json(cjson.decode(req.body)) .. '}' end,
  }
  for id, d in pairs(DETAILS) do
    routes["GET " .. base .. "/schemas/" .. escaped(id)] = function() return 200, json { data = d } end
  end
  for k, v in pairs(overrides or {}) do routes[k] = v end
  return routes
end

local function current_sync()
  local s = sync(0)
  s.id = SYNC
  return s
end

describe("client:schemas and client:schema", function()
  it("schema(id, schema_id) escapes the free-form schema id in the path", function()
    local srv = server(sync_routes(current_sync(), json { data = LISTING }))
    local d = srv.client:schema(SYNC, "public/odd name")
    assert.equal("public/odd name", d.id)
    assert.equal("/api/bulk/syncs/" .. SYNC .. "/schemas/public%2Fodd%20name", srv.requests[1].path)
  end)

  it("schemas(id, { details = true }) is the listing's schemas with their fields, in listing order", function()
    local srv = server(sync_routes(current_sync(), json { data = LISTING }))
    local list = srv.client:schemas(SYNC, { details = true })
    assert.equal(2, #list)
    assert.equal("public.orders", list[1].id)
    assert.equal(3, #list[1].fields)
    assert.equal("public/odd name", list[2].id)
    assert.equal(3, #srv.requests)
  end)

  it("refuses a schema id that is not a non-empty string, before any request", function()
    local srv = server {}
    for _, bad in ipairs { "", 42, false } do
      local ok, err = pcall(srv.client.schema, srv.client, SYNC, bad)
      assert.is_false(ok)
      assert.equal("ValidationError", err.kind)
      assert.equal("schema_id", err.errors[1].path)
    end
    assert.equal(0, #srv.requests)
  end)

  it("reads a {\"data\": null} listing as no schemas", function()
    local srv = server(sync_routes(current_sync(), '{"data":null}'))
    assert.same({}, srv.client:schemas(SYNC))
    assert.same({}, srv.client:schemas(SYNC, { details = true }))
  end)
end)

describe("client:patch against the published shapes", function()
  it("sends every schema with its fields and filters, from the details, never the listing", function()
    local srv = server(sync_routes(current_sync(), json { data = LISTING }))
    srv.client:patch(SYNC, { active = false })
    assert.same({ "GET", "GET", "GET", "GET", "PUT" }, methods(srv))
    local sent = cjson.decode(srv.requests[5].body)
    assert.equal(2, #sent.schemas)
    local orders, odd = sent.schemas[1], sent.schemas[2]
    assert.same({ id = "public.orders", enabled = true, partition_key = "", tracking_field = "updated_at",
      data_cutoff_timestamp = cjson.null, disable_data_cutoff = false,
      fields = { { id = "id", enabled = true, obfuscate = false }, { id = "email", enabled = true, obfuscate = true },
                 { id = "notes", enabled = false, obfuscate = false } },
      filters = { { field_id = "status", ["function"] = "Equality", value = "paid" } } }, orders)
    assert.is_false(odd.enabled)
    assert.same({ { id = "a", enabled = false, obfuscate = false } }, odd.fields)
  end)

  it("sends nothing when a schema's details cannot be read", function()
    local srv = server(sync_routes(current_sync(), json { data = LISTING }, {
      ["GET /api/bulk/syncs/" .. SYNC .. "/schemas/public%2Fodd%20name"] = function()
        return 500, '{"message":"boom","status":500}'
      end,
    }))
    local ok, err = pcall(srv.client.patch, srv.client, SYNC, { active = false })
    assert.is_false(ok)
    assert.equal("InternalServerError", err.kind)
    for _, r in ipairs(srv.requests) do assert.not_equal("PUT", r.method) end
  end)

  it("sends nothing when the details lack fields", function()
    local srv = server(sync_routes(current_sync(), json { data = LISTING }, {
      ["GET /api/bulk/syncs/" .. SYNC .. "/schemas/public.orders"] = function()
        return 200, json { data = LISTING[1] }
      end,
    }))
    local ok, err = pcall(srv.client.patch, srv.client, SYNC, { active = false })
    assert.is_false(ok)
    assert.equal("ValidationError", err.kind)
    assert.equal("schemas", err.errors[1].path)
    for _, r in ipairs(srv.requests) do assert.not_equal("PUT", r.method) end
  end)

  it("leaves schemas out for a sync without any (a null listing), never sending []", function()
    local srv = server(sync_routes(current_sync(), '{"data":null}'))
    srv.client:patch(SYNC, { active = false })
    local sent = cjson.decode(srv.requests[#srv.requests].body)
    assert.equal("PUT", srv.requests[#srv.requests].method)
    assert.is_nil(sent.schemas)
  end)

  it("refuses a 2025-09-18 patch of a multi schedule, sending nothing", function()
    local current = current_sync()
    current.default_schedule = { frequency = "multi" }
    local srv = server(sync_routes(current, json { data = LISTING }))
    local ok, err = pcall(srv.client.patch, srv.client, SYNC, { active = false })
    assert.is_false(ok)
    assert.equal("ValidationError", err.kind)
    assert.equal("default_schedule.frequency", err.errors[1].path)
    assert.matches("2024-02-08", err.errors[1].problem, 1, true)
    for _, r in ipairs(srv.requests) do assert.not_equal("PUT", r.method) end
    -- Setting another schedule is the way out.
    srv.client:patch(SYNC, { default_schedule = { frequency = "daily", hour = "06" } })
    assert.equal("PUT", srv.requests[#srv.requests].method)
  end)

  it("update_many patch items read every schema's details too", function()
    local srv = server(sync_routes(current_sync(), json { data = LISTING }))
    local results = srv.client:update_many { { id = SYNC, patch = { active = false } } }
    assert.is_true(results[1].ok, results[1].err and tostring(results[1].err))
    local put = srv.requests[#srv.requests]
    assert.equal("PUT", put.method)
    assert.equal(3, #cjson.decode(put.body).schemas[1].fields)
    assert.equal(5, #srv.requests)
  end)
end)

describe("client:plan against the published shapes", function()
  it("reads the details and finds nothing lost in patch's own body", function()
    local srv = server(sync_routes(current_sync(), json { data = LISTING }))
    local body = bulksync.to_update(srv.client:get(SYNC), { schemas = srv.client:schemas(SYNC, { details = true }) })
    local p = srv.client:plan(SYNC, body)
    assert.equal(0, p.resets, tostring(p))
    for _, e in ipairs(p.changes) do
      if e.field == "schemas" then assert.equal("keep", e.action) end
    end
  end)

  it("to_update refuses the listing, naming schemas and what to pass instead", function()
    local srv = server(sync_routes(current_sync(), json { data = LISTING }))
    local ok, err = pcall(bulksync.to_update, srv.client:get(SYNC), { schemas = srv.client:schemas(SYNC) })
    assert.is_false(ok)
    assert.equal("ValidationError", err.kind)
    assert.equal("schemas", err.errors[1].path)
    assert.matches("details = true", err.errors[1].problem, 1, true)
  end)
end)

describe("against the stand-in, which serves the published shapes", function()
  local standin = require "spec.support.standin"
  local seed = require "standin.seed"
  local srv, client

  setup(function()
    srv = standin.start()
    client = bulksync.new { api_key = seed.api_key, base_url = srv.url }
  end)
  teardown(function()
    if client then client:close() end
    if srv then srv:stop() end
  end)
  before_each(function() srv:reset() end)

  it("list returns every sync of an account with more than one page", function()
    srv:seed_many(120)
    local all, meta = client:list()
    local total = #seed.build().order + 120
    assert.equal(total, #all)
    assert.equal(math.ceil(total / 50), meta.pages)
    local ids = {}
    for _, s in ipairs(all) do
      assert.is_nil(ids[s.id], "a sync came twice")
      ids[s.id] = true
    end
    local n = 0
    for _ in client:each_sync { limit = 7 } do n = n + 1 end
    assert.equal(total, n)
  end)

  it("list works on an account with no syncs ({\"data\": null})", function()
    srv:config { null_empty_lists = true }
    srv:seed_many(0, true)
    assert.same({}, client:list())
  end)

  it("patch keeps every field selection, obfuscation and filter of every schema", function()
    local id = seed.ids.orders
    local before = srv:state(id)
    client:patch(id, { name = "renamed" })
    local after = srv:state(id)
    assert.equal("renamed", after.sync.name)
    assert.same(before.schemas, after.schemas)
  end)
end)

describe("strict = true and schema items without fields", function()
  local function body(schemas)
    local b = current_sync()
    b.id = nil
    b.schemas = schemas
    return b
  end

  it("refuses a bare id, an item without fields and an empty fields list, naming each path", function()
    local srv = server {}
    local ok, err = pcall(srv.client.update, srv.client, SYNC, body {
      "public.orders", { id = "b" }, { id = "c", fields = {} }, { id = "d", fields = { { id = "x" } } },
    }, { strict = true })
    assert.is_false(ok)
    assert.equal("ValidationError", err.kind)
    local paths = {}
    for _, p in ipairs(err.errors) do paths[p.path] = p.problem end
    assert.matches("every field of the schema enabled", paths["schemas[1].fields"], 1, true)
    assert.truthy(paths["schemas[2].fields"])
    assert.truthy(paths["schemas[3].fields"])
    assert.is_nil(paths["schemas[4].fields"])
    assert.equal(0, #srv.requests)
  end)

  it("lets the same items through without strict: the plan shows the reset instead", function()
    local text = bulksync.encode(body { "public.orders" })
    assert.matches('"schemas":["public.orders"]', text, 1, true)
  end)
end)

describe("every problem carries a code", function()
  local core = require "bulksync.core"
  it("from the core and from the Lua checks alike, each one of core.PROBLEM_CODES", function()
    local known = {}
    for _, c in ipairs(core.PROBLEM_CODES) do known[c] = true end
    local errs = {}
    errs[#errs + 1] = select(2, bulksync.validate({ mode = "x", colour = 1 }))
    errs[#errs + 1] = select(2, pcall(bulksync.new, { api_key = "k", timeout = 0, base_url = "ftp://x",
      version = "1999", colur = 1 }))
    local srv = server {}
    errs[#errs + 1] = select(2, pcall(srv.client.get, srv.client, "nope"))
    errs[#errs + 1] = select(2, pcall(srv.client.patch, srv.client, SYNC, { id = SYNC, actve = true }))
    local codes = {}
    for _, e in ipairs(errs) do
      assert.equal("ValidationError", e.kind)
      for _, p in ipairs(e.errors) do
        assert.is_true(known[p.code], tostring(p.path) .. " has code " .. tostring(p.code))
        codes[p.code] = true
      end
    end
    for _, c in ipairs { "required", "unknown", "enum", "range", "format" } do assert.is_true(codes[c], c) end
  end)
end)
