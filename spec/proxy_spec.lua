-- Proxies: libcurl honours http_proxy, HTTPS_PROXY, ALL_PROXY and no_proxy
-- from the environment; `proxy = URL` sets one, `proxy = false` ignores the
-- environment. A raw server plays the proxy and records what it is sent.
-- The client runs in a child process, since Lua cannot set the environment.
local raw = require "spec.support.rawserver"

local LUA = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))
local SYNC = "0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a51"
-- Nothing listens there: a request that reaches it directly is refused.
local DIRECT = "http://127.0.0.1:9"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- Runs one client:get in a child; returns the error kind it printed.
local function get_in_child(env, proxy_option)
  local script = ([[
    local bulksync = require "bulksync"
    local c = bulksync.new { api_key = "k", base_url = %q, retries = 0, proxy = %s }
    local ok, err = pcall(c.get, c, %q)
    io.write(ok and "ok" or err.kind)
  ]]):format(DIRECT, proxy_option or "nil", SYNC)
  local cmd = ("env -u http_proxy -u HTTP_PROXY -u https_proxy -u HTTPS_PROXY -u ALL_PROXY -u all_proxy"
    .. " -u no_proxy -u NO_PROXY %s LUA_PATH='./?.lua;./?/init.lua;;' LUA_CPATH='./?.so;;' %s -e %s 2>&1")
    :format(env or "", LUA, q(script))
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out
end

local REPLY = { status = 200, headers = { "Content-Type: application/json" },
  body = '{"data":{"id":"' .. SYNC .. '","name":"via proxy"}}' }

describe("proxies", function()
  local proxy
  before_each(function() proxy = raw.start({ REPLY }, { lifetime = 20 }) end)
  after_each(function() proxy:stop() end)

  it("follows http_proxy from the environment, which sees the whole URL", function()
    local out = get_in_child("http_proxy=" .. proxy.url)
    assert.equal("ok", out)
    local reqs = proxy:requests()
    assert.equal(1, #reqs)
    assert.equal(DIRECT .. "/api/bulk/syncs/" .. SYNC, reqs[1].target)
    -- A plain-http proxy sees the headers too: this is why https matters.
    assert.truthy(reqs[1].headers.authorization)
  end)

  it("uses proxy = URL without any environment", function()
    assert.equal("ok", get_in_child(nil, ("%q"):format(proxy.url)))
    assert.equal(1, #proxy:requests())
  end)

  it("ignores the environment with proxy = false", function()
    local out = get_in_child("http_proxy=" .. proxy.url .. " ALL_PROXY=" .. proxy.url, "false")
    assert.equal("TransportError", out)
    assert.equal(0, #proxy:requests())
  end)

  it("skips the proxy for hosts in no_proxy", function()
    local out = get_in_child("http_proxy=" .. proxy.url .. " no_proxy=127.0.0.1")
    assert.equal("TransportError", out)
    assert.equal(0, #proxy:requests())
  end)
end)
