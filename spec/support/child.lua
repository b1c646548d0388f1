--[[
spec/support/child.lua: runs a Lua chunk in a fresh interpreter process of
the same Lua as the spec, with the spec's package paths, so a spec can
compare what two processes (two hash seeds) produce, or survive a chunk that
would never return.

    local child = require "spec.support.child"
    local ok, out = child.run(code, { args = { "a", "b" }, seconds = 60 })
    -- ok: the process exited 0 before the deadline; out: its stdout+stderr
    -- the chunk sees its arguments as `...`
]]
local M = {}

-- The interpreter running this spec, so each Lua of the matrix runs the
-- child with the module built for it.
M.LUA = rawget(_G, "jit") and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function sh(cmd)
  local p = io.popen(cmd)
  if not p then return "" end
  local out = p:read("*a") or ""
  p:close()
  return out
end

-- Under scripts/check-memory.sh the module on the C path is an ASan build
-- whose runtime the parent got through LD_PRELOAD (then dropped from its
-- environment): the child needs the same runtime to load it.
local function sanitizer_preload()
  local file = package.searchpath and package.searchpath("bulksync.core", package.cpath)
  if not file or not sh("readelf -d " .. q(file) .. " 2>/dev/null"):find("libclang_rt.asan", 1, true) then
    return ""
  end
  local runtime = sh("clang -print-file-name=libclang_rt.asan-x86_64.so 2>/dev/null"):gsub("%s+$", "")
  return runtime ~= "" and ("LD_PRELOAD=" .. q(runtime) .. " ") or ""
end

function M.run(code, opts)
  opts = opts or {}
  local script, out = os.tmpname(), os.tmpname()
  local f = assert(io.open(script, "wb"))
  f:write(code)
  f:close()
  local args = {}
  for i, a in ipairs(opts.args or {}) do args[i] = q(a) end
  -- timeout(1) is only a guard: a chunk that hangs fails the spec instead
  -- of the whole run.
  local cmd = string.format("%sLUA_PATH=%s LUA_CPATH=%s timeout %d %s %s %s >%s 2>&1",
    sanitizer_preload(), q(package.path), q(package.cpath), opts.seconds or 60, M.LUA, q(script),
    table.concat(args, " "), q(out))
  local status = os.execute(cmd)
  f = assert(io.open(out, "rb"))
  local text = f:read("*a")
  f:close()
  os.remove(script)
  os.remove(out)
  return status == true or status == 0, text
end

return M
