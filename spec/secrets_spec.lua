-- The key, the org id and the Authorization value never reach an error,
-- however a hostile server echoes them: in headers, JSON-escaped, across
-- the cut of a long body, or pasted by mistake into a body.
local bulksync = require "bulksync"

-- A key with a "/" so its JSON-escaped form differs from the raw one.
local KEY = "pk_live/7Qe9Zt3W-SECRET-8c1d"
local ORG = "5e1f0c2a-7b3d-4c8e-9f10-2a3b4c5d6e7f"
local SYNC = "0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a51"

-- Every character of s as a JSON \u escape.
local function u_escaped(s)
  return (s:gsub(".", function(c) return string.format("\\u%04x", c:byte()) end))
end

local function client_answering(status, body, headers, opts)
  opts = opts or {}
  opts.api_key = KEY
  opts.retries = 0
  opts.transport = function()
    return { status = status, headers = headers or {}, body = body }
  end
  return bulksync.new(opts)
end

-- Everything an error shows, flattened: fields, nested tables, tostring.
local function all_text(v, out, depth)
  out = out or {}
  depth = depth or 0
  if depth > 20 then return out end
  if type(v) == "table" then
    for k, x in pairs(v) do
      all_text(k, out, depth + 1)
      all_text(x, out, depth + 1)
    end
  elseif v ~= nil then
    out[#out + 1] = tostring(v)
  end
  return table.concat(out, "\n")
end

local function assert_clean(err, secret)
  secret = secret or KEY
  local text = all_text(err) .. "\n" .. tostring(err)
  assert.is_nil(text:find(secret, 1, true), "secret leaked in: " .. text)
end

local function failing(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  assert.is_true(bulksync.is_error(err), tostring(err))
  return err
end

describe("errors from a server that echoes secrets", function()
  it("redacts response headers kept in err.headers", function()
    local c = client_answering(500, '{"message":"boom"}', {
      ["x-echo-authorization"] = "Bearer " .. KEY, ["x-request"] = "key=" .. KEY,
    })
    local err = failing(c.get, c, SYNC)
    assert.equal("InternalServerError", err.kind)
    assert.is_table(err.headers)
    assert.equal("Bearer [redacted]", err.headers["x-echo-authorization"])
    assert_clean(err)
  end)

  it("redacts a key echoed JSON-escaped, character by character", function()
    local body = '{"key":"' .. u_escaped(KEY) .. '","message":"bad key ' .. u_escaped(KEY)
      .. '","metadata":{"' .. u_escaped(KEY) .. '":"' .. u_escaped(KEY) .. '"},"status":400}'
    local c = client_answering(400, body)
    local err = failing(c.get, c, SYNC)
    assert.equal("BadRequestError", err.kind)
    assert.equal("bad key [redacted]", err.message)
    assert.equal("[redacted]", err.key)
    assert.equal("bad key [redacted]", err.body.message)
    assert_clean(err)
  end)

  it("redacts a key whose slash is escaped as \\/ in text that is not JSON", function()
    local c = client_answering(502, "upstream said: " .. KEY:gsub("/", "\\/") .. " <- no")
    local err = failing(c.get, c, SYNC)
    assert.matches("[redacted]", err.body, 1, true)
    assert_clean(err, KEY:gsub("/", "\\/"))
    assert_clean(err)
  end)

  it("redacts a 2xx body that is not JSON before cutting it", function()
    -- The key straddles the 2 KiB cut: cut first, its first half would stay.
    local body = string.rep("x", 2048 - 10) .. KEY .. string.rep("y", 100)
    local c = client_answering(200, body)
    local err = failing(c.get, c, SYNC)
    assert.equal("DecodeError", err.kind)
    assert.is_nil(err.body:find(KEY:sub(1, 10), 1, true), "the key's first half survived the cut")
    assert_clean(err)
  end)

  it("redacts the org id and the Basic credential too", function()
    local basic = require("mime").b64(ORG .. ":" .. KEY)
    local c = client_answering(404, '{"message":"no sync in ' .. ORG .. ' for ' .. basic .. '"}', nil, { org_id = ORG })
    local err = failing(c.get, c, SYNC)
    assert_clean(err, ORG)
    assert_clean(err, basic)
  end)
end)

describe("validation errors from client methods", function()
  local function body_with(field, value)
    return {
      name = "x", mode = "snapshot",
      source_connection_id = "6b1f7a3e-1111-4c2d-8e9f-0a1b2c3d4e5f",
      destination_connection_id = "9c2e8b4f-2222-4d3e-9f0a-1b2c3d4e5f60",
      destination_configuration = {},
      default_schedule = { frequency = "daily" },
      [field] = value,
    }
  end

  it("never quote a key pasted into a body, as a value or as a field name", function()
    local sent = 0
    local c = bulksync.new { api_key = KEY, transport = function() sent = sent + 1 end }
    local bodies = {
      body_with("mode", KEY),
      body_with(KEY, 1),
      body_with("default_schedule", { frequency = KEY }),
      body_with("normalize_names", KEY),
    }
    for _, body in ipairs(bodies) do
      local err = failing(c.update, c, SYNC, body)
      assert.equal("ValidationError", err.kind)
      assert_clean(err)
    end
    local results = c:update_many { { id = SYNC, body = bodies[1] }, { id = SYNC, body = bodies[2] } }
    for _, r in ipairs(results) do
      assert.is_false(r.ok)
      assert_clean(r.err)
    end
    assert.equal(0, sent)
  end)

  it("never quote a key pasted into patch's changes", function()
    local sent = 0
    local c = bulksync.new { api_key = KEY, transport = function() sent = sent + 1 end }
    for _, changes in ipairs { { mode = KEY }, { [KEY] = true }, { default_schedule = { frequency = KEY } } } do
      local err = failing(c.patch, c, SYNC, changes)
      assert.equal("ValidationError", err.kind)
      assert_clean(err)
    end
    assert.equal(0, sent)
  end)
end)
