-- Retries that behave like a fleet, not a clone: every process draws its
-- own jitter without touching the caller's math.random, and Retry-After is
-- read in every date form HTTP allows.
local bulksync = require "bulksync"

local LUA = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
local POLICY = { retry_base = 0.5, retry_cap = 8, max_retry_wait = 60 }

local function waits_in_child()
  local p = io.popen(LUA .. [[ -e "package.path='./?.lua;./?/init.lua;'..package.path;
    package.cpath='./?.so;'..package.cpath
    local b = require 'bulksync'
    local t = {}
    for i = 1, 6 do t[i] = string.format('%.6f', b._retry_wait({ retry_base = 0.5, retry_cap = 8,
      max_retry_wait = 60 }, 1 + i % 3, {})) end
    io.write(table.concat(t, ' '))" 2>&1]])
  local out = p:read("*a")
  p:close()
  return out
end

describe("retry waits", function()
  it("differ between processes, so a fleet does not retry in lockstep", function()
    local a, b, c = waits_in_child(), waits_in_child(), waits_in_child()
    assert.matches("^[%d%. ]+$", a)
    assert.is_true(a ~= b or b ~= c, "three processes drew the same waits: " .. a)
  end)

  it("leave the caller's math.random sequence as it was", function()
    math.randomseed(12345)
    local expected = { math.random(), math.random(), math.random() }
    math.randomseed(12345)
    local got = { math.random() }
    for n = 1, 5 do bulksync._retry_wait(POLICY, n, {}) end
    got[2], got[3] = math.random(), math.random()
    assert.same(expected, got)
  end)

  it("stay within the backoff bounds", function()
    for _ = 1, 200 do
      local w = bulksync._retry_wait(POLICY, 2, {})
      assert.is_true(w >= 0.5 and w <= 1, tostring(w))
    end
  end)

  it("read Retry-After in all three HTTP date forms", function()
    local now = 784111777 - 30   -- 30 s before 1994-11-06 08:49:37 GMT
    for _, date in ipairs {
      "Sun, 06 Nov 1994 08:49:37 GMT",    -- IMF-fixdate
      "Sunday, 06-Nov-94 08:49:37 GMT",   -- RFC 850
      "Sun Nov  6 08:49:37 1994",         -- asctime
    } do
      assert.equal(30, bulksync._retry_wait(POLICY, 1, { ["retry-after"] = date }, now), date)
    end
    -- Not a date: the backoff applies instead.
    local w = bulksync._retry_wait(POLICY, 1, { ["retry-after"] = "soon" }, now)
    assert.is_true(w >= 0.25 and w <= 0.5)
  end)
end)
