-- Row 9b, run in a process of its own: the Lua garbage one update leaves,
-- as collectgarbage("count") growth with the collector stopped.
--
--   lua5.4 bench/lua/garbage.lua PORT N   prints "<KB per update>"
package.path = "./?.lua;./bench/lua/?.lua;" .. package.path
package.cpath = (os.getenv("BENCH_CPATH") or "./?.so;") .. package.cpath

local bulksync = require "bulksync"
local bodies = require "bodies"

local port, n = arg[1], tonumber(arg[2])
assert(port and n, "usage: garbage.lua PORT N")

local client = bulksync.new { api_key = "bench-key", base_url = "http://127.0.0.1:" .. port,
  version = "2024-02-08" }
local body, id = bodies.update_2024(), bodies.sync_id

-- Warm up first: the connection, lazily built tables and interned strings
-- are made once, not per update.
for _ = 1, 50 do client:update(id, body) end
collectgarbage("collect")
collectgarbage("stop")
local before = collectgarbage("count")
for _ = 1, n do client:update(id, body) end
local after = collectgarbage("count")
collectgarbage("restart")
client:close()
io.write(string.format("%.4f\n", (after - before) / n))
