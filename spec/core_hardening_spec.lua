-- The C core against hostile input: tables that share subtables, NUL bytes
-- in names and enum values, secrets pasted into fields, servers that answer
-- with conflicting framing; and the small truths the Lua layer builds on
-- (deterministic bytes, a boolean HAVE_INTEGER, HTTP dates, memory released
-- as each parallel response is handed over).

local core = require "bulksync.core"
local bulksync = require "bulksync"
local raw = require "spec.support.rawserver"
local child = require "spec.support.child"

local V25, V24 = "2025-09-18", "2024-02-08"
local UUID1 = "0b2f6a3e-7c1d-4e5f-8a9b-0c1d2e3f4a5b"
local UUID2 = "9f8e7d6c-5b4a-4321-8fed-cba987654321"

local function body_2025()
  return {
    default_schedule = { frequency = "daily", hour = "05", minute = "30" },
    destination_configuration = { schema = "analytics" },
    destination_connection_id = UUID1,
    mode = "replicate",
    name = "orders",
    source_connection_id = UUID2,
  }
end

-- problems as { [path] = { problem, ... } }
local function by_path(problems)
  local t = {}
  for _, p in ipairs(problems or {}) do
    t[p.path] = t[p.path] or {}
    table.insert(t[p.path], p.problem)
  end
  return t
end

describe("core.HAVE_INTEGER", function()
  it("is a boolean that says whether the Lua has an integer subtype", function()
    assert.is_boolean(core.HAVE_INTEGER)
    assert.equal(math.type ~= nil, core.HAVE_INTEGER)
  end)
end)

describe("core.getdate", function()
  -- RFC 9110 section 5.6.7: all three forms name the same instant.
  local EPOCH = 784111777

  it("reads an IMF-fixdate", function()
    assert.equal(EPOCH, core.getdate("Sun, 06 Nov 1994 08:49:37 GMT"))
  end)

  it("reads the obsolete RFC 850 form", function()
    assert.equal(EPOCH, core.getdate("Sunday, 06-Nov-94 08:49:37 GMT"))
  end)

  it("reads the obsolete asctime form", function()
    assert.equal(EPOCH, core.getdate("Sun Nov  6 08:49:37 1994"))
  end)

  it("gives nil for junk, delta-seconds, empty text and embedded NULs", function()
    assert.is_nil(core.getdate("soon"))
    assert.is_nil(core.getdate("120"))
    assert.is_nil(core.getdate(""))
    assert.is_nil(core.getdate("Sun, 06 Nov 1994 08:49:37 GMT\0tail"))
    assert.is_nil(core.getdate(string.rep("x", 4096)))
    assert.has_error(function() core.getdate({}) end)
  end)
end)

