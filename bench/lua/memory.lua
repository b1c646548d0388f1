-- Row 7, run in a process of its own so nothing else the bench did is in
-- its resident size: RSS after n1 and after n2 sequential updates.
--
--   lua5.4 bench/lua/memory.lua PORT N1 N2   prints "<rss after N1> <rss after N2>" in bytes
package.path = "./?.lua;./bench/lua/?.lua;" .. package.path
package.cpath = (os.getenv("BENCH_CPATH") or "./?.so;") .. package.cpath

local bulksync = require "bulksync"
local bodies = require "bodies"

local port, n1, n2 = arg[1], tonumber(arg[2]), tonumber(arg[3])

local page = 4096
do
  local p = io.popen("getconf PAGESIZE 2>/dev/null")
  if p then page = tonumber(p:read("*a")) or page; p:close() end
end

-- Resident pages from /proc/self/statm (its second field), after a full
-- collection, so what is left is what the client really keeps.
local function rss()
  collectgarbage("collect")
  collectgarbage("collect")
  local f = assert(io.open("/proc/self/statm", "r"))
  local _, resident = f:read("*l"):match("^(%d+)%s+(%d+)")
  f:close()
  return tonumber(resident) * page
end

local client = bulksync.new { api_key = "bench-key", base_url = "http://127.0.0.1:" .. port,
  version = "2024-02-08" }
local body, id = bodies.update_2024(), bodies.sync_id

for _ = 1, n1 do client:update(id, body) end
local after1 = rss()
for _ = n1 + 1, n2 do client:update(id, body) end
local after2 = rss()
client:close()
io.write(after1, " ", after2, "\n")
