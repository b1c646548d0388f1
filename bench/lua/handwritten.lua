-- Row 8, run in a process of its own under the Lua the hand-written clients
-- exist for (Debian's lua-curl ships for 5.1 and 5.2 only): the sequential
-- update loop of row 3 as a Lua user writes it today, against our client on
-- the same Lua.
--
--   ours     client:update (validates, encodes, one kept-alive connection)
--   curl     lua-curl + lua-cjson: cjson.encode, PUT over one easy handle,
--            cjson.decode of the answer; nothing validated
--   socket   LuaSocket's socket.http + lua-cjson, the same; socket.http
--            opens a connection per request, so that is what it pays
--
--   BENCH_OUT=... PORT_FAST=... lua5.2 bench/lua/handwritten.lua N_SEQ N_SOCKET RUNS
-- prints "versions <text>", then "<name> <median seconds per update>" lines;
-- a contender whose module is missing prints "<name> missing <why>".
package.path = "./?.lua;./bench/lua/?.lua;" .. package.path
package.cpath = (os.getenv("BENCH_CPATH") or "./?.so;") .. package.cpath

local H = require "harness"
local bodies = require "bodies"
local bulksync = require "bulksync"
local cjson = require "cjson"
local net = require "net"

local n_seq, n_socket, runs = tonumber(arg[1]), tonumber(arg[2]), tonumber(arg[3])
assert(n_seq and n_socket and runs, "usage: handwritten.lua N_SEQ N_SOCKET RUNS")

local port = assert(os.getenv("PORT_FAST"), "needs the stub's PORT_FAST")
local body, id = bodies.update_2024(), bodies.sync_id
local url = net.base(port) .. "/api/bulk/syncs/" .. id
-- The same header lines our client sends (key, version, content type,
-- and the empty Expect: that keeps libcurl from waiting for 100-continue).
local lines = net.header_lines()

-- Each contender: a function that does one update and returns the decoded
-- answer, or nil and why it cannot run here.
local contenders = {}

contenders.ours = function()
  local client = bulksync.new { api_key = "bench-key", base_url = net.base(port), version = "2024-02-08" }
  return function() return client:update(id, body) end
end

contenders.curl = function()
  local ok, curl = pcall(require, "curl")
  if not ok then return nil, "lua-curl not installed for " .. _VERSION end
  local easy = curl.easy_init()
  easy:setopt(curl.OPT_URL, url)
  easy:setopt(curl.OPT_CUSTOMREQUEST, "PUT")
  easy:setopt(curl.OPT_HTTPHEADER, lines)
  local chunks, count = {}, 0
  easy:setopt(curl.OPT_WRITEFUNCTION, function(buf, size)
    count = count + 1
    chunks[count] = buf
    return size
  end)
  return function()
    local json = cjson.encode(body)
    easy:setopt(curl.OPT_POSTFIELDS, json)
    count = 0
    local code, err = easy:perform()
    if code ~= 0 then error("lua-curl: " .. tostring(err)) end
    return cjson.decode(table.concat(chunks, "", 1, count))
  end
end

contenders.socket = function()
  local ok, http = pcall(require, "socket.http")
  if not ok then return nil, "socket.http not installed for " .. _VERSION end
  local ltn12 = require "ltn12"
  local headers = {}
  for _, l in ipairs(lines) do
    local k, v = l:match("^([^:]+):%s*(.*)$")
    -- socket.http never waits for 100-continue: the empty Expect: is libcurl's.
    if k and v ~= "" then headers[k:lower()] = v end
  end
  return function()
    local json = cjson.encode(body)
    headers["content-length"] = tostring(#json)
    local out = {}
    local r, code = http.request {
      url = url, method = "PUT", headers = headers,
      source = ltn12.source.string(json), sink = ltn12.sink.table(out),
    }
    if not r then error("socket.http: " .. tostring(code)) end
    return cjson.decode(table.concat(out))
  end
end

local versions = { _VERSION, "lua-cjson " .. tostring(cjson._VERSION) }
local loops, order = {}, { "ours", "curl", "socket" }
for _, name in ipairs(order) do
  local update, why = contenders[name]()
  if update then
    -- One untimed update: opens the kept connection, and proves the answer
    -- is the stub's sync (lua-curl here offers no status code to check).
    local answer = update()
    -- Ours unwraps the {data = ...} envelope; the hand-written ones do not.
    local sync = type(answer) == "table" and (answer.data or answer)
    assert(type(sync) == "table" and sync.id == id, name .. ": the answer is not the stub's sync")
    loops[name] = update
  else
    io.write(name, " missing ", why, "\n")
  end
end
local okc, curl = pcall(require, "curl")
if okc then versions[#versions + 1] = "lua-curl " .. tostring(curl._VERSION) end
local oks, socket = pcall(require, "socket")
if oks then versions[#versions + 1] = tostring(socket._VERSION) end
io.write("versions ", table.concat(versions, ", "), "\n")

-- Runs interleaved, so a slow moment of the machine hits every contender.
local times = {}
for _ = 1, runs do
  for _, name in ipairs(order) do
    local update = loops[name]
    if update then
      local n = name == "socket" and n_socket or n_seq
      collectgarbage("collect")
      local t0 = H.now()
      for _ = 1, n do update() end
      local list = times[name] or {}
      times[name] = list
      list[#list + 1] = (H.now() - t0) / n
    end
  end
end
for _, name in ipairs(order) do
  if times[name] then io.write(string.format("%s %.9f\n", name, H.median(times[name]))) end
end