describe("NUL bytes in enum values and field names", function()
  -- Each of these once compared as a C string and read past the end of the
  -- literal it matched up to the NUL; scripts/check-memory.sh runs them
  -- under ASan and valgrind.
  it("reports an enum value holding a NUL as a normal problem", function()
    for _, bad in ipairs { "snap\0shot", "snapshot\0", "snapshot\0xxxxxxxxxxxxxxxxxxxxxxxxxxx", "\0" } do
      local b = body_2025()
      b.mode = bad
      local ok, problems = core.validate(b, V25)
      assert.is_nil(ok)
      local p = by_path(problems)
      assert.equal(1, #problems)
      assert.truthy(p.mode and p.mode[1]:find("^must be one of: snapshot, replicate"))
    end
  end)

  it("reports a field name holding a NUL as an unknown field", function()
    for _, key in ipairs { "na\0me", "name\0", "schedule\0xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                           "discover\0zzzzzzzzzzzzzzzzzzzzzzzz" } do
      local b = body_2025()
      b[key] = 1
      local ok, problems = core.validate(b, V25)
      assert.is_nil(ok)
      assert.equal(1, #problems)
      assert.equal(key, problems[1].path)
      assert.truthy(problems[1].problem:find("^unknown field"))
      assert.falsy(problems[1].problem:find("belongs to API version", 1, true))
    end
  end)

  it("still knows a field of the other version by its exact name", function()
    local b = body_2025()
    b.schedule = { frequency = "daily" }
    local _, problems = core.validate(b, V25)
    assert.truthy(problems[1].problem:find("belongs to API version " .. V24, 1, true))
  end)
end)

describe("a secret pasted into a body", function()
  local KEY = "pk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0"

  local function problems_of(b, version)
    local ok, problems = core.validate(b, version or V25)
    assert.is_nil(ok)
    local _, encode_problems = core.encode(b, version or V25)
    return problems, encode_problems
  end

  local function assert_not_quoted(list)
    assert.truthy(#list > 0)
    for _, p in ipairs(list) do
      assert.falsy(p.problem:find(KEY, 1, true), p.problem)
      assert.falsy(p.problem:find(KEY:sub(1, 12), 1, true), p.problem)
    end
  end

  it("is not quoted when it is given as an enum value", function()
    local b = body_2025()
    b.mode = KEY
    local v, e = problems_of(b)
    assert_not_quoted(v)
    assert_not_quoted(e)
    assert.equal("must be one of: snapshot, replicate, got a string of " .. #KEY .. " bytes", v[1].problem)
  end)

  it("is not quoted in a nested field, a UUID or a date-time", function()
    local b = body_2025()
    b.default_schedule.frequency = KEY
    b.destination_connection_id = KEY
    b.data_cutoff_timestamp = KEY
    b.additional_schedules = { { frequency = "daily", resync_mode = KEY, id = KEY } }
    b.schemas = { { id = "s", filters = { { ["function"] = KEY } } } }
    local v, e = problems_of(b)
    assert_not_quoted(v)
    assert_not_quoted(e)
    local p = by_path(v)
    assert.truthy(p["default_schedule.frequency"][1]:find("got a string of " .. #KEY .. " bytes$"))
    assert.truthy(p.destination_connection_id[1]:find("got a string of " .. #KEY .. " bytes$"))
    assert.truthy(p.data_cutoff_timestamp[1]:find("got a string of " .. #KEY .. " bytes (", 1, true))
    assert.truthy(p["additional_schedules[1].id"])
    assert.truthy(p["schemas[1].filters[1].function"])
  end)

  it("is not repeated in the problem when it names a field (the path keeps it)", function()
    local b = body_2025()
    b[KEY] = 1
    b.default_schedule[KEY] = true
    local v24 = { schedule = { frequency = "daily" }, destination_configuration = {},
                  destination_connection_id = UUID1, mode = "replicate", name = "n",
                  source_connection_id = UUID2, [KEY] = 1 }
    for _, list in ipairs { (problems_of(b)), (problems_of(v24, V24)) } do
      assert_not_quoted(list)
      for _, p in ipairs(list) do assert.equal("unknown field", p.problem) end
    end
  end)

  it("still gets a suggestion that quotes the schema, not the input", function()
    local b = body_2025()
    b.mode = "snapshots"
    b.default_schedule.frequency = "Daily"
    local p = by_path((problems_of(b)))
    assert.equal("must be one of: snapshot, replicate, got a string of 9 bytes; did you mean `snapshot`?", p.mode[1])
    assert.truthy(p["default_schedule.frequency"][1]:find("; did you mean `daily`?", 1, true))
  end)

  it("never reaches the ValidationError of bulksync.validate and bulksync.encode", function()
    local b = body_2025()
    b.mode = KEY
    b.default_schedule.frequency = KEY
    local ok, err = bulksync.validate(b)
    assert.is_false(ok)
    assert.equal("ValidationError", err.kind)
    assert.falsy(tostring(err):find(KEY, 1, true))
    assert.falsy(err.message:find(KEY, 1, true))
    local ok2, err2 = pcall(bulksync.encode, b)
    assert.is_false(ok2)
    assert.falsy(tostring(err2):find(KEY, 1, true))
  end)
end)

describe("the work one body may cost", function()
  -- 41 tables, but each level's two keys share the next level: a walk of
  -- 2^40 values.
  local function shared(levels)
    local t = {}
    for _ = 1, levels do t = { a = t, b = t } end
    return t
  end

  it("exports its defaults and ceilings as core.LIMITS", function()
    assert.is_table(core.LIMITS)
    assert.is_number(core.LIMITS.max_values)
    assert.is_number(core.LIMITS.max_bytes)
    -- several times the 3,000-schema benchmark body (about 81,000 values)
    assert.truthy(core.LIMITS.max_values >= 400000)
    assert.truthy(core.LIMITS.max_bytes >= 16 * 1024 * 1024)
    assert.truthy(core.LIMITS.ceiling.max_values > core.LIMITS.max_values)
    assert.truthy(core.LIMITS.ceiling.max_bytes > core.LIMITS.max_bytes)
  end)

  it("ends bulksync.validate and core.encode of a 2^40-value body with a problem", function()
    -- In a child process: before the limit existed this never returned,
    -- and the guard there turns that into a failure instead of a hang.
    local ok, out = child.run([[
      local core = require "bulksync.core"
      local bulksync = require "bulksync"
      local t = {}
      for _ = 1, 40 do t = { a = t, b = t } end
      local body = {
        default_schedule = { frequency = "daily" }, destination_configuration = t,
        destination_connection_id = "0b2f6a3e-7c1d-4e5f-8a9b-0c1d2e3f4a5b", mode = "replicate",
        name = "n", source_connection_id = "0b2f6a3e-7c1d-4e5f-8a9b-0c1d2e3f4a5b" }
      local ok, err = bulksync.validate(body)
      assert(ok == false and err.kind == "ValidationError")
      io.write("validate\t", err.errors[1].path, "\t", err.errors[1].problem, "\n")
      local json, problems = core.encode(body, "2025-09-18")
      assert(json == nil)
      io.write("encode\t", problems[1].path, "\t", problems[1].problem, "\n")
      local json2, problems2 = core.encode_value(t)
      assert(json2 == nil)
      io.write("value\t", problems2[1].path, "\t", problems2[1].problem, "\n")
    ]], { seconds = 60 })
    assert.is_true(ok, out)
    local want = ("body is too large: more than %d values visited (raise with max_values)"):format(core.LIMITS.max_values)
    assert.truthy(out:find("validate\tdestination_configuration\t" .. want .. "\n", 1, true), out)
    assert.truthy(out:find("encode\tdestination_configuration\t" .. want .. "\n", 1, true), out)
    -- Without a schema the path is where the limit was passed.
    assert.truthy(out:find("value\t[ab.]*\t" .. want:gsub("%p", "%%%0") .. "\n"), out)
  end)

  it("takes a lower or higher max_values per call", function()
    local b = body_2025()
    b.destination_configuration = shared(12)   -- 8190 values
    local ok, problems, count = core.validate(b, V25, false, { max_values = 1000 })
    assert.is_nil(ok)
    assert.equal(1, count)
    assert.equal("destination_configuration", problems[1].path)
    assert.equal("body is too large: more than 1000 values visited (raise with max_values)", problems[1].problem)
    assert.is_true(core.validate(b, V25, false, { max_values = 100000 }))
    assert.is_true(core.validate(b, V25))
    assert.is_string(core.encode(b, V25, false, { max_values = 100000 }))
  end)

  it("counts the declared fields and list items too", function()
    local b = body_2025()
    b.schemas = {}
    for i = 1, 500 do b.schemas[i] = "s" .. i end
    local _, problems = core.validate(b, V25, false, { max_values = 100 })
    assert.equal("body is too large: more than 100 values visited (raise with max_values)", problems[1].problem)
    assert.truthy(problems[1].path:find("^schemas%[%d+%]$"), problems[1].path)
    assert.is_true(core.validate(b, V25, false, { max_values = 1000 }))
  end)

  it("stops encoding at max_bytes, also for one long string or key", function()
    local b = body_2025()
    b.destination_configuration = shared(16)
    local json, problems = core.encode(b, V25, false, { max_values = 1e9, max_bytes = 100000 })
    assert.is_nil(json)
    assert.equal(1, #problems)
    assert.equal("destination_configuration", problems[1].path)
    assert.equal("body is too large: more than 100000 bytes of JSON (raise with max_bytes)", problems[1].problem)

    local long = string.rep("x", 5000)
    b = body_2025()
    b.name = long
    problems = select(2, core.encode(b, V25, false, { max_bytes = 4096 }))
    assert.equal("name", problems[1].path)
    assert.truthy(problems[1].problem:find("more than 4096 bytes", 1, true))
    b.name = "n"
    b.destination_configuration = { [long] = true }
    problems = select(2, core.encode(b, V25, false, { max_bytes = 4096 }))
    assert.equal("destination_configuration", problems[1].path)
    assert.truthy(problems[1].problem:find("more than 4096 bytes", 1, true))
    -- The same body fits the defaults.
    assert.is_string(core.encode(b, V25))
    assert.is_string(core.encode_value({ long, long }, { max_bytes = 20000 }))
    assert.is_nil(core.encode_value({ long, long }, { max_bytes = 9000 }))
  end)

  it("refuses limits it cannot use", function()
    local b = body_2025()
    for _, bad in ipairs { { max_values = 0 }, { max_values = 1.5 }, { max_values = "10" },
                           { max_bytes = -1 }, { max_bytes = core.LIMITS.ceiling.max_bytes * 2 },
                           { max_value = 10 }, { [1] = 10 }, "10" } do
      assert.has_error(function() core.validate(b, V25, false, bad) end)
      assert.has_error(function() core.encode(b, V25, false, bad) end)
    end
    assert.has_error(function() core.encode_value({}, { max_bytes = 0 }) end)
    local ok, err = pcall(core.validate, b, V25, false, { ["sk_live_secret"] = 1 })
    assert.is_false(ok)
    assert.falsy(tostring(err):find("sk_live_secret", 1, true))
    assert.is_true(core.validate(b, V25, false, { max_values = core.LIMITS.ceiling.max_values }))
  end)

  it("lets a 3,000-schema body through with the defaults", function()
    local b = body_2025()
    b.destination_configuration = { schema = "ANALYTICS", advanced = { warehouse = "LOAD_WH", batch_size = 5000 } }
    b.schemas = {}
    local columns = { "id", "created_at", "updated_at", "email", "status", "amount", "region", "notes" }
    for i = 1, 3000 do
      local fields = {}
      for f = 1, 10 do
        local col = columns[(f - 1) % #columns + 1]
        fields[f] = f % 3 == 0 and { id = col, enabled = true, obfuscate = false } or col
      end
      b.schemas[i] = { id = ("public.table_%04d"):format(i), enabled = true, tracking_field = "updated_at",
        fields = fields, filters = { { field_id = "status", ["function"] = "StringOneOf", value = { "a", "b" } } } }
    end
    assert.is_true(core.validate(b, V25))
    local json = assert(core.encode(b, V25))
    assert.truthy(#json > 1000000)
  end)
end)

describe("the same table gives the same bytes", function()
  local function keys_in_order(json, pattern)
    local out = {}
    for k in json:gmatch(pattern) do out[#out + 1] = k end
    return out
  end

  local function is_sorted(list)
    for i = 2, #list do
      if list[i - 1] >= list[i] then return false end
    end
    return true
  end

  it("writes a free-form map's keys in bytewise order, at any depth", function()
    local map, nested, filter_value = {}, {}, {}
    for i = 300, 1, -1 do
      map["k" .. i] = i
      nested["n" .. i] = { ["z" .. i] = true, ["a" .. i] = false }
      filter_value["v" .. i] = i
    end
    map.nested = nested
    local b = body_2025()
    b.destination_configuration = map
    b.source_configuration = { Zeta = 1, alpha = 2, ["\xc3\xa9t\xc3\xa9"] = 3, [""] = 4, Alpha = 5, ["alpha\0"] = 6 }
    b.schemas = { { id = "s", filters = { { ["function"] = "Equality", value = filter_value } } } }
    local json = assert(core.encode(b, V25))
    local ks = keys_in_order(json, '"(k%d+)":')
    assert.equal(300, #ks)
    assert.is_true(is_sorted(ks))
    assert.is_true(is_sorted(keys_in_order(json, '"(n%d+)":')))
    assert.is_true(is_sorted(keys_in_order(json, '"(v%d+)":')))
    assert.truthy(json:find('{"a1":false,"z1":true}', 1, true))
    assert.truthy(json:find('"source_configuration":{"":4,"Alpha":5,"Zeta":1,"alpha":2,"alpha\\u0000":6,"\xc3\xa9t\xc3\xa9":3}', 1, true))
    -- core.encode_value sorts as well.
    assert.equal('{"a":{"x":1,"y":2},"b":[1,2],"c":true}', core.encode_value({ c = true, b = { 1, 2 }, a = { y = 2, x = 1 } }))
  end)

  it("writes declared fields in the schema's order", function()
    local b = body_2025()
    b.active = true
    b.automatically_add_new_fields = "all"
    b.automatically_add_new_objects = "none"
    b.concurrency_limit = 2
    b.data_cutoff_timestamp = "2024-01-01T00:00:00Z"
    b.disable_record_timestamps = false
    b.normalize_names = "enabled"
    b.policies = { UUID1 }
    b.resync_concurrency_limit = 1
    b.source_configuration = { x = 1 }
    b.schemas = { { id = "s", enabled = true, tracking_field = "t", partition_key = "p",
                    disable_data_cutoff = false, fields = { "f" } } }
    local json = assert(core.encode(b, V25))
    local top = {}
    for _, f in ipairs(core.schema(V25).fields) do
      local at = json:find('"' .. f.name .. '":', 1, true)
      if at then top[#top + 1] = at end
    end
    assert.equal(17, #top)
    for i = 2, #top do assert.truthy(top[i - 1] < top[i], json) end
    assert.truthy(json:find('"default_schedule":{"frequency":"daily","hour":"05","minute":"30"}', 1, true), json)
    local want = '{"id":"s","enabled":true,"disable_data_cutoff":false,"partition_key":"p",'
      .. '"tracking_field":"t","fields":["f"]}'
    assert.truthy(json:find(want, 1, true), json)
  end)

  it("gives the same bytes in two processes, whatever the insertion order", function()
    local code = [[
      local core = require "bulksync.core"
      local order = ...
      local n = 400
      local function map(depth)
        local t = {}
        local from, to, step = 1, n, 1
        if order == "reverse" then from, to, step = n, 1, -1 end
        for i = from, to, step do
          local k = ("key%03d"):format(i)
          t[k] = depth > 0 and i % 40 == 0 and map(depth - 1) or i
        end
        return t
      end
      local body = {
        default_schedule = { frequency = "daily", hour = "05" }, destination_configuration = map(1),
        destination_connection_id = "0b2f6a3e-7c1d-4e5f-8a9b-0c1d2e3f4a5b", mode = "replicate",
        name = "n", source_connection_id = "0b2f6a3e-7c1d-4e5f-8a9b-0c1d2e3f4a5b",
        source_configuration = map(0), active = true, policies = { "0b2f6a3e-7c1d-4e5f-8a9b-0c1d2e3f4a5b" } }
      io.write(assert(core.encode(body, "2025-09-18")))
    ]]
    local ok1, out1 = child.run(code, { args = { "forward" } })
    local ok2, out2 = child.run(code, { args = { "reverse" } })
    local ok3, out3 = child.run(code, { args = { "forward" } })
    assert.is_true(ok1, out1)
    assert.is_true(ok2, out2)
    assert.is_true(ok3, out3)
    assert.truthy(#out1 > 5000)
    assert.equal(out1, out2)
    assert.equal(out1, out3)
  end)
end)

describe("a response with two different Content-Length headers", function()
  local ID = "0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a51"
  local DATA = '{"data":{"id":"' .. ID .. '"}}'

  local function start(steps)
    local srv = raw.start(steps)
    finally(function() srv:stop() end)
    return srv
  end

  local function two_lengths(a, b, body)
    return { send = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " .. a ..
                    "\r\nContent-Length: " .. b .. "\r\n\r\n" .. body, close = true }
  end

  it("is a TransportError from core.http", function()
    local srv = start { two_lengths(#DATA, #DATA - 10, DATA), two_lengths(#DATA - 10, #DATA, DATA) }
    local h = core.http {}
    finally(function() h:close() end)
    for _ = 1, 2 do
      local status, kind, message = h:perform("GET", srv.url .. "/x")
      assert.is_nil(status)
      assert.equal("TransportError", kind)
      assert.equal("the response had conflicting Content-Length headers", message)
    end
  end)

  it("is a TransportError from one list header that disagrees with itself", function()
    local srv = start { { send = "HTTP/1.1 200 OK\r\nContent-Length: " .. #DATA .. ", 3\r\n\r\n" .. DATA, close = true } }
    local h = core.http {}
    finally(function() h:close() end)
    local status, kind, message = h:perform("GET", srv.url .. "/x")
    assert.is_nil(status)
    assert.equal("TransportError", kind)
    assert.truthy(message:find("conflicting Content-Length", 1, true))
  end)

  it("is a TransportError in perform_many, and the other requests still succeed", function()
    local srv = start { two_lengths(#DATA, #DATA + 5, DATA),
                        { status = 200, body = DATA, close = true } }
    local h = core.http {}
    finally(function() h:close() end)
    local results = h:perform_many({ { method = "GET", url = srv.url .. "/a" },
                                     { method = "GET", url = srv.url .. "/b" } }, 1)
    assert.equal("TransportError", results[1].kind)
    assert.equal("the response had conflicting Content-Length headers", results[1].message)
    assert.equal(200, results[2].status)
    assert.equal(DATA, results[2].body)
  end)

  it("is a TransportError through bulksync.new with the curl transport", function()
    local srv = start { two_lengths(#DATA, 2, DATA) }
    local c = bulksync.new { api_key = "k", base_url = srv.url, transport = "curl", retries = 0 }
    finally(function() c:close() end)
    local ok, err = pcall(c.get, c, ID)
    assert.is_false(ok)
    assert.equal("TransportError", err.kind)
    assert.truthy(err.message:find("conflicting Content-Length", 1, true))
  end)

  it("is accepted when the same value is repeated", function()
    local srv = start { two_lengths(#DATA, #DATA, DATA),
                        { send = "HTTP/1.1 200 OK\r\nContent-Length: " .. #DATA .. ", " .. #DATA .. "\r\n\r\n" .. DATA, close = true },
                        -- an interim response's length does not count
                        { send = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: " .. #DATA
                          .. "\r\n\r\n" .. DATA, close = true } }
    local h = core.http {}
    finally(function() h:close() end)
    for _ = 1, 3 do
      local status, headers, text = h:perform("GET", srv.url .. "/x")
      assert.equal(200, status, tostring(headers))
      assert.equal(DATA, text)
    end
  end)
end)

describe("perform_many with a callback", function()
  local SIZE = 64 * 1024

  local function start()
    -- Every request gets a SIZE-byte body on a kept-alive connection.
    local srv = raw.start({}, { default = { status = 200, body_size = SIZE } })
    finally(function() srv:stop() end)
    return srv
  end

  it("keeps no response alive after its callback returned", function()
    local srv = start()
    local h = core.http {}
    finally(function() h:close() end)
    local reqs = {}
    for i = 1, 24 do reqs[i] = { method = "GET", url = srv.url .. "/r" .. i } end
    local seen = setmetatable({}, { __mode = "v" })   -- every result handed out, weakly
    local calls, most_alive = 0, 0
    local results = h:perform_many(reqs, 3, function(i, r)
      calls = calls + 1
      assert.equal(SIZE, #r.body)
      -- Every earlier result was dropped by its callback: after a full
      -- collection none of them may still be alive.
      collectgarbage()
      collectgarbage()
      local alive = 0
      for j in pairs(seen) do if j ~= i then alive = alive + 1 end end
      if alive > most_alive then most_alive = alive end
      seen[i] = r
    end)
    assert.equal(24, calls)
    assert.equal(0, most_alive)
    -- The list returned still says how each request went.
    for i = 1, 24 do
      assert.same({ status = 200 }, results[i])
    end
  end)

  it("still returns whole results without a callback", function()
    local srv = start()
    local h = core.http {}
    finally(function() h:close() end)
    local results = h:perform_many({ { method = "GET", url = srv.url .. "/a" },
                                     { method = "GET", url = srv.url .. "/b" } }, 2)
    for i = 1, 2 do
      assert.equal(200, results[i].status)
      assert.equal(SIZE, #results[i].body)
      assert.is_table(results[i].headers)
    end
  end)

  it("reports failures in the list returned as well", function()
    local h = core.http { connect_timeout = 1 }
    finally(function() h:close() end)
    local port = require "spec.support.ports"()
    local got
    local results = h:perform_many({ { method = "GET", url = "http://127.0.0.1:" .. port .. "/" } }, 1,
      function(_, r) got = r end)
    assert.equal("TransportError", got.kind)
    assert.equal(got.kind, results[1].kind)
    assert.equal(got.message, results[1].message)
    assert.equal(got.curl_code, results[1].curl_code)
    assert.is_nil(results[1].status)
  end)
end)
