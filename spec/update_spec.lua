-- client:update end to end, over libcurl, against the local stand-in.
local bulksync = require "bulksync"
local standin = require "spec.support.standin"
local seed = require "standin.seed"
local cjson = require "cjson"

local ID = seed.ids.orders

local function full_body()
  return {
    name = "Orders to warehouse",
    mode = "replicate",
    active = true,
    source_connection_id = seed.connections.postgres,
    destination_connection_id = seed.connections.snowflake,
    destination_configuration = { schema = "analytics", nested = { 1, 2, 3 }, empty = bulksync.array({}) },
    source_configuration = bulksync.null,
    default_schedule = { frequency = "daily", hour = "05", minute = "30" },
    additional_schedules = bulksync.array({}),
    automatically_add_new_fields = "none",
    automatically_add_new_objects = "all",
    normalize_names = "disabled",
    concurrency_limit = 4,
    resync_concurrency_limit = bulksync.null,
    data_cutoff_timestamp = "2024-01-01T00:00:00Z",
    disable_record_timestamps = false,
    policies = { seed.policies.finance },
  }
end

describe("client:update against the stand-in", function()
  local srv, client

  setup(function()
    srv = standin.start()
    client = bulksync.new { api_key = seed.api_key, base_url = srv.url, transport = "curl", retry_base = 0.01 }
  end)
  teardown(function()
    if client then client:close() end
    if srv then srv:stop() end
  end)
  before_each(function() srv:reset() end)

  it("replaces the sync and returns the response's data", function()
    local data, meta = client:update(ID, full_body())
    assert.equal(ID, data.id)
    assert.equal("Orders to warehouse", data.name)
    assert.equal("05", data.default_schedule.hour)
    assert.equal(200, meta.status)
    assert.equal("2025-09-18", meta.version)
    assert.equal(4, data.concurrency_limit)
    if bulksync.HAVE_INTEGER ~= 0 and math.type then
      assert.equal("integer", math.type(data.concurrency_limit))
    end
    assert.equal(bulksync.null, data.source_configuration)
  end)

  it("puts exactly the body, with every header, on the wire", function()
    local body = full_body()
    client:update(ID, body, { idempotency_key = "wire-check-0001" })
    local reqs = srv:requests()
    assert.equal(1, #reqs)
    local r = reqs[1]
    assert.equal("PUT", r.method)
    assert.equal("/api/bulk/syncs/" .. ID, r.path)
    assert.equal("Bearer " .. seed.api_key, r.headers.authorization)
    assert.equal("2025-09-18", r.headers["x-polytomic-version"])
    assert.equal("application/json", r.headers["content-type"])
    assert.equal("application/json", r.headers.accept)
    assert.equal("lua-bulksync/" .. bulksync._VERSION, r.headers["user-agent"])
    assert.equal("wire-check-0001", r.headers["idempotency-key"])
    -- cjson is the independent oracle for what went out.
    local sent = cjson.decode(r.body)
    assert.same(cjson.decode(bulksync.encode(body)), sent)
    assert.equal("[]", r.body:match('"empty":(%[%])'))
    assert.equal("[]", r.body:match('"additional_schedules":(%[%])'))
    assert.equal(cjson.null, sent.source_configuration)
  end)

  it("keeps one connection alive across many updates", function()
    local c = bulksync.new { api_key = seed.api_key, base_url = srv.url }
    for _ = 1, 10 do c:update(ID, full_body()) end
    c:close()
    assert.equal(10, #srv:requests())
    assert.equal(1, srv:connections())
  end)

  it("sends nothing when the body is invalid", function()
    local body = full_body()
    body.mode = "mirror"
    body.additional_schedules = { { frequency = "daily" }, { frequency = "fortnightly" } }
    local ok, err = pcall(client.update, client, ID, body)
    assert.is_false(ok)
    assert.equal("ValidationError", err.kind)
    local paths = {}
    for _, p in ipairs(err.errors) do paths[p.path] = p.problem end
    assert.truthy(paths.mode)
    assert.truthy(paths["additional_schedules[2].frequency"])
    assert.equal(0, #srv:requests())
  end)

  it("speaks the 2024-02-08 shape when asked", function()
    local c = bulksync.new { api_key = seed.api_key, base_url = srv.url, version = "2024-02-08" }
    local body = full_body()
    body.default_schedule, body.additional_schedules = nil, nil
    body.schedule = { frequency = "hourly", minute = "15" }
    local data, meta = c:update(ID, body)
    c:close()
    assert.equal("2024-02-08", meta.version)
    assert.equal("hourly", data.schedule.frequency)
    assert.is_nil(data.default_schedule)
    assert.equal("2024-02-08", srv:requests()[1].headers["x-polytomic-version"])
  end)

  it("authenticates organization-scoped keys with Basic auth", function()
    local s2 = standin.start { org_id = seed.org_id }
    local c = bulksync.new { api_key = seed.api_key, org_id = seed.org_id, base_url = s2.url }
    local ok, err = pcall(c.get, c, ID)
    local reqs = s2:requests()
    c:close()
    s2:stop()
    assert.is_true(ok, tostring(err))
    assert.truthy(reqs[1].headers.authorization:find("^Basic "))
  end)

  describe("typed errors from real responses", function()
    it("401 for a wrong key on a GET, which declares no 403", function()
      local c = bulksync.new { api_key = "wrong-key", base_url = srv.url }
      local ok, err = pcall(c.get, c, ID)
      assert.is_false(ok)
      assert.equal("UnauthorizedError", err.kind)
      assert.equal(401, err.status)
      assert.truthy(err.message ~= "")
      assert.falsy(tostring(err):find("wrong-key", 1, true))
      c:close()
    end)

    it("404 for an unknown id", function()
      local ok, err = pcall(client.update, client, seed.unknown_id, full_body())
      assert.is_false(ok)
      assert.equal("NotFoundError", err.kind)
      assert.equal(404, err.status)
      assert.equal(1, err.attempts)
    end)

    it("400 with the API's error shape naming the field", function()
      -- Valid for us, refused by the server: an unknown connection id.
      srv:script { { status = 400, body = cjson.encode { key = "validation", message = "mode: invalid",
        metadata = { field = "mode" }, status = 400 } } }
      local ok, err = pcall(client.update, client, ID, full_body())
      assert.is_false(ok)
      assert.equal("BadRequestError", err.kind)
      assert.equal("mode", err.metadata.field)
      assert.equal("validation", err.key)
    end)

    local statuses = {
      { 401, "UnauthorizedError" }, { 409, "ConflictError" }, { 422, "UnprocessableEntityError" },
      { 418, "HTTPError" }, { 501, "ServerError" },
    }
    for _, case in ipairs(statuses) do
      it(case[1] .. " is a " .. case[2], function()
        srv:script { { status = case[1], body = '{"message":"scripted","status":' .. case[1] .. '}' } }
        local ok, err = pcall(client.update, client, ID, full_body())
        assert.is_false(ok)
        assert.equal(case[2], err.kind)
        assert.equal("scripted", err.message)
      end)
    end

    it("503 then 200 succeeds on the second attempt", function()
      srv:script { { status = 503, body = "busy" } }
      local _, meta = client:update(ID, full_body())
      assert.equal(2, meta.attempts)
      local reqs = srv:requests()
      assert.equal(2, #reqs)
      assert.equal(reqs[1].body, reqs[2].body)
    end)

    it("429 and 500 are retried, then reported with the attempts", function()
      srv:script { { status = 429 }, { status = 500, body = '{"message":"down","status":500}' },
        { status = 500, body = '{"message":"down","status":500}' } }
      local ok, err = pcall(client.update, client, ID, full_body())
      assert.is_false(ok)
      assert.equal("InternalServerError", err.kind)
      assert.equal(3, err.attempts)
    end)

    it("an HTML 502 page is kept as text", function()
      srv:script { { status = 502, body = "<html><head><title>502 Bad Gateway</title></head></html>" },
        { status = 502, body = "<html><head><title>502 Bad Gateway</title></head></html>" },
        { status = 502, body = "<html><head><title>502 Bad Gateway</title></head></html>" } }
      local ok, err = pcall(client.get, client, ID)
      assert.is_false(ok)
      assert.equal("ServerError", err.kind)
      assert.equal("502 Bad Gateway", err.message)
      assert.equal("string", type(err.body))
    end)
  end)

  it("connection refused is a TransportError", function()
    local s2 = standin.start()
    local url = s2.url
    s2:stop()
    local c = bulksync.new { api_key = seed.api_key, base_url = url, retries = 1, retry_base = 0.01 }
    local ok, err = pcall(c.get, c, ID)
    c:close()
    assert.is_false(ok)
    assert.equal("TransportError", err.kind)
    assert.equal(2, err.attempts)
    assert.truthy(err.curl_code)
  end)
end)
