-- The stand-in server is the oracle other specs trust, so its behaviour is
-- proven here with raw HTTP over luasocket (never through bulksync itself).
-- Bodies are built and read with the stand-in's JSON codec, which keeps `[]`
-- apart from `{}`, null apart from absent, and integers apart from floats.
local standin = require "spec.support.standin"
local seed = require "standin.seed"
local json = require "standin.json"
local socket = require "socket"

local KEY = "test-key"
local V25, V24 = "2025-09-18", "2024-02-08"
local ORDERS, CRM, MARKETING = seed.ids.orders, seed.ids.crm, seed.ids.marketing
local null = json.null

local function sync_path(id) return "/api/bulk/syncs/" .. id end

describe("stand-in server", function()
  local srv

  setup(function() srv = standin.start() end)
  teardown(function() if srv then srv:stop() end end)
  before_each(function() srv:reset() end)

  -- One request on its own connection. opts: version, auth (false = none),
  -- body (a table is JSON-encoded), headers.
  local function call(method, path, opts)
    opts = opts or {}
    local h = { Connection = "close" }
    if opts.auth ~= false then h.Authorization = opts.auth or ("Bearer " .. KEY) end
    if opts.version then h["X-Polytomic-Version"] = opts.version end
    local body = opts.body
    if type(body) == "table" then body = json.encode(body) end
    if body then h["Content-Type"] = "application/json" end
    for k, v in pairs(opts.headers or {}) do h[k] = v end
    local c = assert(standin.connect(srv))
    local res = assert(c:request(method, path, h, body))
    c:close()
    if (res.headers["content-type"] or ""):find("json", 1, true) then
      res.json = assert(json.decode(res.body))
    end
    return res
  end

  local function get(id, version)
    local res = call("GET", sync_path(id), { version = version })
    assert.equal(200, res.status)
    return res.json.data
  end

  local function put(id, body, version)
    return call("PUT", sync_path(id), { version = version, body = body })
  end

  -- The smallest valid 2025-09-18 body.
  local function minimal25()
    return {
      name = "renamed",
      mode = "replicate",
      source_connection_id = seed.connections.postgres,
      destination_connection_id = seed.connections.snowflake,
      destination_configuration = { schema = "OTHER" },
      default_schedule = { frequency = "daily", hour = "6", minute = "0" },
    }
  end

  local function minimal24()
    local b = minimal25()
    b.default_schedule = nil
    b.schedule = { frequency = "hourly", minute = "10" }
    return b
  end

  local function by_id(list)
    local t = {}
    for _, x in ipairs(list) do t[x.id] = x end
    return t
  end

  describe("authentication", function()
    it("answers 401 without credentials, as ApiError in 2025-09-18", function()
      local res = call("GET", sync_path(ORDERS), { auth = false, version = V25 })
      assert.equal(401, res.status)
      assert.equal(401, res.json.status)
      assert.is_string(res.json.key)
      assert.is_string(res.json.message)
      assert.is_true(json.is_object(res.json.metadata))
      assert.is_nil(res.json.error)
    end)

    it("answers 401 as RestErrResponse in 2024-02-08", function()
      local res = call("GET", sync_path(ORDERS), { auth = false, version = V24 })
      assert.equal(401, res.status)
      assert.equal(401, res.json.code)
      assert.equal("Unauthorized", res.json.status)
      assert.is_string(res.json.error)
      assert.is_true(json.is_object(res.json.context))
      assert.is_nil(res.json.key)
    end)

    -- The GET endpoints declare no 403: a wrong key is a 401 on every endpoint.
    it("answers 401 for a wrong key on every endpoint in both versions, without echoing it", function()
      for _, v in ipairs { V25, V24 } do
        for _, p in ipairs { "/api/bulk/syncs", sync_path(ORDERS), sync_path(ORDERS) .. "/schemas",
          sync_path(ORDERS) .. "/schemas/public.orders" } do
          local res = call("GET", p, { auth = "Bearer wrong-secret-123", version = v })
          assert.equal(401, res.status, p)
          if v == V24 then
            assert.equal(401, res.json.code)
            assert.equal("Unauthorized", res.json.status)
          else
            assert.equal(401, res.json.status)
            assert.is_string(res.json.key)
          end
          assert.is_nil(res.body:find("wrong-secret-123", 1, true))
          assert.is_nil(res.body:find(KEY, 1, true))
        end
        local res = call("PUT", sync_path(ORDERS), { auth = "Bearer wrong-secret-123", version = v, body = minimal25() })
        assert.equal(401, res.status)
      end
    end)

    it("accepts Basic base64(org_id:key); another organization gets 401, or 403 on PUT", function()
      local mime = require "mime"
      local ok = call("GET", sync_path(ORDERS), { auth = "Basic " .. mime.b64(seed.org_id .. ":" .. KEY) })
      assert.equal(200, ok.status)
      local other = "Basic " .. mime.b64("3f9c2e4a-0000-4000-8000-0000000000ff:" .. KEY)
      assert.equal(401, call("GET", sync_path(ORDERS), { auth = other }).status)
      assert.equal(401, call("GET", "/api/bulk/syncs", { auth = other }).status)
      local bad = call("PUT", sync_path(ORDERS), { auth = other, body = minimal25() })
      assert.equal(403, bad.status)
      assert.equal(403, bad.json.status)
      assert.equal("Orders warehouse replica", srv:state(ORDERS).sync.name)
      local wrong_key = "Basic " .. mime.b64(seed.org_id .. ":nope")
      assert.equal(401, call("PUT", sync_path(ORDERS), { auth = wrong_key, body = minimal25() }).status)
    end)

    it("uses the api_key and org_id it was started with", function()
      local org = "11111111-2222-4333-8444-555555555555"
      local other = standin.start { api_key = "other-key", org_id = org }
      finally(function() other:stop() end)
      local function status(auth)
        local c = assert(standin.connect(other))
        local res = assert(c:request("GET", sync_path(ORDERS), { Authorization = auth, Connection = "close" }))
        c:close()
        return res.status, res.body
      end
      assert.equal(401, (status("Bearer " .. KEY)))
      local s, body = status("Bearer other-key")
      assert.equal(200, s)
      assert.equal(org, json.decode(body).data.organization_id)
      assert.equal(200, (status("Basic " .. require("mime").b64(org .. ":other-key"))))
    end)
  end)

  describe("versions", function()
    it("echoes X-Polytomic-Version on success and on errors", function()
      for _, v in ipairs { V25, V24 } do
        assert.equal(v, call("GET", sync_path(ORDERS), { version = v }).headers["x-polytomic-version"])
        assert.equal(v, call("GET", sync_path(seed.unknown_id), { version = v }).headers["x-polytomic-version"])
        assert.equal(v, call("GET", sync_path(ORDERS), { version = v, auth = false }).headers["x-polytomic-version"])
      end
    end)

    it("serves 2025-09-18 when the header is missing", function()
      local res = call("GET", sync_path(ORDERS))
      assert.equal(V25, res.headers["x-polytomic-version"])
      assert.is_table(res.json.data.default_schedule)
    end)

    -- Each endpoint answers with a status it declares: 400 on PUT, 404 on
    -- the GETs of one sync or schema and the schemas listing, 500 on the list.
    it("rejects an unsupported version with an ApiError of a status the endpoint declares", function()
      for p, want in pairs {
        [sync_path(ORDERS)] = 404, [sync_path(ORDERS) .. "/schemas"] = 404,
        [sync_path(ORDERS) .. "/schemas/public.orders"] = 404, ["/api/bulk/syncs"] = 500,
      } do
        local res = call("GET", p, { version = "2023-04-25" })
        assert.equal(want, res.status, p)
        assert.equal(want, res.json.status)
        assert.equal("X-Polytomic-Version", res.json.metadata.header)
        assert.equal(V25, res.headers["x-polytomic-version"])
      end
      local res = put(ORDERS, minimal25(), "2023-04-25")
      assert.equal(400, res.status)
      assert.equal("X-Polytomic-Version", res.json.metadata.header)
      assert.equal("Orders warehouse replica", srv:state(ORDERS).sync.name)
    end)
  end)

  describe("not found", function()
    it("answers 404 for an unknown id, a non-UUID id and an unknown schema", function()
      for _, path in ipairs {
        sync_path(seed.unknown_id), sync_path("not-a-uuid"), sync_path(ORDERS) .. "/schemas/nope",
        sync_path(seed.unknown_id) .. "/schemas",
      } do
        local res = call("GET", path)
        assert.equal(404, res.status)
        assert.equal(404, res.json.status)
      end
      assert.equal(404, put(seed.unknown_id, minimal25()).status)
      assert.equal(404, put("not-a-uuid", minimal25()).status)
    end)
  end)

  describe("GET", function()
    it("has the 2025-09-18 shape: default_schedule and additional_schedules with ids", function()
      local s = get(ORDERS, V25)
      assert.equal(ORDERS, s.id)
      assert.is_nil(s.schedule)
      assert.is_nil(s.discover)
      assert.equal(seed.schedule_ids.orders_default, s.default_schedule.id)
      assert.equal("daily", s.default_schedule.frequency)
      assert.is_string(s.default_schedule.created_at)
      assert.is_table(s.default_schedule.updated_by)
      assert.is_true(json.is_array(s.additional_schedules))
      assert.equal(2, #s.additional_schedules)
      assert.equal(seed.schedule_ids.orders_hourly, s.additional_schedules[1].id)
      assert.equal("incrementalFields", s.additional_schedules[1].selective_mode)
      assert.is_string(s.additional_schedules[1].created_at)
    end)

    it("has the 2024-02-08 shape: schedule without ids, and discover", function()
      local s = get(ORDERS, V24)
      assert.is_nil(s.default_schedule)
      assert.is_nil(s.additional_schedules)
      assert.same({ frequency = "daily", hour = "5", minute = "30" }, s.schedule)
      assert.is_true(s.discover)
    end)

    it("shows a stored multi schedule only in 2024-02-08", function()
      local s24 = get(MARKETING, V24)
      assert.equal("multi", s24.schedule.frequency)
      assert.equal(2, #s24.schedule.multi.schedules)
      local s25 = get(MARKETING, V25)
      assert.equal("multi", s25.default_schedule.frequency)
      assert.is_nil(s25.default_schedule.multi)
    end)

    it("writes integers without a fraction, empty lists as [] and nulls as null", function()
      local orders = call("GET", sync_path(ORDERS)).body
      assert.truthy(orders:find('"concurrency_limit":4,', 1, true))
      local crm = call("GET", sync_path(CRM)).body
      assert.truthy(crm:find('"additional_schedules":[]', 1, true))
      assert.truthy(crm:find('"concurrency_limit":null', 1, true))
      assert.truthy(crm:find('"source_configuration":null', 1, true))
      local marketing = call("GET", sync_path(MARKETING)).body
      assert.truthy(marketing:find('"policies":[]', 1, true))
    end)

    it("reflects the seed's non-default settings", function()
      local s = get(ORDERS)
      local want = seed.build().syncs[ORDERS]
      for _, k in ipairs { "name", "active", "mode", "automatically_add_new_fields",
        "automatically_add_new_objects", "normalize_names", "concurrency_limit", "resync_concurrency_limit",
        "data_cutoff_timestamp", "disable_record_timestamps", "organization_id", "created_at", "updated_at" } do
        assert.same(want[k], s[k])
      end
      assert.same(want.policies, s.policies)
      assert.same(want.source_configuration, s.source_configuration)
      assert.equal("none", s.automatically_add_new_fields)
      assert.equal("all", s.automatically_add_new_objects)
      assert.equal("disabled", s.normalize_names)
    end)

    it("lists syncs newest first and filters on active", function()
      local res = call("GET", "/api/bulk/syncs")
      local all = res.json.data
      assert.same({ ORDERS, CRM, MARKETING }, { all[1].id, all[2].id, all[3].id })
      assert.equal(3, #all)
      assert.is_nil(res.json.pagination) -- nothing more to fetch
      local active = call("GET", "/api/bulk/syncs?active=true").json.data
      assert.same({ ORDERS, MARKETING }, { active[1].id, active[2].id })
      assert.equal(2, #active)
      -- A PUT makes a sync the newest.
      assert.equal(200, put(MARKETING, minimal25()).status)
      all = call("GET", "/api/bulk/syncs").json.data
      assert.same({ MARKETING, ORDERS, CRM }, { all[1].id, all[2].id, all[3].id })
    end)

    it("accepts refresh_schemas; a bad value is a 404, the endpoint's only error status", function()
      assert.equal(200, call("GET", sync_path(ORDERS) .. "?refresh_schemas=true").status)
      local res = call("GET", sync_path(ORDERS) .. "?refresh_schemas=yes")
      assert.equal(404, res.status)
      assert.equal("refresh_schemas", res.json.metadata.field)
    end)

    it("lists schemas as BulkSchemaListItem: no fields, no filters, keys as strings", function()
      local res = call("GET", sync_path(ORDERS) .. "/schemas")
      assert.equal(200, res.status)
      local schemas = res.json.data
      assert.is_true(json.is_array(schemas))
      local want = seed.build().schemas[ORDERS]
      assert.equal(#want, #schemas)
      for i, s in ipairs(schemas) do
        local keys = {}
        for k in pairs(s) do keys[#keys + 1] = k end
        table.sort(keys)
        assert.same({ "data_cutoff_timestamp", "disable_data_cutoff", "enabled", "id", "output_name",
          "partition_key", "tracking_field", "user_output_name" }, keys)
        for _, k in ipairs(keys) do assert.same(want[i][k], s[k], k) end
        assert.is_string(s.partition_key)
        assert.is_string(s.tracking_field)
      end
      local m = by_id(schemas)
      assert.is_false(m["public.audit_log"].enabled)
      assert.equal("created_at", m["public.orders"].partition_key)
      assert.equal("", m["public.customers"].partition_key)
      assert.equal("updated_at", m["public.customers"].tracking_field)
      assert.equal("", m["public.products"].tracking_field)
    end)

    it("shows one schema as BulkSchema with fields (`obfuscated`) and filters", function()
      local res = call("GET", sync_path(ORDERS) .. "/schemas/public.orders")
      assert.equal(200, res.status)
      local s = res.json.data
      assert.same(seed.build().schemas[ORDERS][1], s)
      assert.is_true(json.is_array(s.fields))
      assert.is_true(json.is_array(s.filters))
      assert.equal("Inequality", s.filters[1]["function"])
      local f = by_id(s.fields)
      assert.is_true(f.shipping_email.obfuscated)
      assert.is_nil(f.shipping_email.obfuscate)
      assert.is_false(f.internal_notes.enabled)
      assert.equal("total", f.total_cents.user_output_name)
      local one = call("GET", sync_path(ORDERS) .. "/schemas/public.customers").json.data
      assert.equal("crm_customers", one.user_output_name)
      assert.equal("", one.partition_key)
      assert.is_true(json.is_array(one.filters))
      assert.equal(0, #one.filters)
    end)

    it("percent-decodes the schema id", function()
      local res = call("GET", sync_path(ORDERS) .. "/schemas/public%2Eorders")
      assert.equal(200, res.status)
      assert.equal("public.orders", res.json.data.id)
      assert.equal(404, call("GET", sync_path(ORDERS) .. "/schemas/public%2Fnope").status)
    end)
  end)

  describe("list paging", function()
    local function list(query, version)
      local res = call("GET", "/api/bulk/syncs" .. (query and ("?" .. query) or ""), { version = version })
      assert.equal(200, res.status, res.body)
      return res.json
    end

    local function walk(query, version)
      local ids, pages = {}, 0
      local token
      repeat
        local q = query
        if token then q = (q and (q .. "&") or "") .. "page_token=" .. token end
        local body = list(q, version)
        pages = pages + 1
        for _, s in ipairs(body.data) do ids[#ids + 1] = s.id end
        token = body.pagination and body.pagination.next_page_token
      until not token
      return ids, pages
    end

    it("answers at most 50 per page, newest first, with ids breaking ties", function()
      assert.equal(123, srv:seed_many(120))
      local first = list()
      assert.equal(50, #first.data)
      assert.is_string(first.pagination.next_page_token)
      local ids, pages = walk()
      assert.equal(3, pages)
      assert.equal(123, #ids)
      assert.same({ ORDERS, CRM, MARKETING }, { ids[1], ids[2], ids[3] })
      -- Synthetic syncs 1 and 2 share updated_at: the lower id comes first.
      assert.equal(seed.synthetic_id(1), ids[4])
      assert.equal(seed.synthetic_id(2), ids[5])
      assert.equal(seed.synthetic_id(120), ids[123])
      local seen = {}
      for _, id in ipairs(ids) do
        assert.is_nil(seen[id], id)
        seen[id] = true
      end
    end)

    it("honours limit and active across pages, in both versions", function()
      srv:seed_many(20)
      for _, v in ipairs { V25, V24 } do
        local ids, pages = walk("limit=7&active=true", v)
        assert.equal(12, #ids) -- ORDERS, MARKETING and the 10 odd synthetic syncs
        assert.equal(2, pages)
      end
      assert.equal(7, #list("limit=7").data)
    end)

    it("continues after the last sync of the page even if a sync moves between pages", function()
      srv:seed_many(10)
      local first = list("limit=5")
      local last = first.data[5].id
      assert.equal(200, put(ORDERS, minimal25()).status) -- ORDERS becomes newest: already seen
      local rest = list("limit=50&page_token=" .. first.pagination.next_page_token)
      assert.equal(8, #rest.data)
      for _, s in ipairs(rest.data) do assert.are_not.equal(last, s.id) end
    end)

    it("answers 500, its only error status, for a bad limit or page token", function()
      for _, q in ipairs { "limit=0", "limit=51", "limit=x", "page_token=bm9wZQ", "page_token=%25", "active=yes" } do
        local res = call("GET", "/api/bulk/syncs?" .. q)
        assert.equal(500, res.status, q)
        assert.equal(500, res.json.status)
        assert.is_string(res.json.metadata.field)
      end
    end)

    it("can empty the organization, answer data:null for empty lists and an empty last token", function()
      srv:seed_many(1, true) -- synthetic sync 1 only, which has no schemas
      local only = seed.synthetic_id(1)
      assert.equal(0, #call("GET", sync_path(only) .. "/schemas").json.data)
      assert.equal(0, #list("active=false").data)
      srv:config { null_empty_lists = true }
      assert.equal(null, list("active=false").data)
      assert.equal(null, call("GET", sync_path(only) .. "/schemas").json.data)
      assert.equal(null, call("GET", sync_path(only)).json.data.additional_schedules)
      srv:config { empty_last_page_token = true }
      assert.same({ next_page_token = "" }, list().pagination)
      srv:seed_many(0, true)
      assert.equal(null, list().data)
      srv:reset()
      local body = list()
      assert.equal(3, #body.data)
      assert.is_nil(body.pagination)
    end)
  end)

  describe("PUT (full replacement)", function()
    it("resets every omitted optional field (2025-09-18)", function()
      local before = srv:state(ORDERS).sync
      local res = put(ORDERS, minimal25(), V25)
      assert.equal(200, res.status)
      local s = res.json.data
      assert.equal("renamed", s.name)
      assert.is_false(s.active)
      assert.same(json.array(), s.additional_schedules)
      assert.is_true(json.is_array(s.additional_schedules))
      assert.equal("all", s.automatically_add_new_fields)
      assert.equal("none", s.automatically_add_new_objects)
      assert.equal(null, s.concurrency_limit)
      assert.equal(null, s.resync_concurrency_limit)
      assert.equal(null, s.data_cutoff_timestamp)
      assert.is_false(s.disable_record_timestamps)
      assert.equal("enabled", s.normalize_names)
      assert.is_true(json.is_array(s.policies))
      assert.equal(0, #s.policies)
      assert.equal(null, s.source_configuration)
      assert.same({ schema = "OTHER" }, s.destination_configuration)
      -- Read-only fields.
      assert.equal(ORDERS, s.id)
      assert.equal(before.organization_id, s.organization_id)
      assert.equal(before.created_at, s.created_at)
      assert.same(before.created_by, s.created_by)
      assert.are_not.equal(before.updated_at, s.updated_at)
      assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.?%d*Z$", s.updated_at)
      assert.are_not.same(before.updated_by, s.updated_by)
      -- The default schedule keeps its id and creation stamp.
      assert.equal(before.default_schedule.id, s.default_schedule.id)
      assert.equal(before.default_schedule.created_at, s.default_schedule.created_at)
      assert.equal("6", s.default_schedule.hour)
      -- The stored record agrees with the response, and GET shows the same.
      local after = srv:state(ORDERS).sync
      assert.equal(0, #after.additional_schedules)
      local again = get(ORDERS, V25)
      assert.same(s, again)
    end)

    it("resets discover and clears additional_schedules on a 2024-02-08 PUT", function()
      local res = put(ORDERS, minimal24(), V24)
      assert.equal(200, res.status)
      local s = res.json.data
      assert.is_false(s.discover)
      assert.same({ frequency = "hourly", minute = "10" }, s.schedule)
      assert.is_nil(s.additional_schedules)
      local st = srv:state(ORDERS).sync
      assert.equal(0, #st.additional_schedules)
      assert.equal(seed.schedule_ids.orders_default, st.default_schedule.id)
      assert.equal("hourly", get(ORDERS, V25).default_schedule.frequency)
    end)

    it("stores a 2024-02-08 multi schedule; 2025-09-18 keeps it only while the frequency is multi", function()
      local b = minimal24()
      b.schedule = { frequency = "multi", multi = { type = "selective", schedules = {
        { item = "incrementalFields", schedule = { frequency = "continuous" } },
      } } }
      assert.equal(200, put(CRM, b, V24).status)
      assert.equal("continuous", get(CRM, V24).schedule.multi.schedules[1].schedule.frequency)
      local b25 = minimal25()
      b25.default_schedule = { frequency = "multi" }
      assert.equal(200, put(CRM, b25, V25).status)
      assert.equal("continuous", get(CRM, V24).schedule.multi.schedules[1].schedule.frequency)
      b25.default_schedule = { frequency = "daily" }
      assert.equal(200, put(CRM, b25, V25).status)
      assert.is_nil(get(CRM, V24).schedule.multi)
    end)

    it("leaves discover alone on a 2025-09-18 PUT (that shape has no discover)", function()
      assert.equal(200, put(ORDERS, minimal25(), V25).status)
      assert.is_true(srv:state(ORDERS).sync.discover)
      assert.is_true(get(ORDERS, V24).discover)
    end)

    it("selects every schema and field when schemas is omitted", function()
      assert.equal(200, put(ORDERS, minimal25()).status)
      local st = srv:state(ORDERS)
      assert.equal(5, #st.schemas)
      for _, s in ipairs(st.schemas) do
        assert.is_true(s.enabled, s.id)
        for _, f in ipairs(s.fields) do
          assert.is_true(f.enabled, s.id .. "." .. f.id)
          assert.is_false(f.obfuscated, s.id .. "." .. f.id)
        end
      end
    end)

    it("selects exactly the given schemas, with their field choices", function()
      local b = minimal25()
      b.schemas = {
        "public.products",
        { id = "public.orders", partition_key = "created_at",
          filters = { { field_id = "status", ["function"] = "Equality", value = "paid" } },
          fields = { "id", { id = "shipping_email", obfuscate = true }, { id = "status", enabled = false } } },
        { id = "public.refunds", fields = json.array() },
        { id = "public.customers", enabled = false },
      }
      assert.equal(200, put(ORDERS, b).status)
      local m = by_id(srv:state(ORDERS).schemas)
      -- A string item: enabled with every field.
      assert.is_true(m["public.products"].enabled)
      for _, f in ipairs(m["public.products"].fields) do assert.is_true(f.enabled) end
      -- An object item: exactly the listed fields are enabled.
      local orders = m["public.orders"]
      assert.is_true(orders.enabled)
      local enabled, obfuscated = {}, {}
      for _, f in ipairs(orders.fields) do
        if f.enabled then enabled[#enabled + 1] = f.id end
        if f.obfuscated then obfuscated[#obfuscated + 1] = f.id end
      end
      assert.same({ "id", "shipping_email" }, enabled)
      assert.same({ "shipping_email" }, obfuscated)
      assert.equal("created_at", orders.partition_key)
      assert.equal("", orders.tracking_field) -- omitted in the item: reset to unused
      assert.same({ { field_id = "status", ["function"] = "Equality", value = "paid" } }, orders.filters)
      -- An empty field list enables every field.
      assert.is_true(m["public.refunds"].enabled)
      for _, f in ipairs(m["public.refunds"].fields) do assert.is_true(f.enabled) end
      -- Listed but disabled; unlisted ones are disabled.
      assert.is_false(m["public.customers"].enabled)
      assert.equal("crm_customers", m["public.customers"].user_output_name)
      assert.is_false(m["public.audit_log"].enabled)
    end)

    -- What a careful client does: GET, drop the read-only fields, send the
    -- schema selection read from /schemas, change one thing, PUT.
    local function round_trip(id, version)
      local before = srv:state(id)
      local body = {}
      for k, v in pairs(get(id, version)) do body[k] = v end
      for _, k in ipairs { "id", "created_at", "created_by", "updated_at", "updated_by", "organization_id" } do
        body[k] = nil
      end
      local function strip(sched)
        for _, k in ipairs { "created_at", "created_by", "updated_at", "updated_by" } do sched[k] = nil end
      end
      if body.default_schedule then strip(body.default_schedule) end
      for _, a in ipairs(body.additional_schedules or {}) do strip(a) end
      body.schemas = json.array()
      for i, item in ipairs(call("GET", sync_path(id) .. "/schemas").json.data) do
        local sc = call("GET", sync_path(id) .. "/schemas/" .. item.id).json.data
        local fields = json.array()
        for j, f in ipairs(sc.fields) do fields[j] = { id = f.id, enabled = f.enabled, obfuscate = f.obfuscated } end
        body.schemas[i] = { id = sc.id, enabled = sc.enabled, fields = fields, filters = sc.filters,
          partition_key = sc.partition_key, tracking_field = sc.tracking_field,
          data_cutoff_timestamp = sc.data_cutoff_timestamp, disable_data_cutoff = sc.disable_data_cutoff }
      end
      body.name = "renamed by round trip"
      local res = put(id, body, version)
      assert.equal(200, res.status, res.body)
      local after = srv:state(id)
      assert.same(before.schemas, after.schemas)
      assert.equal("renamed by round trip", after.sync.name)
      assert.are_not.equal(before.sync.updated_at, after.sync.updated_at)
      for _, k in ipairs { "name", "updated_at", "updated_by" } do
        before.sync[k], after.sync[k] = nil, nil
      end
      return before.sync, after.sync
    end

    it("changes nothing else when a 2025-09-18 client sends back all it read", function()
      for _, id in ipairs { ORDERS, CRM, MARKETING } do
        srv:reset()
        local before, after = round_trip(id, V25)
        assert.same(before, after)
      end
    end)

    it("changes nothing else when a 2024-02-08 client sends back all it read", function()
      for _, id in ipairs { CRM, MARKETING } do
        srv:reset()
        local before, after = round_trip(id, V24)
        assert.same(before, after)
      end
    end)

    it("loses additional schedules when a 2024-02-08 client sends back all it read", function()
      local before, after = round_trip(ORDERS, V24)
      assert.equal(2, #before.additional_schedules)
      assert.equal(0, #after.additional_schedules)
      before.additional_schedules, after.additional_schedules = nil, nil
      assert.same(before, after)
    end)

    it("keeps a known additional schedule id and gives a new one a fresh id", function()
      local b = minimal25()
      b.additional_schedules = {
        { id = seed.schedule_ids.orders_weekly, frequency = "weekly", day_of_week = "sunday", hour = "2",
          minute = "0", resync_mode = "refetch" },
        { frequency = "hourly", minute = "45" },
      }
      local res = put(ORDERS, b)
      assert.equal(200, res.status)
      local list = res.json.data.additional_schedules
      assert.equal(2, #list)
      assert.equal(seed.schedule_ids.orders_weekly, list[1].id)
      assert.equal("2025-04-01T08:05:00Z", list[1].created_at)
      -- Unchanged content keeps its update stamp too.
      assert.equal("2025-05-20T11:12:13Z", list[1].updated_at)
      assert.is_string(list[2].id)
      assert.matches("^%x+%-%x+%-4%x+%-%x+%-%x+$", list[2].id)
      assert.is_not.equal(seed.schedule_ids.orders_hourly, list[2].id)
      assert.equal(list[2].created_at, list[2].updated_at)
    end)

    it("takes \"\" or null for an unused partition_key or tracking_field", function()
      local b = minimal25()
      b.schemas = { { id = "public.orders", partition_key = "", tracking_field = null },
        { id = "public.customers", partition_key = null, tracking_field = "" } }
      assert.equal(200, put(ORDERS, b).status)
      for _, id in ipairs { "public.orders", "public.customers" } do
        local s = call("GET", sync_path(ORDERS) .. "/schemas/" .. id).json.data
        assert.equal("", s.partition_key)
        assert.equal("", s.tracking_field)
      end
    end)

    it("keeps the caller's organization when the body names another one", function()
      local b = minimal25()
      b.organization_id = "99999999-0000-4000-8000-000000000000"
      local res = put(ORDERS, b)
      assert.equal(200, res.status)
      assert.equal(seed.org_id, res.json.data.organization_id)
    end)
  end)

  describe("PUT validation", function()
    local function rejects(version, mutate, field)
      local b = version == V24 and minimal24() or minimal25()
      mutate(b)
      local before = srv:state(ORDERS)
      local res = put(ORDERS, b, version)
      assert.equal(400, res.status, res.body)
      assert.equal(400, res.json.status)
      assert.equal(field, res.json.metadata.field)
      assert.truthy(res.json.message:find(field, 1, true), res.json.message)
      assert.same(before, srv:state(ORDERS)) -- nothing was written
    end

    it("names a missing required field", function()
      for _, f in ipairs { "name", "mode", "default_schedule", "destination_configuration",
        "destination_connection_id", "source_connection_id" } do
        rejects(V25, function(b) b[f] = nil end, f)
      end
      rejects(V24, function(b) b.schedule = nil end, "schedule")
      rejects(V25, function(b) b.default_schedule.frequency = nil end, "default_schedule.frequency")
    end)

    it("names a bad enum value", function()
      rejects(V25, function(b) b.mode = "mirror" end, "mode")
      rejects(V25, function(b) b.normalize_names = "yes" end, "normalize_names")
      rejects(V25, function(b) b.automatically_add_new_fields = "some" end, "automatically_add_new_fields")
      rejects(V25, function(b) b.default_schedule.frequency = "sometimes" end, "default_schedule.frequency")
    end)

    it("names a field of the other version or an unknown field", function()
      rejects(V25, function(b) b.schedule = { frequency = "daily" } end, "schedule")
      rejects(V25, function(b) b.discover = true end, "discover")
      rejects(V24, function(b) b.default_schedule = { frequency = "daily" } end, "default_schedule")
      rejects(V24, function(b) b.additional_schedules = json.array() end, "additional_schedules")
      rejects(V25, function(b) b.id = ORDERS end, "id")
      rejects(V25, function(b) b.default_schedule.created_at = "2025-01-01T00:00:00Z" end,
        "default_schedule.created_at")
    end)

    it("names a field of the wrong type", function()
      rejects(V25, function(b) b.concurrency_limit = "4" end, "concurrency_limit")
      rejects(V25, function(b) b.concurrency_limit = 4.5 end, "concurrency_limit")
      rejects(V25, function(b) b.active = "true" end, "active")
      rejects(V25, function(b) b.policies = {} end, "policies") -- an object, not a list
      rejects(V25, function(b) b.destination_configuration = json.array() end, "destination_configuration")
      rejects(V25, function(b) b.default_schedule.hour = 6 end, "default_schedule.hour")
      rejects(V25, function(b) b.source_connection_id = "pg" end, "source_connection_id")
      rejects(V25, function(b) b.data_cutoff_timestamp = "yesterday" end, "data_cutoff_timestamp")
      rejects(V25, function(b) b.name = null end, "name")
    end)

    it("rejects 4.0 where an integer is required", function()
      local b = json.encode(minimal25()):gsub("^{", '{"concurrency_limit":4.0,')
      local res = call("PUT", sync_path(ORDERS), { body = b })
      assert.equal(400, res.status)
      assert.equal("concurrency_limit", res.json.metadata.field)
    end)

    it("names unknown schema, field and schedule ids", function()
      rejects(V25, function(b) b.schemas = { "public.nope" } end, "schemas[0]")
      rejects(V25, function(b) b.schemas = { "public.orders", { id = "public.nope" } } end, "schemas[1].id")
      rejects(V25, function(b) b.schemas = { { id = "public.orders", fields = { "id", { id = "nope" } } } } end,
        "schemas[0].fields[1].id")
      rejects(V25, function(b) b.schemas = { { id = "public.orders", fields = { "nope" } } } end,
        "schemas[0].fields[0]")
      rejects(V25, function(b)
        b.schemas = { { id = "public.orders", filters = { { field_id = "nope", ["function"] = "IsNull" } } } }
      end, "schemas[0].filters[0].field_id")
      rejects(V25, function(b) b.additional_schedules = { { id = seed.unknown_id, frequency = "daily" } } end,
        "additional_schedules[0].id")
      rejects(V25, function(b) b.default_schedule.id = seed.schedule_ids.orders_hourly end, "default_schedule.id")
    end)

    it("rejects a body that is not a JSON object", function()
      for _, body in ipairs { "", "{", "[]", "null" } do
        local res = call("PUT", sync_path(ORDERS), { body = body })
        assert.equal(400, res.status, body)
        assert.equal(400, res.json.status)
      end
    end)
  end)

  describe("lifecycle", function()
    local function start(id, body, version)
      return call("POST", sync_path(id) .. "/executions", { version = version, body = body })
    end
    local function exec_path(id, exec_id) return sync_path(id) .. "/executions/" .. exec_id end
    local function poll(id, exec_id)
      local res = call("GET", exec_path(id, exec_id))
      assert.equal(200, res.status)
      return res.json.data
    end
    local function status_of(id, version)
      local res = call("GET", sync_path(id) .. "/status", { version = version })
      assert.equal(200, res.status)
      return res.json.data
    end

    it("moves an execution created -> running -> completed, one step per poll, with counts at the end", function()
      local res = start(ORDERS, {})
      assert.equal(200, res.status)
      local e = res.json.data
      assert.truthy(e.id:match("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$"))
      assert.equal("created", e.status)
      assert.equal(null, e.started_at)
      -- Every enabled schema runs when `schemas` is missing.
      local names = {}
      for i, s in ipairs(e.schemas) do names[i] = s.schema end
      assert.same({ "public.orders", "public.customers", "public.products" }, names)
      local seen = {}
      for i = 1, 3 do seen[i] = poll(ORDERS, e.id) end
      assert.same({ "running", "running", "completed" }, { seen[1].status, seen[2].status, seen[3].status })
      assert.equal(0, seen[2].record_count)
      assert.equal(600, seen[3].record_count)
      assert.same({ 100, 200, 300 }, { seen[3].schemas[1].record_count, seen[3].schemas[2].record_count,
        seen[3].schemas[3].record_count })
      assert.equal("completed", seen[3].schemas[1].status)
      assert.is_string(seen[3].completed_at)
      -- Terminal: further polls change nothing.
      assert.same(seen[3], poll(ORDERS, e.id))
    end)

    it("takes its step count and its outcome from the config switches", function()
      srv:config { execution_steps = 1, executions_fail = true }
      local e = start(ORDERS, { schemas = json.array { "public.orders" } }).json.data
      local done = poll(ORDERS, e.id)
      assert.equal("failed", done.status)
      assert.equal("failed", done.schemas[1].status)
      assert.equal(1, done.error_count)
      assert.equal(0, done.record_count)
    end)

    it("the sync's status advances the execution too, and shows current and last", function()
      local none = status_of(ORDERS)
      assert.is_nil(none.current_execution)
      assert.is_nil(none.last_execution)
      assert.equal("ok", none.ingestion_status.status)
      assert.is_nil(status_of(ORDERS, V24).ingestion_status)
      local e = start(ORDERS, {}).json.data
      local st = status_of(ORDERS)
      assert.equal(e.id, st.current_execution.id)
      assert.equal("running", st.current_execution.status)
      status_of(ORDERS)
      st = status_of(ORDERS)
      assert.is_nil(st.current_execution)
      assert.equal(e.id, st.last_execution.id)
      assert.equal("completed", st.last_execution.status)
    end)

    it("answers 409 while an execution is not terminal, and starts again once it is", function()
      local e = start(ORDERS, {}).json.data
      local res = start(ORDERS, {})
      assert.equal(409, res.status)
      assert.equal(e.id, res.json.metadata.execution_id)
      poll(ORDERS, e.id)
      assert.equal(409, start(ORDERS, {}).status)
      poll(ORDERS, e.id)
      poll(ORDERS, e.id)
      assert.equal(200, start(ORDERS, {}).status)
      -- Another sync is not held up.
      assert.equal(200, start(CRM, {}).status)
    end)

    it("validates the start body per version", function()
      local function refused(body, version, field, reason)
        local res = start(CRM, body, version)
        assert.equal(400, res.status, json.encode(res.json))
        assert.equal(field, res.json.metadata.field)
        if reason then assert.equal(reason, res.json.metadata.reason) end
      end
      refused({ resync = true }, V25, "resync", "unknown")
      refused({ resync_mode = "resync" }, V24, "resync_mode", "unknown")
      refused({ test = true, resync_mode = "rebuild" }, V25, "test", "conflict")
      refused({ test = true, resync = true }, V24, "test", "conflict")
      refused({ fetch_mode = "all" }, V25, "fetch_mode", "enum")
      refused({ schemas = json.array { "Nope" } }, V25, "schemas[0]", "unknown_id")
      refused({ schemas = json.array { "Account", "Lead" } }, V25, "schemas[1]", "disabled")
      assert.equal(400, start(seed.unknown_id, {}).status)
      local e = start(CRM, { test = true, resync = false, fetch_mode = "incremental" }, V24).json.data
      assert.is_true(e.is_test)
      assert.is_false(e.is_resync)
      assert.equal("incremental", e.fetch_mode)
      call("POST", exec_path(CRM, e.id) .. "/cancel")
      e = start(CRM, { resync_mode = "rebuild", schemas = json.array { "Account" } }).json.data
      assert.is_true(e.is_resync)
      assert.is_true(e.is_partial)
      assert.equal("rebuild", e.output_disposition)
      assert.equal(1, #e.schemas)
    end)

    it("cancels an execution by id and through the sync; a finished one stays as it is", function()
      local e = start(ORDERS, {}).json.data
      local res = call("POST", exec_path(ORDERS, e.id) .. "/cancel")
      assert.equal(200, res.status)
      assert.is_string(res.json.data.message)
      local got = poll(ORDERS, e.id)
      assert.equal("canceled", got.status)
      assert.equal("canceled", got.schemas[1].status)
      assert.equal(200, call("POST", exec_path(ORDERS, e.id) .. "/cancel").status)
      assert.equal("canceled", poll(ORDERS, e.id).status)
      e = start(ORDERS, {}).json.data
      poll(ORDERS, e.id)
      assert.equal(200, call("POST", sync_path(ORDERS) .. "/cancel").status)
      assert.equal("canceled", poll(ORDERS, e.id).status)
      assert.equal(404, call("POST", exec_path(ORDERS, seed.unknown_id) .. "/cancel").status)
      assert.equal(404, call("POST", exec_path(CRM, e.id) .. "/cancel").status)
    end)

    it("activate sets active; deactivating cancels the running execution", function()
      local res = call("POST", sync_path(CRM) .. "/activate", { body = { active = true } })
      assert.equal(200, res.status)
      assert.same({ active = true, id = CRM }, res.json.data)
      assert.is_true(get(CRM).active)
      local e = start(CRM, {}).json.data
      res = call("POST", sync_path(CRM) .. "/activate", { body = { active = false } })
      assert.same({ active = false, id = CRM }, res.json.data)
      assert.is_false(get(CRM).active)
      assert.equal("canceled", poll(CRM, e.id).status)
      -- `active` is required and boolean; activate declares no 400, so 500.
      local bad = { { {}, "active" }, { { active = "yes" }, "active" }, { { active = true, other = 1 }, "other" } }
      for _, case in ipairs(bad) do
        res = call("POST", sync_path(CRM) .. "/activate", { body = case[1] })
        assert.equal(500, res.status)
        assert.equal(case[2], res.json.metadata.field)
      end
      assert.is_false(get(CRM).active)
    end)

    it("delete answers 200 without a body and removes the sync, its schemas and its executions", function()
      local e = start(ORDERS, {}).json.data
      local res = call("DELETE", sync_path(ORDERS))
      assert.equal(200, res.status)
      assert.equal("", res.body)
      assert.is_nil(res.headers["content-type"])
      for _, path in ipairs { sync_path(ORDERS), sync_path(ORDERS) .. "/schemas",
        sync_path(ORDERS) .. "/schemas/public.orders", sync_path(ORDERS) .. "/status",
        sync_path(ORDERS) .. "/executions", exec_path(ORDERS, e.id) } do
        assert.equal(404, call("GET", path).status, path)
      end
      assert.equal(404, call("DELETE", sync_path(ORDERS)).status)
      assert.is_nil(srv:state(ORDERS))
      local ids = {}
      for _, s in ipairs(call("GET", "/api/bulk/syncs").json.data) do ids[#ids + 1] = s.id end
      assert.same({ CRM, MARKETING }, ids)
    end)

    it("lists executions newest first, pages them, and honours only_terminal and ascending", function()
      srv:config { execution_steps = 1 }
      local ids = {}
      for i = 1, 5 do
        ids[i] = start(ORDERS, {}).json.data.id
        if i < 5 then poll(ORDERS, ids[i]) end
      end
      local function walk(q)
        local out, token = {}, nil
        repeat
          local path = sync_path(ORDERS) .. "/executions?limit=2" .. q .. (token and ("&page_token=" .. token) or "")
          local res = call("GET", path)
          assert.equal(200, res.status)
          assert.is_true(#res.json.data <= 2)
          for _, e in ipairs(res.json.data) do out[#out + 1] = e.id end
          token = res.json.pagination and res.json.pagination.next_page_token
        until not token
        return out
      end
      assert.same({ ids[5], ids[4], ids[3], ids[2], ids[1] }, walk(""))
      assert.same({ ids[1], ids[2], ids[3], ids[4], ids[5] }, walk("&ascending=true"))
      assert.same({ ids[4], ids[3], ids[2], ids[1] }, walk("&only_terminal=true"))
      -- A token is refused under another ordering.
      local token = call("GET", sync_path(ORDERS) .. "/executions?limit=1").json.pagination.next_page_token
      assert.equal(404, call("GET", sync_path(ORDERS) .. "/executions?ascending=true&page_token=" .. token).status)
      assert.equal(404, call("GET", sync_path(ORDERS) .. "/executions?limit=101").status)
    end)

    it("the status listing takes repeated sync_id, or all / active, one entry per enabled schema", function()
      srv:config { execution_steps = 1 }
      local e = start(ORDERS, { schemas = json.array { "public.orders" } }).json.data
      poll(ORDERS, e.id)
      local running = start(ORDERS, {}).json.data
      local res = call("GET", "/api/bulk/syncs/status?sync_id=" .. ORDERS .. "&sync_id=" .. CRM)
      assert.equal(200, res.status)
      local d = res.json.data
      assert.same({ ORDERS, CRM }, { d[1].sync_id, d[2].sync_id })
      assert.equal("completed", d[1].status)
      -- The listing polled the running execution once, with one step: it ended.
      local by_schema = {}
      for _, s in ipairs(d[1].schemas) do by_schema[s.schema] = s end
      assert.equal(running.id, by_schema["public.orders"].execution_id)
      assert.equal(3, #d[1].schemas)
      assert.same({}, d[2].schemas)
      assert.is_nil(d[2].status)
      local all = call("GET", "/api/bulk/syncs/status?all=true&sync_id=" .. CRM).json.data
      assert.equal(3, #all)
      local active = call("GET", "/api/bulk/syncs/status?active=true").json.data
      assert.same({ ORDERS, MARKETING }, { active[1].sync_id, active[2].sync_id })
      assert.equal(404, call("GET", "/api/bulk/syncs/status?sync_id=" .. seed.unknown_id).status)
      assert.equal(404, call("GET", "/api/bulk/syncs/status?sync_id=nope").status)
    end)

    it("answers 403 only where declared and 405 for other methods", function()
      local mime = require "mime"
      local other = "Basic " .. mime.b64("3f9c2e4a-0000-4000-8000-0000000000ff:" .. KEY)
      assert.equal(403, call("DELETE", sync_path(ORDERS), { auth = other }).status)
      assert.equal(403, call("POST", sync_path(ORDERS) .. "/cancel", { auth = other }).status)
      assert.equal(401, call("POST", sync_path(ORDERS) .. "/executions", { auth = other }).status)
      assert.equal(401, call("GET", sync_path(ORDERS) .. "/status", { auth = other }).status)
      assert.equal(405, call("PUT", sync_path(ORDERS) .. "/executions").status)
      assert.equal(405, call("GET", sync_path(ORDERS) .. "/activate").status)
      assert.equal(405, call("POST", "/api/bulk/syncs/status").status)
    end)
  end)

  describe("HTTP", function()
    it("serves several requests over one keep-alive connection", function()
      local c = assert(standin.connect(srv))
      for _ = 1, 3 do
        local res = assert(c:request("GET", sync_path(ORDERS), { Authorization = "Bearer " .. KEY }))
        assert.equal(200, res.status)
        assert.is_nil(res.headers["connection"])
      end
      c:close()
      assert.equal(1, srv:connections())
      local reqs = srv:requests()
      assert.equal(3, #reqs)
      assert.equal(reqs[1].connection, reqs[2].connection)
      assert.equal(reqs[1].connection, reqs[3].connection)
    end)

    it("counts one connection per client connection", function()
      for _ = 1, 3 do call("GET", sync_path(ORDERS)) end
      assert.equal(3, srv:connections())
      local reqs = srv:requests()
      assert.are_not.equal(reqs[1].connection, reqs[2].connection)
    end)

    it("closes the connection after Connection: close", function()
      local c = assert(standin.connect(srv))
      local res = assert(c:request("GET", sync_path(ORDERS), { Authorization = "Bearer " .. KEY, Connection = "close" }))
      assert.equal(200, res.status)
      assert.equal("close", res.headers["connection"])
      local more, err = c.sock:receive(1)
      assert.is_nil(more)
      assert.equal("closed", err)
      c:close()
    end)

    it("answers pipelined requests in order", function()
      local c = assert(standin.connect(srv))
      local one = "GET " .. sync_path(ORDERS) .. " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " .. KEY .. "\r\n\r\n"
      local two = "GET " .. sync_path(CRM) .. " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " .. KEY .. "\r\n\r\n"
      assert(c:send_raw(one .. two))
      assert.equal(ORDERS, json.decode(assert(c:receive()).body).data.id)
      assert.equal(CRM, json.decode(assert(c:receive()).body).data.id)
      c:close()
    end)

    it("sends 100 Continue for Expect: 100-continue, then reads the body", function()
      local body = json.encode(minimal25())
      local c = assert(standin.connect(srv))
      assert(c:send("PUT", sync_path(ORDERS), {
        Authorization = "Bearer " .. KEY, Expect = "100-continue", ["Content-Length"] = tostring(#body),
      }))
      local interim = assert(c:receive())
      assert.equal(100, interim.status)
      assert(c:send_raw(body))
      local res = assert(c:receive())
      assert.equal(200, res.status)
      assert.equal("renamed", json.decode(res.body).data.name)
      c:close()
    end)

    it("reads a chunked request body", function()
      local body = json.encode(minimal25())
      local half = math.floor(#body / 2)
      local chunked = string.format("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n",
        half, body:sub(1, half), #body - half, body:sub(half + 1))
      local c = assert(standin.connect(srv))
      local res = assert(c:request("PUT", sync_path(ORDERS), {
        Authorization = "Bearer " .. KEY, ["Transfer-Encoding"] = "chunked",
      }, chunked))
      assert.equal(200, res.status, res.body)
      c:close()
      assert.equal(body, srv:requests()[1].body)
    end)
  end)

  describe("control API", function()
    it("records each API request with lower-case headers and the raw body", function()
      local body = json.encode(minimal25())
      call("PUT", sync_path(ORDERS) .. "?x=1", { version = V25, body = body })
      local reqs = srv:requests()
      assert.equal(1, #reqs)
      local r = reqs[1]
      assert.equal("PUT", r.method)
      assert.equal(sync_path(ORDERS), r.path)
      assert.equal("x=1", r.query)
      assert.equal(V25, r.headers["x-polytomic-version"])
      assert.equal("Bearer " .. KEY, r.headers["authorization"])
      assert.equal(body, r.body)
      assert.is_number(r.connection)
    end)

    it("reset restores the seed and clears requests, script, delay and counters", function()
      assert.equal(200, put(ORDERS, minimal25()).status)
      srv:script { { status = 500 } }
      srv:config { delay = 5 }
      srv:reset()
      assert.same(seed.build().syncs[ORDERS].name, srv:state(ORDERS).sync.name)
      assert.same(seed.build().schemas[ORDERS], srv:state(ORDERS).schemas)
      assert.equal(0, #srv:requests())
      assert.equal(0, srv:connections())
      -- No script and no delay left: this answers at once with the seed.
      local c = assert(standin.connect(srv, 3))
      local res = assert(c:request("GET", sync_path(ORDERS), { Authorization = "Bearer " .. KEY }))
      c:close()
      assert.equal(200, res.status)
      assert.equal("Orders warehouse replica", json.decode(res.body).data.name)
    end)

    it("answers scripted responses in order, records them, then behaves normally", function()
      srv:script {
        { status = 503, body = "upstream busy", headers = { ["Retry-After"] = "1" } },
        { status = 429, body = '{"key":"rate_limited","message":"slow down","metadata":{},"status":429}' },
      }
      local c = assert(standin.connect(srv))
      local h = { Authorization = "Bearer " .. KEY }
      local r1 = assert(c:request("PUT", sync_path(ORDERS), h, json.encode(minimal25())))
      assert.equal(503, r1.status)
      assert.equal("upstream busy", r1.body)
      assert.equal("1", r1.headers["retry-after"])
      assert.equal(V25, r1.headers["x-polytomic-version"])
      local r2 = assert(c:request("GET", sync_path(ORDERS), h))
      assert.equal(429, r2.status)
      assert.equal("rate_limited", json.decode(r2.body).key)
      local r3 = assert(c:request("GET", sync_path(ORDERS), h))
      assert.equal(200, r3.status)
      c:close()
      assert.equal(3, #srv:requests())
      -- The scripted PUT did not change the sync.
      assert.equal("Orders warehouse replica", srv:state(ORDERS).sync.name)
    end)

    it("can drop a connection without answering", function()
      srv:script { { drop = true } }
      local c = assert(standin.connect(srv))
      assert(c:send("GET", sync_path(ORDERS), { Authorization = "Bearer " .. KEY }))
      local res, err = c:receive()
      assert.is_nil(res)
      assert.equal("closed", err)
      c:close()
      assert.equal(1, #srv:requests())
    end)

    it("config reports and validates its switches; reset turns them off", function()
      local cur = srv:config {}
      assert.same({ delay = 0, null_empty_lists = false, empty_last_page_token = false,
        execution_steps = 3, executions_fail = false }, cur)
      assert.is_true(srv:config({ null_empty_lists = true }).null_empty_lists)
      assert.equal(400, (srv:control("POST", "/_standin/config", '{"null_empty_lists":1}')))
      assert.equal(400, (srv:control("POST", "/_standin/config", '{"execution_steps":0}')))
      assert.equal(400, (srv:control("POST", "/_standin/config", '{"execution_steps":2.5}')))
      assert.equal(400, (srv:control("POST", "/_standin/config", '{"executions_fail":"yes"}')))
      assert.equal(5, srv:config({ execution_steps = 5 }).execution_steps)
      assert.equal(400, (srv:control("POST", "/_standin/config", '{"nope":true}')))
      assert.equal(400, (srv:control("POST", "/_standin/seed_many", '{"count":-1}')))
      assert.equal(400, (srv:control("POST", "/_standin/seed_many", '{"count":1,"x":1}')))
      srv:reset()
      assert.is_false(srv:config({}).null_empty_lists)
      assert.equal(3, srv:config({}).execution_steps)
    end)

    it("state answers 404 for an unknown sync", function()
      assert.is_nil(srv:state(seed.unknown_id))
    end)

    it("rejects a malformed script", function()
      local status = srv:control("POST", "/_standin/script", '{"responses":[{"status":"x"}]}')
      assert.equal(400, status)
    end)
  end)

  -- Non-blocking is shown by order, not by time: a request sent later, with no
  -- delay, is answered while a delayed one is still waiting.
  describe("delays", function()
    local function readable(c)
      local r = socket.select({ c.sock }, nil, 0)
      return r[c.sock] ~= nil
    end

    local function wait_for_requests(n)
      for _ = 1, 500 do
        if #srv:requests() >= n then return end
        socket.sleep(0.01)
      end
      error("the server never recorded " .. n .. " requests")
    end

    it("a scripted delay holds only its own connection", function()
      srv:script { { status = 200, body = '{"slow":true}', delay = 1 } }
      local slow = assert(standin.connect(srv))
      assert(slow:send("GET", sync_path(ORDERS), { Authorization = "Bearer " .. KEY }))
      wait_for_requests(1)
      local fast = assert(standin.connect(srv))
      local res = assert(fast:request("GET", sync_path(CRM), { Authorization = "Bearer " .. KEY }))
      fast:close()
      assert.equal(200, res.status)
      assert.equal(CRM, json.decode(res.body).data.id)
      assert.is_false(readable(slow))
      local late = assert(slow:receive())
      slow:close()
      assert.equal('{"slow":true}', late.body)
    end)

    it("a configured delay applies to every API response without blocking others", function()
      srv:config { delay = 1 }
      local a = assert(standin.connect(srv))
      local b = assert(standin.connect(srv))
      assert(a:send("GET", sync_path(ORDERS), { Authorization = "Bearer " .. KEY }))
      wait_for_requests(1)
      assert(b:send("GET", sync_path(CRM), { Authorization = "Bearer " .. KEY }))
      wait_for_requests(2)
      -- Both were received and neither is answered yet: both are waiting at once.
      assert.is_false(readable(a))
      assert.is_false(readable(b))
      assert.equal(200, assert(a:receive()).status)
      assert.equal(200, assert(b:receive()).status)
      a:close()
      b:close()
    end)
  end)

  describe("create", function()
    local function create(body, version, auth)
      return call("POST", "/api/bulk/syncs", { version = version, body = body, auth = auth })
    end

    it("creates a sync with the PUT defaults, every source schema, and lists it", function()
      local res = create(minimal25(), V25)
      assert.equal(200, res.status)
      local s = res.json.data
      assert.is_truthy(s.id:match("^%x+%-%x+%-4%x+%-[89ab]%x+%-%x+$"))
      assert.same({ false, "all", "none", "enabled", null, null, null, false, null }, { s.active,
        s.automatically_add_new_fields, s.automatically_add_new_objects, s.normalize_names, s.concurrency_limit,
        s.resync_concurrency_limit, s.data_cutoff_timestamp, s.disable_record_timestamps, s.source_configuration })
      assert.same({}, s.policies)
      assert.same({}, s.additional_schedules)
      assert.equal("daily", s.default_schedule.frequency)
      assert.is_string(s.default_schedule.id)
      assert.equal(s.created_at, s.updated_at)
      assert.equal(seed.org_id, s.organization_id)
      assert.same(s, get(s.id, V25))
      local listing = call("GET", sync_path(s.id) .. "/schemas").json.data
      assert.same({ "public.accounts", "public.events", "public.users" },
        { listing[1].id, listing[2].id, listing[3].id })
      for _, x in ipairs(listing) do assert.is_true(x.enabled) end
      local ids = {}
      for _, x in ipairs(call("GET", "/api/bulk/syncs").json.data) do ids[x.id] = true end
      assert.is_true(ids[s.id])
      -- The new sync is a sync like any other: PUT, start, delete.
      assert.equal(200, put(s.id, minimal25(), V25).status)
      assert.equal(200, call("POST", sync_path(s.id) .. "/executions", { body = {} }).status)
      assert.equal(200, call("DELETE", sync_path(s.id)).status)
    end)

    it("selects only the listed schemas, with their field choices, in 2024-02-08 too", function()
      local b = minimal24()
      b.discover = true
      b.schemas = json.array { { id = "public.users", fields = json.array { { id = "email", obfuscate = true } } } }
      local res = create(b, V24)
      assert.equal(200, res.status)
      assert.is_true(res.json.data.discover)
      assert.equal("hourly", res.json.data.schedule.frequency)
      local st = srv:state(res.json.data.id)
      local by = by_id(st.schemas)
      assert.is_false(by["public.accounts"].enabled)
      assert.is_true(by["public.users"].enabled)
      local f = by_id(by["public.users"].fields)
      assert.same({ true, true }, { f.email.enabled, f.email.obfuscated })
      assert.is_false(f.id.enabled)
    end)

    it("refuses what PUT refuses with 400, unknown connections with 422, another org with 403", function()
      local before = #call("GET", "/api/bulk/syncs").json.data
      local b = minimal25()
      b.name = nil
      local res = create(b, V25)
      assert.equal(400, res.status)
      assert.equal("name", res.json.metadata.field)
      b = minimal25()
      b.schemas = json.array { "public.orders" }
      assert.equal("schemas[0]", create(b, V25).json.metadata.field)
      b = minimal25()
      b.default_schedule.id = seed.schedule_ids.orders_default
      assert.equal(400, create(b, V25).status)
      assert.equal(400, create(minimal25(), V24).status)
      assert.equal(400, call("POST", "/api/bulk/syncs", { body = "[]" }).status)
      b = minimal25()
      b.destination_connection_id = seed.unknown_id
      res = create(b, V25)
      assert.equal(422, res.status)
      assert.equal("destination_connection_id", res.json.metadata.field)
      local mime = require "mime"
      res = create(minimal25(), V25, "Basic " .. mime.b64("3f9c2e4a-0000-4000-8000-0000000000ff:" .. KEY))
      assert.equal(403, res.status)
      assert.equal(400, create(minimal25(), "2023-04-25").status)
      assert.equal(before, #call("GET", "/api/bulk/syncs").json.data)
    end)
  end)

  describe("schema writes", function()
    local SCHEMAS = sync_path(ORDERS) .. "/schemas"
    local function fields_of(schema_id)
      for _, s in ipairs(srv:state(ORDERS).schemas) do
        if s.id == schema_id then return s, by_id(s.fields) end
      end
    end

    it("PUT of one schema replaces it in full and answers BulkSchema", function()
      local res = call("PUT", SCHEMAS .. "/public.orders", { body = { enabled = false, user_output_name = "o",
        fields = json.array { { id = "id", obfuscated = true, user_output_name = "ident" }, { id = "status" } } } })
      assert.equal(200, res.status)
      assert.is_false(res.json.data.enabled)
      assert.equal("public.orders", res.json.data.id)
      local s, f = fields_of("public.orders")
      assert.same({ false, "o", "", "", null, false }, { s.enabled, s.user_output_name, s.partition_key,
        s.tracking_field, s.data_cutoff_timestamp, s.disable_data_cutoff })
      assert.same({}, s.filters)
      assert.same({ true, true, "ident" }, { f.id.enabled, f.id.obfuscated, f.id.user_output_name })
      assert.same({ true, false }, { f.status.enabled, f.status.obfuscated })
      assert.is_false(f.customer_id.enabled)
      assert.same(res.json.data, call("GET", SCHEMAS .. "/public.orders").json.data)
    end)

    it("PUT of one schema with fields omitted, null or [] enables every field and resets the rest", function()
      for _, body in ipairs { {}, { fields = null }, { fields = json.array() } } do
        srv:reset()
        local res = call("PUT", SCHEMAS .. "/public.customers", { body = body })
        assert.equal(200, res.status)
        local s, f = fields_of("public.customers")
        assert.is_true(s.enabled)
        assert.equal("", s.tracking_field)
        for _, x in pairs(f) do assert.same({ true, false, "" }, { x.enabled, x.obfuscated, x.user_output_name }) end
      end
    end)

    it("PUT of one schema refuses obfuscate, id and unknown fields with 500 (no 400 is declared)", function()
      local before = srv:state(ORDERS).schemas
      for _, body in ipairs { { fields = json.array { { id = "id", obfuscate = true } } }, { id = "public.orders" },
        { fields = json.array { { id = "nope" } } }, { partition_key = "nope" }, { enabled = null }, "[]", "" } do
        local res = call("PUT", SCHEMAS .. "/public.orders", { body = body })
        assert.equal(500, res.status, json.encode(body))
      end
      assert.equal(404, call("PUT", SCHEMAS .. "/public.nope", { body = {} }).status)
      assert.equal(404, call("PUT", sync_path(seed.unknown_id) .. "/schemas/public.orders", { body = {} }).status)
      assert.same(before, srv:state(ORDERS).schemas)
    end)

    it("PATCH changes only the listed schemas, each in full, and answers every schema", function()
      local before = by_id(srv:state(ORDERS).schemas)
      local res = call("PATCH", SCHEMAS, { body = { schemas = json.array {
        { id = "public.audit_log", enabled = true },
        { id = "public.orders", enabled = true, partition_key = "id", fields = json.array { { id = "id" } } } } } })
      assert.equal(200, res.status)
      assert.equal(#srv:state(ORDERS).schemas, #res.json.data)
      local after = by_id(srv:state(ORDERS).schemas)
      assert.same(before["public.customers"], after["public.customers"])
      assert.same(before["public.refunds"], after["public.refunds"])
      assert.is_true(after["public.audit_log"].enabled)
      for _, f in ipairs(after["public.audit_log"].fields) do assert.same({ true, false }, { f.enabled, f.obfuscated }) end
      assert.equal("id", after["public.orders"].partition_key)
      assert.equal("", after["public.orders"].tracking_field)
      local f = by_id(after["public.orders"].fields)
      assert.is_true(f.id.enabled)
      assert.is_false(f.status.enabled)
      assert.same(by_id(res.json.data)["public.orders"], call("GET", SCHEMAS .. "/public.orders").json.data)
      -- null or [] changes nothing.
      local now = srv:state(ORDERS).schemas
      assert.equal(200, call("PATCH", SCHEMAS, { body = { schemas = null } }).status)
      assert.equal(200, call("PATCH", SCHEMAS, { body = {} }).status)
      assert.same(now, srv:state(ORDERS).schemas)
    end)

    it("PATCH refuses the whole request with 400 when one item is wrong", function()
      local before = srv:state(ORDERS).schemas
      for _, items in ipairs {
        { { id = "public.orders", enabled = false }, { id = "public.nope" } },
        { { id = "public.orders" }, { id = "public.orders" } },
        { { enabled = true } },
        { { id = "public.orders", fields = json.array { { id = "id", obfuscate = true } } } },
        { { id = "public.orders", fields = json.array { { id = "nope" } } } },
      } do
        local res = call("PATCH", SCHEMAS, { body = { schemas = json.array(items) } })
        assert.equal(400, res.status, json.encode(items))
        assert.is_string(res.json.metadata.field)
      end
      assert.equal(400, call("PATCH", SCHEMAS, { body = "[]" }).status)
      assert.equal(404, call("PATCH", sync_path(seed.unknown_id) .. "/schemas", { body = {} }).status)
      assert.same(before, srv:state(ORDERS).schemas)
    end)

    it("cancels one schema of the running execution; the last one cancels the execution", function()
      local res = call("POST", SCHEMAS .. "/public.orders/cancel")
      assert.equal(200, res.status)
      assert.is_string(res.json.data.message)
      local e = call("POST", sync_path(ORDERS) .. "/executions",
        { body = { schemas = json.array { "public.orders", "public.customers" } } }).json.data
      assert.equal(200, call("POST", SCHEMAS .. "/public.orders/cancel").status)
      local st = srv:state(ORDERS).executions[1]
      assert.equal("created", st.status)
      local parts = {}
      for _, x in ipairs(st.schemas) do parts[x.schema] = x.status end
      assert.same({ ["public.orders"] = "canceled", ["public.customers"] = "created" }, parts)
      assert.equal(200, call("POST", SCHEMAS .. "/public.customers/cancel").status)
      assert.equal("canceled", call("GET", sync_path(ORDERS) .. "/executions/" .. e.id).json.data.status)
      assert.equal(404, call("POST", SCHEMAS .. "/public.nope/cancel").status)
    end)
  end)

  describe("schedules", function()
    local SCHED = sync_path(ORDERS) .. "/schedules"
    local S = seed.schedule_ids

    it("lists the default schedule, then the additional ones, camelCase, in both versions", function()
      for _, v in ipairs { V25, V24 } do
        local res = call("GET", SCHED, { version = v })
        assert.equal(200, res.status)
        local list = res.json.data
        assert.equal(3, #list)
        assert.same({ true, false, false }, { list[1].isDefault, list[2].isDefault, list[3].isDefault })
        assert.same({ "daily", "5", "30", ORDERS }, { list[1].frequency, list[1].hour, list[1].minute, list[1].syncId })
        assert.equal("incrementalFields", list[2].selectiveMode)
        assert.same({ "public.orders", "public.customers" }, list[2].schemas)
        assert.equal(seed.creator.id, list[1].createdBy)
        assert.is_nil(list[1].id)
        assert.is_nil(list[2].selective_mode)
        assert.same(list[2], call("GET", SCHED .. "/" .. S.orders_hourly, { version = v }).json.data)
      end
    end)

    it("POST adds an additional schedule the sync shows; DELETE removes it", function()
      local res = call("POST", SCHED, { body = { schedule = { frequency = "hourly", minute = "7",
        selectiveMode = "none" } } })
      assert.equal(200, res.status)
      assert.same({ "hourly", "7", "none", false, "normal" }, { res.json.data.frequency, res.json.data.minute,
        res.json.data.selectiveMode, res.json.data.isDefault, res.json.data.syncMode })
      assert.same({}, res.json.data.schemas)
      local extra = get(ORDERS, V25).additional_schedules
      assert.equal(3, #extra)
      local new = extra[3]
      assert.same({ "hourly", "7", "none" }, { new.frequency, new.minute, new.selective_mode })
      assert.equal(4, #call("GET", SCHED).json.data)
      local del = call("DELETE", SCHED .. "/" .. new.id)
      assert.equal(200, del.status)
      assert.equal("", del.body)
      assert.equal(2, #get(ORDERS, V25).additional_schedules)
      assert.equal(404, call("GET", SCHED .. "/" .. new.id).status)
      assert.equal(404, call("DELETE", SCHED .. "/" .. new.id).status)
    end)

    it("PUT replaces a schedule whole: omitted parts, resync mode and schemas are gone", function()
      local res = call("PUT", SCHED .. "/" .. S.orders_weekly, { body = { schedule = { frequency = "daily",
        hour = "2" } } })
      assert.equal(200, res.status)
      local extra = by_id(get(ORDERS, V25).additional_schedules)[S.orders_weekly]
      assert.same({ "daily", "2" }, { extra.frequency, extra.hour })
      assert.is_nil(extra.day_of_week)
      assert.is_nil(extra.resync_mode)
      assert.same({}, extra.schemas)
      assert.equal("normal", res.json.data.syncMode)
      -- The default schedule: the sync's default_schedule (and 2024-02-08 schedule) follow.
      res = call("PUT", SCHED .. "/" .. S.orders_default, { body = { schedule = { frequency = "weekly",
        dayOfWeek = "monday" } } })
      assert.equal(200, res.status)
      local sync = get(ORDERS, V25)
      assert.same({ S.orders_default, "weekly", "monday" }, { sync.default_schedule.id,
        sync.default_schedule.frequency, sync.default_schedule.day_of_week })
      assert.is_nil(sync.default_schedule.hour)
      assert.same({ frequency = "weekly", day_of_week = "monday" }, get(ORDERS, V24).schedule)
    end)

    it("refuses bad bodies with 400, selectiveMode on the default, and deleting the default with 500", function()
      local before = srv:state(ORDERS).sync
      for _, body in ipairs { {}, { schedule = {} }, { schedule = { frequency = "daily", day_of_week = "monday" } },
        { schedule = { frequency = "daily", id = S.orders_hourly } }, { schedule = { frequency = "often" } } } do
        assert.equal(400, call("POST", SCHED, { body = body }).status, json.encode(body))
        assert.equal(400, call("PUT", SCHED .. "/" .. S.orders_hourly, { body = body }).status)
      end
      local res = call("PUT", SCHED .. "/" .. S.orders_default, { body = { schedule = { frequency = "daily",
        selectiveMode = "none" } } })
      assert.equal(400, res.status)
      assert.equal("schedule.selectiveMode", res.json.metadata.field)
      assert.equal(500, call("DELETE", SCHED .. "/" .. S.orders_default).status)
      assert.equal(404, call("GET", SCHED .. "/" .. S.crm_default).status)
      assert.equal(404, call("GET", sync_path(seed.unknown_id) .. "/schedules").status)
      assert.same(before, srv:state(ORDERS).sync)
    end)
  end)

  describe("execution logs", function()
    local function run()
      srv:config { execution_steps = 2 }
      local e = call("POST", sync_path(ORDERS) .. "/executions",
        { body = { schemas = json.array { "public.orders", "public.customers" } } }).json.data
      return sync_path(ORDERS) .. "/executions/" .. e.id, e.id
    end

    it("lists a log URL for the execution and each schema, with an expiry", function()
      local path, id = run()
      local res = call("GET", path .. "/logs")
      assert.equal(200, res.status)
      assert.equal(3, #res.json.data.URLs)
      assert.truthy(res.json.data.URLs[2]:find(id .. "/public.orders", 1, true))
      assert.is_string(res.json.data.Expires)
      assert.equal(404, call("GET", sync_path(ORDERS) .. "/executions/" .. seed.unknown_id .. "/logs").status)
    end)

    it("exports: the first answer carries only a job, the next the url and the job done", function()
      local path = run()
      local first = call("POST", path .. "/logs/export?notify=true")
      assert.equal(200, first.status)
      assert.is_nil(first.json.data)
      assert.equal("created", first.json.job.status)
      local second = call("POST", path .. "/logs/export?notify=false")
      assert.equal(first.json.job.job_id, second.json.job.job_id)
      assert.equal("done", second.json.job.status)
      assert.is_string(second.json.data.url)
      assert.equal(400, call("POST", path .. "/logs/export?notify=yes").status)
    end)

    it("pages console logs with limit and after; the entries follow the execution", function()
      local path = run()
      local res = call("GET", path .. "/consolelog")
      assert.equal(200, res.status)
      assert.same({ "execution created" }, { res.json.data.entries[1].message })
      assert.equal(null, res.json.data.next_cursor)
      call("GET", path)
      call("GET", path)
      local seen, cursor = {}, nil
      repeat
        local q = "?limit=2" .. (cursor and "&after=" .. cursor or "")
        local page = call("GET", path .. "/consolelog" .. q).json.data
        assert.is_true(#page.entries <= 2)
        for _, x in ipairs(page.entries) do seen[#seen + 1] = x.message end
        cursor = page.next_cursor ~= null and page.next_cursor or nil
      until not cursor
      assert.same({ "execution created", "schema public.orders started", "schema public.customers started",
        "schema public.orders completed", "schema public.customers completed", "execution completed" }, seen)
      local one = call("GET", path .. "/schemas/public.customers/consolelog").json.data.entries
      assert.same({ "schema public.customers started", "schema public.customers completed" },
        { one[1].message, one[2].message })
      assert.equal(200, call("GET", path .. "/consolelog?limit=500").status)
      for _, q in ipairs { "?limit=0", "?limit=x", "?after=x", "?after=99" } do
        assert.equal(400, call("GET", path .. "/consolelog" .. q).status, q)
      end
      assert.equal(404, call("GET", path .. "/schemas/public.refunds/consolelog").status)
    end)

    it("answers console logs in 2024-02-08 with 404: that version has no such endpoint", function()
      local path = run()
      assert.equal(404, call("GET", path .. "/consolelog", { version = V24 }).status)
      assert.equal(404, call("GET", path .. "/schemas/public.orders/consolelog", { version = V24 }).status)
      assert.equal(200, call("GET", path .. "/logs", { version = V24 }).status)
    end)
  end)

  describe("connections and error handling", function()
    local mime = require "mime"
    local other_org = "Basic " .. mime.b64("3f9c2e4a-0000-4000-8000-0000000000ff:" .. KEY)
    local function conn(id, role, q) return "/api/connections/" .. id .. "/bulksync/" .. role .. (q or "") end

    it("lists on every seed connection, as a source, the schemas a created sync gets", function()
      local body = minimal25()
      local created = call("POST", "/api/bulk/syncs", { body = body })
      assert.equal(200, created.status)
      local listing = call("GET", sync_path(created.json.data.id) .. "/schemas").json.data
      for name, id in pairs(seed.connections) do
        for _, v in ipairs { V25, V24 } do
          local res = call("GET", conn(id, "source"), { version = v })
          assert.equal(200, res.status, name)
          local schemas = res.json.data.schemas
          assert.equal(#listing, #schemas)
          for i, s in ipairs(schemas) do
            assert.equal(listing[i].id, s.id)
            local one = call("GET", sync_path(created.json.data.id) .. "/schemas/" .. s.id).json.data
            assert.equal(#one.fields, #s.fields)
            for j, f in ipairs(s.fields) do
              assert.equal(one.fields[j].id, f.id)
              assert.is_string(f.type)
              assert.is_boolean(f.is_primary_key)
            end
          end
        end
      end
      local pg = call("GET", conn(seed.connections.postgres, "source")).json.data
      assert.is_true(pg.capabilities.supports_tracking_fields)
      assert.is_false(call("GET", conn(seed.connections.s3, "source")).json.data.capabilities.supports_tracking_fields)
    end)

    it("leaves the fields out with include_fields=false, and refuses another value (400)", function()
      local with = call("GET", conn(seed.connections.postgres, "source", "?include_fields=true")).json.data
      assert.same(call("GET", conn(seed.connections.postgres, "source")).json.data, with)
      local without = call("GET", conn(seed.connections.postgres, "source", "?include_fields=false")).json.data
      assert.equal(#with.schemas, #without.schemas)
      for i, s in ipairs(without.schemas) do
        assert.same({ id = with.schemas[i].id, name = with.schemas[i].name }, s)
      end
      local bad = call("GET", conn(seed.connections.postgres, "source", "?include_fields=yes"))
      assert.equal(400, bad.status)
      assert.equal("include_fields", bad.json.metadata.field)
    end)

    it("answers a source connection that is not there with 404", function()
      for _, id in ipairs { seed.unknown_id, "not-a-uuid", ORDERS } do
        local res = call("GET", conn(id, "source"))
        assert.equal(404, res.status)
        assert.equal("not_found", res.json.key)
      end
    end)

    -- The target's configuration is a JSON Schema; each seed sync's
    -- destination_configuration must satisfy its destination's.
    it("describes each destination's configuration so the seed's configurations fit it", function()
      for _, id in ipairs { ORDERS, CRM, MARKETING } do
        local sync = get(id)
        local res = call("GET", conn(sync.destination_connection_id, "target"))
        assert.equal(200, res.status)
        local schema = res.json.data.configuration
        assert.equal("object", schema.type)
        assert.is_false(schema.additionalProperties)
        for _, key in ipairs(schema.required or {}) do assert.is_not_nil(sync.destination_configuration[key], key) end
        for key, value in pairs(sync.destination_configuration) do
          local prop = schema.properties[key]
          assert.is_not_nil(prop, key)
          assert.equal(prop.type, type(value) == "number" and "integer" or type(value))
        end
        local modes = {}
        for _, m in ipairs(res.json.data.modes) do modes[m.id] = m end
        assert.is_not_nil(modes[sync.mode], "the destination offers the seed sync's mode")
      end
    end)

    it("offers S3 snapshot only, without rebuild; the others both modes and every resync", function()
      local s3 = call("GET", conn(seed.connections.s3, "target")).json.data
      assert.equal(1, #s3.modes)
      assert.equal("snapshot", s3.modes[1].id)
      assert.same(json.array { "refetch", "resync" }, s3.supported_resync_modes)
      local sf = call("GET", conn(seed.connections.snowflake, "target"), { version = V24 }).json.data
      assert.same({ "snapshot", "replicate" }, { sf.modes[1].id, sf.modes[2].id })
      assert.is_true(sf.modes[2].requires_identity)
      assert.same(json.array { "refetch", "resync", "rebuild" }, sf.supported_resync_modes)
    end)

    it("answers a target connection that is not there with 400: the endpoint declares no 404", function()
      for _, id in ipairs { seed.unknown_id, "not-a-uuid" } do
        local res = call("GET", conn(id, "target"))
        assert.equal(400, res.status)
        assert.equal("not_found", res.json.key)
        assert.equal("id", res.json.metadata.field)
      end
    end)

    it("answers another organization's key with 403 on the target (declared), 401 on the source", function()
      assert.equal(403, call("GET", conn(seed.connections.s3, "target"), { auth = other_org }).status)
      assert.equal(401, call("GET", conn(seed.connections.s3, "source"), { auth = other_org }).status)
      assert.equal(401, call("GET", conn(seed.connections.s3, "target"), { auth = false }).status)
    end)

    it("serves a sync's error handling: stored for the seed, the default otherwise", function()
      local res = call("GET", sync_path(ORDERS) .. "/error-handling")
      assert.equal(200, res.status)
      assert.same({ data = { ingestion_failure_threshold = 500,
        subscribers = json.array { "data-team@example.com", "oncall@example.com" } } }, res.json)
      assert.equal(0, call("GET", sync_path(CRM) .. "/error-handling").json.data.ingestion_failure_threshold)
      local default = call("GET", sync_path(MARKETING) .. "/error-handling").json
      assert.same({ data = { ingestion_failure_threshold = 1000000, subscribers = json.array {} } }, default)
      assert.is_true(json.is_array(default.data.subscribers))
      local created = call("POST", "/api/bulk/syncs", { body = minimal25() }).json.data
      assert.same(default, call("GET", sync_path(created.id) .. "/error-handling").json)
    end)

    it("answers error handling of a sync that is not there, or was deleted, with 404", function()
      for _, id in ipairs { seed.unknown_id, "not-a-uuid" } do
        assert.equal(404, call("GET", sync_path(id) .. "/error-handling").status)
      end
      assert.equal(200, call("DELETE", sync_path(ORDERS)).status)
      assert.equal(404, call("GET", sync_path(ORDERS) .. "/error-handling").status)
      assert.equal(405, call("PUT", sync_path(CRM) .. "/error-handling", { body = {} }).status)
    end)

    it("answers error handling in 2024-02-08 with 404, and 401 for another organization's key", function()
      local res = call("GET", sync_path(ORDERS) .. "/error-handling", { version = V24 })
      assert.equal(404, res.status)
      assert.equal("not_found", res.json.key)
      assert.equal(403, call("GET", sync_path(ORDERS) .. "/error-handling", { auth = other_org }).status)
      local other = call("GET", sync_path(ORDERS) .. "/error-handling", { version = V24, auth = other_org })
      assert.equal(401, other.status)
      assert.equal("Unauthorized", other.json.status)
    end)
  end)

  describe("process", function()
    it("stops on POST /_standin/shutdown and on stop()", function()
      local other = standin.start()
      finally(function() other:stop() end)
      local status = other:control("POST", "/_standin/shutdown", "")
      assert.equal(200, status)
      local closed = false
      for _ = 1, 300 do
        local c = standin.connect(other, 1)
        if not c then closed = true break end
        c:close()
        socket.sleep(0.01)
      end
      assert.is_true(closed)

      local third = standin.start()
      third:stop()
      assert.is_nil(standin.connect(third, 1))
    end)
  end)
end)
