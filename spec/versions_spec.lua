-- What differs between the Luas: numbers. Lua 5.3 and 5.4 have a 64-bit
-- integer subtype; Lua 5.1, 5.2 and LuaJIT have only doubles, which hold
-- every integer exactly up to 2^53 and no further. The defined behaviour:
--
-- * Everywhere: integers up to 2^53 in magnitude encode and decode exactly.
-- * Without an integer subtype (bulksync.core.HAVE_INTEGER is false): a JSON
--   integer above 2^53 decodes to the nearest double (ties to even), so
--   9007199254740993 reads as 9007199254740992 and would be sent back so.
--   An integer field of a body (concurrency_limit, ...) outside +-2^53 is
--   a ValidationError rather than a silently different number.
-- * With one (HAVE_INTEGER is true): JSON integers within int64 decode to Lua
--   integers and every int64, math.mininteger to math.maxinteger, round-
--   trips exactly; beyond int64 a number decodes to a float.
--
-- The API's ids are UUID strings and its integer fields are small, so no
-- real response is affected; this pins down the edge anyway.
local bulksync = require "bulksync"
local core = require "bulksync.core"

local TWO53 = 2 ^ 53

local function body(limit)
  return {
    name = "n", mode = "replicate",
    source_connection_id = "a1c0ffee-0000-4000-8000-000000000001",
    destination_connection_id = "a1c0ffee-0000-4000-8000-000000000002",
    destination_configuration = { schema = "s" },
    default_schedule = { frequency = "daily" },
    concurrency_limit = limit,
  }
end

local function limit_text(json)
  return json:match('"concurrency_limit":([^,}]+)')
end

describe("numbers on " .. _VERSION .. (jit and (" (" .. jit.version .. ")") or ""), function()
  it("the C core was built for this interpreter", function()
    assert.equal(math.type ~= nil, core.HAVE_INTEGER)
  end)

  it("encodes and decodes integers up to 2^53 exactly", function()
    assert.equal("9007199254740992", core.encode_value(TWO53))
    assert.equal("-9007199254740992", core.encode_value(-TWO53))
    assert.equal("9007199254740991", core.encode_value(TWO53 - 1))
    assert.equal(TWO53, bulksync.decode("9007199254740992"))
    assert.equal(-TWO53, bulksync.decode("-9007199254740992"))
    assert.equal(TWO53 - 1, bulksync.decode("9007199254740991"))
    assert.equal("9007199254740992", limit_text(bulksync.encode(body(TWO53))))
  end)

  it("gives a whole number written as 5.0 the same value as 5", function()
    assert.equal(5, bulksync.decode("5.0"))
    assert.equal("5", limit_text(bulksync.encode(body(5.0))))
  end)

  if not core.HAVE_INTEGER then
    describe("without an integer subtype", function()
      it("decodes an integer above 2^53 to the nearest double, ties to even", function()
        assert.equal(TWO53, bulksync.decode("9007199254740993"))
        assert.equal(TWO53 + 4, bulksync.decode("9007199254740995"))
        assert.equal(-TWO53, bulksync.decode("-9007199254740993"))
        assert.equal(2 ^ 63, bulksync.decode("9223372036854775807"))
        -- so it is not sent back as it came
        assert.equal("9007199254740992", core.encode_value(bulksync.decode("9007199254740993")))
      end)

      it("refuses an integer field beyond 2^53 instead of sending another number", function()
        local ok, err = bulksync.validate(body(TWO53 + 2))
        assert.is_false(ok)
        assert.equal("ValidationError", err.kind)
        assert.equal("concurrency_limit", err.errors[1].path)
        assert.matches("between -2^53 and 2^53", err.errors[1].problem, 1, true)
      end)
    end)
  else
    describe("with 64-bit integers", function()
      local maxi, mini = math.maxinteger, math.mininteger

      it("round-trips math.maxinteger and math.mininteger exactly", function()
        assert.equal("9223372036854775807", core.encode_value(maxi))
        assert.equal("-9223372036854775808", core.encode_value(mini))
        local back = bulksync.decode(core.encode_value({ maxi, mini }))
        assert.equal(maxi, back[1])
        assert.equal(mini, back[2])
        assert.equal("integer", math.type(back[1]))
        assert.equal("integer", math.type(back[2]))
        assert.equal("9223372036854775807", limit_text(bulksync.encode(body(maxi))))
      end)

      it("keeps integers above 2^53 exact", function()
        local above = math.tointeger(TWO53) + 1
        assert.equal(above, bulksync.decode("9007199254740993"))
        assert.equal("integer", math.type(bulksync.decode("9007199254740993")))
        assert.equal("9007199254740993", core.encode_value(above))
      end)

      it("decodes integers as integers and decimals as floats", function()
        assert.equal("integer", math.type(bulksync.decode("5")))
        assert.equal("float", math.type(bulksync.decode("5.0")))
        assert.equal("float", math.type(bulksync.decode("5e0")))
      end)

      it("decodes a number beyond int64 to a float", function()
        local v = bulksync.decode("9223372036854775808")
        assert.equal("float", math.type(v))
        assert.equal(2 ^ 63, v)
      end)
    end)
  end
end)
