-- Row 9: what one sequential update costs the allocator.
--   9a. heap allocations (malloc, calloc, realloc, ...) per update, counted
--       by valgrind memcheck's "total heap usage" over two runs of different
--       length, so start-up and the first connection cancel out; against
--       the libcurl floor (bench/floor.c) counted the same way
--   9b. Lua garbage per update (bench/lua/garbage.lua), against the figure
--       this client had before the work to halve it
local H = require "harness"
local net = require "net"

local M = {}

-- KB of garbage per update measured with the module as it was when this
-- row was added (lua-bulksync at 8d28732, same data, same stub): the target
-- is half of it. Keyed by interpreter.
local BASELINE_KB = {
  ["Lua 5.1"] = 3.62, ["Lua 5.2"] = 10.08, ["Lua 5.3"] = 9.52, ["Lua 5.4"] = 8.96, LuaJIT = 2.38,
}
local interpreter = rawget(_G, "jit") and "LuaJIT" or _VERSION

-- Heap allocations a command makes, from valgrind's summary.
local function allocs(cmd)
  local out = H.shell("valgrind --tool=memcheck --leak-check=no " .. cmd .. " 2>&1")
  local n = (out or ""):match("total heap usage: ([%d,]+) allocs")
  assert(n, "valgrind run failed: " .. tostring(out):sub(-300))
  return tonumber((n:gsub(",", "")))
end

local function per_update(cmd_for, n1, n2)
  return (allocs(cmd_for(n2)) - allocs(cmd_for(n1))) / (n2 - n1)
end

function M.rows()
  local rows = {}
  local env = net.env
  local n1, n2 = 200, H.quick and 700 or 1200
  if not H.shell("command -v valgrind") then
    rows[1] = { row = "9a heap allocations per update", ours = "-", reference = "skipped: valgrind unavailable",
      ratio = "-", target = "<= 45", met = "-" }
  else
    local lua = os.getenv("LUA") or "lua5.4"
    local ours = per_update(function(n)
      return string.format("%s bench/lua/loop.lua update %d", H.quote(lua), n)
    end, n1, n2)
    local floor_args = { H.quote(env.floor), H.quote(net.base(env.fast) .. "/api/bulk/syncs/" .. net.sync_id),
      H.quote(net.body_file) }
    local headers = {}
    for i, l in ipairs(net.header_lines()) do headers[i] = H.quote(l) end
    local floor = per_update(function(n)
      return table.concat(floor_args, " ") .. " " .. n .. " " .. table.concat(headers, " ")
    end, n1, n2)
    rows[1] = {
      row = string.format("9a heap allocations per update (x%d - x%d, valgrind)", n2, n1),
      ours = string.format("%.1f", ours),
      reference = string.format("libcurl floor %.1f", floor),
      ratio = string.format("%.2f", ours / floor),
      target = "<= 45",
      met = H.met(ours <= 45),
    }
  end

  local out = H.shell(string.format("%s bench/lua/garbage.lua %s %d", H.quote(os.getenv("LUA") or "lua5.4"),
    env.fast, H.quick and 1000 or 3000))
  local kb = tonumber(out or "")
  assert(kb, "garbage run failed: " .. tostring(out))
  local base = BASELINE_KB[interpreter]
  rows[2] = {
    row = "9b Lua garbage per update, collector stopped",
    ours = string.format("%.2f KB/upd", kb),
    reference = base and string.format("at the start: %.2f KB/upd", base) or "no baseline for " .. interpreter,
    ratio = base and string.format("%.2f", kb / base) or "-",
    target = base and string.format("<= %.2f/2", base) or "-",
    met = base and H.met(kb <= base / 2) or "-",
  }
  return rows
end

return M
