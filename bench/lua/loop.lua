-- One hot path in a loop, for a profiler (bench/profile.sh):
--   lua5.4 bench/lua/loop.lua encode|encode_large|decode|decode_large|update N
-- `update` needs the stub (PORT_FAST). The data is built before the loop,
-- so a profile of the whole process is mostly the loop.
package.path = "./?.lua;./bench/lua/?.lua;" .. package.path
package.cpath = (os.getenv("BENCH_CPATH") or "./?.so;") .. package.cpath

local bulksync = require "bulksync"
local bodies = require "bodies"

local case, n = arg[1], tonumber(arg[2] or "1000")

local cases = {
  encode = function()
    local body, opts = bodies.update_2025(), { version = "2025-09-18" }
    for _ = 1, n do bulksync.encode(body, opts) end
  end,
  encode_large = function()
    local body, opts = bodies.large_2025(3000), { version = "2025-09-18" }
    for _ = 1, n do bulksync.encode(body, opts) end
  end,
  decode = function()
    local text = bodies.json(bodies.response_2024())
    for _ = 1, n do bulksync.decode(text) end
  end,
  decode_large = function()
    local text = bodies.json(bodies.schemas_response(3000))
    for _ = 1, n do bulksync.decode(text) end
  end,
  update = function()
    local port = assert(os.getenv("PORT_FAST"), "update needs the stub: use bench/profile.sh")
    local client = bulksync.new { api_key = "bench-key", base_url = "http://127.0.0.1:" .. port,
      version = "2024-02-08" }
    local body, id = bodies.update_2024(), bodies.sync_id
    for _ = 1, n do client:update(id, body) end
    client:close()
  end,
}

local fn = cases[case]
if not fn then
  io.stderr:write("usage: loop.lua encode|encode_large|decode|decode_large|update N\n")
  os.exit(2)
end
fn()
