-- JSON writer and reader of the C core (src/json.c): core.encode_value,
-- core.decode, core.array, core.null. cjson is the independent oracle: what
-- we write must read back the same under cjson.decode.
local core = require "bulksync.core"
local cjson = require "cjson"

local HAVE_INTEGER = math.type ~= nil and core.HAVE_INTEGER == true

-- Structural equality. Numbers compare numerically (cjson.decode gives
-- floats), null is the NULL light userdata in both libraries.
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do
    if not same(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

local function assert_same(expected, actual, what)
  if not same(expected, actual) then
    error(("%s: %s ~= %s"):format(what or "value",
      tostring(cjson.encode(expected)), tostring(cjson.encode(actual))), 2)
  end
end

-- encode_value must fail: returns the list of problems.
local function problems_of(v)
  local json, problems = core.encode_value(v)
  assert.is_nil(json)
  assert.is_table(problems)
  assert.is_true(#problems > 0)
  return problems
end

local function has_problem(problems, path, pattern)
  for _, p in ipairs(problems) do
    if p.path == path and p.problem:find(pattern) then return true end
  end
  return false
end

local function assert_problem(v, path, pattern)
  local problems = problems_of(v)
  if not has_problem(problems, path, pattern) then
    local got = {}
    for _, p in ipairs(problems) do got[#got + 1] = ("%q: %s"):format(p.path, p.problem) end
    error(("no problem %q at path %q; got: %s"):format(pattern, path, table.concat(got, "; ")), 2)
  end
end

local function reject(text, pattern)
  local v, err = core.decode(text)
  assert.is_nil(v, ("accepted %q"):format(text))
  assert.is_string(err)
  assert.matches("at byte %d+", err)
  if pattern then assert.matches(pattern, err) end
  return err
end

local function nested(depth, leaf)
  local root = leaf
  for _ = 1, depth do root = { root } end
  return root
end

describe("JSON round trip", function()
  local all_controls = {}
  for i = 0, 31 do all_controls[#all_controls + 1] = string.char(i) end
  all_controls = table.concat(all_controls)

  local values = {
    true, false, 0, 1, -1, 42, 0.5, -2.5, 1e-5, 123.456,
    "", "plain", "quote \" backslash \\ slash /", all_controls,
    "ünïcödé ✓ 𝄞 😀 \244\143\191\191 \239\191\191 \237\159\191 \238\128\128",
    "\127 delete",
    { 1, 2, 3 },
    { a = 1, b = "two", c = { true, false }, d = { e = { f = { g = "deep" } } } },
    { { {} }, { x = { y = { 1, { z = "z" } } } } },
    { ["key with \"quotes\"\n"] = "v", ["ключ"] = "значение", [""] = "empty key" },
    { list = { "a", "b", { 1.25, -7 } }, flag = false, n = 123456789 },
  }

  it("decodes what it encodes, and cjson reads the same structure", function()
    for i, v in ipairs(values) do
      local json = assert(core.encode_value(v))
      assert_same(v, core.decode(json), "core.decode #" .. i)
      assert_same(v, cjson.decode(json), "cjson.decode #" .. i)
    end
  end)

  it("decodes what cjson encodes", function()
    for i, v in ipairs(values) do
      assert_same(v, core.decode(cjson.encode(v)), "value #" .. i)
    end
  end)

  it("escapes only quote, backslash and control characters", function()
    assert.equals([["a/b"]], core.encode_value("a/b"))
    assert.equals([["é ✓"]], core.encode_value("é ✓"))
    assert.equals([["\"\\"]], core.encode_value("\"\\"))
    assert.equals([["\n\r\t\b\f"]], core.encode_value("\n\r\t\b\f"))
    assert.equals([["\u0000\u0001\u001f"]], core.encode_value("\0\1\31"))
    assert.equals('"\127"', core.encode_value("\127"))
  end)

  it("writes arrays and objects in JSON form", function()
    assert.equals("[1,2,3]", core.encode_value({ 1, 2, 3 }))
    assert.equals([[{"a":[true,false,null]}]], core.encode_value({ a = { true, false, core.null } }))
    assert.equals("{}", core.encode_value({}))
    assert.equals("[]", core.encode_value(core.array({})))
    assert.equals("[[]]", core.encode_value({ core.array({}) }))
  end)

  it("reads long arrays and objects whole", function()
    local arr, obj = {}, {}
    for i = 1, 100 do arr[i] = i * 3; obj["k" .. i] = { i } end
    assert_same(arr, core.decode(core.encode_value(arr)))
    assert_same(obj, core.decode(core.encode_value(obj)))
  end)
end)

describe("JSON numbers", function()
  it("writes Lua integers exactly", function()
    if not HAVE_INTEGER then
      -- Every number is a double: exact to 2^53, beyond it the nearest double.
      assert.equals("9007199254740992", core.encode_value(2 ^ 53))
      assert.equals("-9007199254740992", core.encode_value(-2 ^ 53))
      assert.equals(2 ^ 53, core.decode("9007199254740993"))
      assert.equals(2 ^ 53 - 1, core.decode(core.encode_value(2 ^ 53 - 1)))
      return
    end
    assert.equals("9223372036854775807", core.encode_value(math.maxinteger))
    assert.equals("-9223372036854775808", core.encode_value(math.mininteger))
    local big = math.tointeger(2 ^ 53) + 1          -- not a double
    assert.equals("9007199254740993", core.encode_value(big))
    for _, n in ipairs({ math.maxinteger, math.mininteger, big, 0, -1, 7 }) do
      local back = core.decode(core.encode_value(n))
      assert.equals("integer", math.type(back))
      assert.equals(n, back)
    end
  end)

  it("writes integral floats as plain digits", function()
    assert.equals("9007199254740992", core.encode_value(2.0 ^ 53))
    assert.equals("1000000000000000", core.encode_value(1e15))
    assert.equals("-1000000000000000000", core.encode_value(-1e18))
    assert.equals("3", core.encode_value(3.0))
  end)

  it("writes short decimals shortest", function()
    assert.equals("0.1", core.encode_value(0.1))
    assert.equals("-2.5", core.encode_value(-2.5))
    assert.equals("123.456", core.encode_value(123.456))
    assert.equals("0.00001", core.encode_value(1e-5))
    assert.equals("0.3333333333333333", core.encode_value(1 / 3))
    assert.equals("0.30000000000000004", core.encode_value(0.1 + 0.2))
  end)

  it("round-trips floats exactly", function()
    local floats = { 0.1, 1 / 3, 2 / 3, 1e300, -1e300, 5e-324, 2.2250738585072014e-308,
                     1.7976931348623157e308, -2.5, 0.1 + 0.2, 123456.789e3, 2 ^ 63, 2 ^ 64, 1e22, 1e23 }
    for _, x in ipairs(floats) do
      local json = core.encode_value(x)
      assert.equals(x, core.decode(json), json)
      assert.equals(x, cjson.decode(json), json)
      assert.equals(x, tonumber(json), json)
    end
  end)

  it("round-trips random bit patterns exactly", function()
    math.randomseed(20240208)
    local checked = 0
    -- Without string.unpack (5.1, 5.2, LuaJIT) build the double from a
    -- random 52-bit mantissa and exponent instead.
    local ldexp = math.ldexp or function(m, e) return m * 2.0 ^ e end
    local function random_double()
      if string.unpack then
        local bytes = {}
        for j = 1, 8 do bytes[j] = string.char(math.random(0, 255)) end
        return (string.unpack("<d", table.concat(bytes)))
      end
      local m = math.random(0, 2 ^ 26 - 1) * 2 ^ 26 + math.random(0, 2 ^ 26 - 1)
      local x = ldexp(1 + m / 2 ^ 52, math.random(-1022, 1023))
      return math.random(0, 1) == 1 and -x or x
    end
    for _ = 1, 3000 do
      local x = random_double()
      if x == x and x - x == 0 then
        local json = core.encode_value(x)
        assert.equals(x, core.decode(json), json)
        assert.equals(x, tonumber(json), json)
        checked = checked + 1
      end
    end
    assert.is_true(checked > 2500)
  end)

  it("round-trips random everyday magnitudes exactly", function()
    -- where the fixed-point shortcut is taken, and its fallback
    math.randomseed(20250918)
    local checked = 0
    for _ = 1, 3000 do
      local x = (math.random() - 0.5) * 10 ^ math.random(-5, 15)
      local short = math.floor(x * 1000 + 0.5) / 1000
      for _, y in ipairs({ x, short }) do
        local json = core.encode_value(y)
        assert.equals(y, core.decode(json), json)
        assert.equals(y, tonumber(json), json)
        checked = checked + 1
      end
    end
    assert.equals(6000, checked)
  end)

  -- -0.0 keeps its sign both ways: it is written "-0" and "-0" reads back
  -- as the float -0.0 (an integer has no negative zero).
  it("keeps the sign of negative zero", function()
    assert.equals("-0", core.encode_value(-0.0))
    local z = core.decode("-0")
    assert.equals(0, z)
    assert.equals(-math.huge, 1 / z)
    assert.equals(-math.huge, 1 / core.decode("-0.0"))
    assert.equals(math.huge, 1 / core.decode("0"))
  end)

  it("reads integer literals as integers and the rest as floats", function()
    if not HAVE_INTEGER then
      -- One number type: the same values, read as doubles.
      assert.equals(5, core.decode("5"))
      assert.equals(-17, core.decode("-17"))
      assert.equals(5, core.decode("5.0"))
      assert.equals(2 ^ 63, core.decode("9223372036854775807"))
      assert.equals(-2 ^ 63, core.decode("-9223372036854775808"))
      return
    end
    assert.equals("integer", math.type(core.decode("5")))
    assert.equals("float", math.type(core.decode("5.0")))
    assert.equals("float", math.type(core.decode("5e0")))
    assert.equals("integer", math.type(core.decode("-17")))
    assert.equals(math.mininteger, core.decode("-9223372036854775808"))
    assert.equals(math.maxinteger, core.decode("9223372036854775807"))
    assert.equals("float", math.type(core.decode("9223372036854775808")))
    assert.equals(2 ^ 63, core.decode("9223372036854775808"))
    assert.equals("float", math.type(core.decode("-9223372036854775809")))
  end)

  it("reads every number form RFC 8259 allows", function()
    assert.equals(100, core.decode("1E2"))
    assert.equals(100, core.decode("1e+2"))
    assert.equals(0.01, core.decode("1e-2"))
    assert.equals(-0.5, core.decode("-0.5"))
    assert.equals(0.1, core.decode("0.1"))
    assert.equals(1.5, core.decode("15e-1"))
    assert.equals(1e300, core.decode("1e300"))
    assert.equals(0, core.decode("1e-400"))
    assert.equals(0.1, core.decode("0.1000000000000000000000000000000000001"))
    assert.equals(12345678901234567890, core.decode("12345678901234567890"))
  end)

  it("writes '.' as the decimal point whatever the C locale", function()
    local old = os.setlocale(nil, "numeric")
    local comma
    for _, name in ipairs({ "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "ru_RU.UTF-8" }) do
      if os.setlocale(name, "numeric") then comma = name break end
    end
    if not comma then return pending("no locale with a decimal comma installed") end
    local ok, err = pcall(function()
      assert.equals("0.3333333333333333", core.encode_value(1 / 3))
      assert.equals("1.7976931348623157e+308", core.encode_value(1.7976931348623157e308))
      assert.equals(1 / 3, core.decode("0.3333333333333333"))
      assert.equals(1.7976931348623157e308, core.decode("1.7976931348623157e308"))
    end)
    os.setlocale(old, "numeric")
    assert(ok, err)
  end)
end)

describe("JSON null and empty containers", function()
  it("maps null to core.null both ways", function()
    assert.equals("null", core.encode_value(core.null))
    assert.equals(core.null, core.decode("null"))
    assert.equals(core.null, core.decode("[null]")[1])
    assert.equals(core.null, core.decode([[{"a":null}]]).a)
    assert.equals([[{"a":null}]], core.encode_value({ a = core.null }))
    assert.equals("[1,null,3]", core.encode_value({ 1, core.null, 3 }))
    assert.equals(cjson.null, core.decode("null"))
  end)

  it("marks decoded arrays so empty ones stay arrays", function()
    local arr = core.decode("[]")
    assert.equals(core.array_mt, getmetatable(arr))
    assert.equals(core.array_mt, getmetatable(core.decode("[1,2]")))
    assert.is_nil(getmetatable(core.decode("{}")))
    assert.equals("[]", core.encode_value(arr))
    assert.equals("{}", core.encode_value(core.decode("{}")))
    local again = core.encode_value(core.decode([[{"a":[],"b":{}}]]))
    assert.is_truthy(again == [[{"a":[],"b":{}}]] or again == [[{"b":{},"a":[]}]], again)
  end)

  it("keeps the last of repeated keys", function()
    assert.equals(3, core.decode([[{"a":1,"a":3}]]).a)
    -- past the point where a long object starts filling its table directly
    local parts = {}
    for i = 1, 40 do parts[#parts + 1] = ('"k%d":%d'):format(i % 20, i) end
    local obj = core.decode("{" .. table.concat(parts, ",") .. "}")
    assert.equals(40, obj.k0)
    assert.equals(39, obj.k19)
  end)
end)

describe("JSON strings in", function()
  it("decodes escapes and surrogate pairs to UTF-8", function()
    assert.equals("/", core.decode([["\/"]]))
    assert.equals("\"\\\b\f\n\r\t", core.decode([["\"\\\b\f\n\r\t"]]))
    assert.equals("é", core.decode([["\u00e9"]]))
    assert.equals("é", core.decode([["\u00E9"]]))
    assert.equals("€", core.decode([["\u20ac"]]))
    assert.equals("😀", core.decode([["\ud83d\ude00"]]))
    assert.equals("\244\143\191\191", core.decode([["\uDBFF\uDFFF"]]))
    assert.equals("a\0b", core.decode([["a\u0000b"]]))
    assert.equals("x😀y\ny", core.decode([["x\ud83d\ude00y\ny"]]))
  end)

  it("keeps raw UTF-8 as is", function()
    assert.equals("ünïcödé ✓ 😀", core.decode('"ünïcödé ✓ 😀"'))
  end)

  it("skips the four JSON whitespace characters", function()
    assert_same({ a = { 1, 2 } }, core.decode(' \t\r\n{ "a" :\n[ 1 ,\t2 ] }\r\n '))
  end)
end)

describe("encode_value rejects", function()
  it("NaN and infinities, with the path of the value", function()
    assert_problem(0 / 0, "", "NaN and infinity cannot be encoded in JSON")
    assert_problem(math.huge, "", "NaN and infinity")
    assert_problem(-math.huge, "", "NaN and infinity")
    assert_problem({ a = { b = { 1, 0 / 0 } } }, "a.b[2]", "NaN and infinity")
    assert_problem({ x = { math.huge } }, "x[1]", "NaN and infinity")
  end)

  it("a table that contains itself", function()
    local t = {}
    t.self = t
    assert_problem(t, "self", "cycle %(table contains itself%)")
    local a, b = {}, {}
    a.list = { b }
    b.back = a
    assert_problem(a, "list[1].back", "cycle")
  end)

  it("the same table twice, if not nested in itself, is fine", function()
    local shared = { 1 }
    local json = assert(core.encode_value({ a = shared, b = shared }))
    assert_same({ a = { 1 }, b = { 1 } }, cjson.decode(json))
  end)

  it("nesting deeper than 64 levels", function()
    assert.is_string(core.encode_value(nested(63, {})))      -- 64 tables
    local problems = problems_of(nested(64, {}))             -- 65 tables
    assert.equals(1, #problems)
    assert.matches("nested deeper than 64 levels", problems[1].problem)
    assert.equals(string.rep("[1]", 64), problems[1].path)
  end)

  it("mixed tables", function()
    assert_problem({ 1, 2, x = 3 }, "", "mixed table %(integer and string keys%)")
    assert_problem({ a = { b = { x = 1, [1] = 2 } } }, "a.b", "mixed table")
  end)

  it("sparse arrays, naming the missing index", function()
    assert_problem({ 1, nil, 3 }, "", "sparse array %(missing index 2%)")
    assert_problem({ [2] = "x" }, "", "missing index 1")
    assert_problem({ list = { [1] = 1, [2] = 2, [4] = 4 } }, "list", "missing index 3")
    local marked = core.array({})
    marked[1], marked[3] = 1, 3
    assert_problem(marked, "", "missing index 2")
    assert_problem(core.array({ 1, x = 2 }), "", "mixed table")
    assert_problem(core.array({ x = 2 }), "", "string keys in a table marked as an array")
    assert.equals("[1,2]", core.encode_value(core.array({ 1, 2 })))
  end)

  it("keys that are not strings", function()
    assert_problem({ [true] = 1 }, "", "key of type boolean %(object keys must be strings%)")
    assert_problem({ a = { [{}] = 1 } }, "a", "key of type table")
    assert_problem({ [1.5] = 1 }, "", "object keys must be strings")
    assert_problem({ [0] = 1 }, "", "object keys must be strings")
    assert_problem({ [-1] = 1 }, "", "object keys must be strings")
  end)

  it("values JSON has no form for", function()
    assert_problem(print, "", "cannot encode a function as JSON")
    assert_problem({ f = print }, "f", "cannot encode a function as JSON")
    assert_problem({ co = coroutine.create(function() end) }, "co", "cannot encode a thread as JSON")
    assert_problem({ io.stdout }, "[1]", "cannot encode a userdata as JSON")
  end)

  it("strings and keys that are not valid UTF-8, naming the byte", function()
    local bad = {
      { "\255", 1 },                    -- never valid
      { "ab\128", 3 },                  -- stray continuation byte
      { "\192\175", 1 },                -- overlong '/'
      { "\224\128\175", 1 },            -- overlong, 3 bytes
      { "\240\128\128\175", 1 },        -- overlong, 4 bytes
      { "x\237\160\128", 2 },           -- U+D800, a surrogate
      { "\237\191\191", 1 },            -- U+DFFF
      { "\244\144\128\128", 1 },        -- U+110000
      { "\248\136\128\128\128", 1 },    -- 5-byte form
      { "ok\226\130", 3 },              -- truncated euro sign
      { "\226\130x", 1 },               -- continuation missing
    }
    for _, case in ipairs(bad) do
      assert_problem(case[1], "", ("is not valid UTF%%-8 %%(byte %d%%)"):format(case[2]))
      assert_problem({ a = { case[1] } }, "a[1]", "is not valid UTF%-8")
    end
    assert_problem({ ["k\255"] = 1 }, "k?", "key is not valid UTF%-8 %(byte 2%)")
    assert_problem({ ok = { ["\192\175"] = 1 } }, "ok.??", "key is not valid UTF%-8")
  end)

  it("every problem in one pass", function()
    local problems = problems_of({ a = 0 / 0, b = print, c = { 1, nil, 3 }, d = { "\255" }, e = "fine" })
    assert.equals(4, #problems)
    assert.is_true(has_problem(problems, "a", "NaN"))
    assert.is_true(has_problem(problems, "b", "function"))
    assert.is_true(has_problem(problems, "c", "missing index 2"))
    assert.is_true(has_problem(problems, "d[1]", "UTF%-8"))
  end)

  it("problems nested under a bad table", function()
    local problems = problems_of({ 1, x = { y = 0 / 0 } })
    assert.is_true(has_problem(problems, "", "mixed table"))
    assert.is_true(has_problem(problems, "x.y", "NaN"))
  end)

  it("without running metamethods", function()
    local touched = false
    local t = setmetatable({ a = 1 }, {
      __index = function() touched = true end,
      __pairs = function() touched = true return next, {}, nil end,
      __len = function() touched = true return 0 end,
    })
    assert.equals([[{"a":1}]], core.encode_value(t))
    assert.is_false(touched)
  end)
end)

describe("decode rejects", function()
  it("anything after the value", function()
    assert.equals("unexpected character 'x' at byte 5", reject("[1] x"))
    reject("1 2")
    reject("{} {}")
    reject("nullx")
  end)

  it("empty input", function()
    assert.equals("unexpected end of input at byte 1", reject(""))
    assert.equals("unexpected end of input at byte 4", reject("   "))
  end)

  it("unfinished values", function()
    reject("[1, 2", "end of input")
    reject('{"a": 1', "end of input")
    reject('"abc', "end of input")
    reject('"abc\\', "end of input")
    reject("tru", "end of input")
    reject("[", "end of input")
  end)

  it("raw control characters in strings", function()
    reject('"a\tb"', "control character")
    reject('"a\nb"', "control character")
    reject('"\0"', "control character")
    reject('"\31"', "at byte 2")
  end)

  it("bad escapes", function()
    reject([["\q"]], "invalid escape")
    reject([["\x41"]], "invalid escape")
    reject([["\u12"]])
    reject([["\u12G4"]])
    reject([["\U0041"]])
    reject([["\'"]])
  end)

  it("lone surrogates", function()
    reject([["\ud800"]], "lone surrogate")
    reject([["\udc00"]], "lone surrogate")
    reject([["\ud800x"]], "lone surrogate")
    reject([["\ud800\u0041"]], "lone surrogate")
    reject([["\ud800\ud800"]], "lone surrogate")
    reject([["\udfff\ud800"]], "lone surrogate")
  end)

  it("invalid UTF-8 in the input", function()
    reject('"\255"', "UTF%-8")
    reject('"\192\175"', "UTF%-8")
    reject('"\237\160\128"', "UTF%-8")
    reject('"\244\144\128\128"', "UTF%-8")
    reject('"ok\226\130"', "UTF%-8")
    reject('"\\n\255"', "UTF%-8")
    reject('\239\187\191{}')                      -- a byte order mark is not JSON
  end)

  it("numbers RFC 8259 does not allow", function()
    for _, text in ipairs({ "01", "-01", "00", "00.5", "+1", ".5", "-.5", "1.", "1.e5", "1e", "1e+",
                            "-", "0x10", "1_000", "- 1", "[01]" }) do
      reject(text)
    end
    reject("01", "leading zero")
    reject("+1", "unexpected character '%+' at byte 1")
  end)

  it("NaN and Infinity", function()
    for _, text in ipairs({ "NaN", "nan", "Infinity", "-Infinity", "inf", "[NaN]" }) do
      reject(text)
    end
    reject("1e400", "out of range")
    reject("-1e400", "out of range")
  end)

  it("nesting deeper than 64 levels", function()
    assert_same(nested(63, {}), core.decode(string.rep("[", 64) .. string.rep("]", 64)))
    assert.equals("nesting deeper than 64 levels at byte 65",
                  reject(string.rep("[", 65) .. string.rep("]", 65)))
    reject(string.rep('{"a":', 65) .. "1" .. string.rep("}", 65), "nesting deeper than 64 levels")
    reject(string.rep("[", 100000))
  end)

  it("broken structure", function()
    assert.equals("unexpected character ']' at byte 4", reject("[1,]"))
    reject('{"a":1,}')
    reject("{a:1}")
    reject("{'a':1}")
    reject("[1 2]")
    reject('{"a" 1}')
    reject('{"a":}')
    reject('{1:2}')
    reject("[,1]")
    reject("]")
    reject("\1")
    assert.equals("unexpected character 'x' at byte 6", reject('[1, 2x]'))
  end)

  it("leaving the stack as it was", function()
    -- an error deep inside must not leave half-built tables behind
    for _ = 1, 50 do
      local v, err = core.decode('[{"a":[1,2,{"b":"\\u00e9"}]},' .. string.rep("[", 10) .. "x")
      assert.is_nil(v)
      assert.matches("at byte", err)
    end
    assert.equals(3, select("#", 1, core.decode("[1]"), 3))
  end)
end)
