-- Timing and reporting helpers shared by the benchmark's cases.
local socket = require "socket"

local H = {}

H.now = socket.gettime
H.quick = os.getenv("BENCH_QUICK") == "1"

function H.median(list)
  local t = {}
  for i, v in ipairs(list) do t[i] = v end
  table.sort(t)
  local n = #t
  if n == 0 then return nil end
  if n % 2 == 1 then return t[(n + 1) / 2] end
  return (t[n / 2] + t[n / 2 + 1]) / 2
end

-- Seconds one call of fn(n) takes for n iterations.
function H.time(fn, n)
  local t0 = H.now()
  fn(n)
  return H.now() - t0
end

-- An iteration count that makes fn(n) last about `target` seconds.
function H.calibrate(fn, target)
  target = target or (H.quick and 0.05 or 0.2)
  local n = 1
  while true do
    local dt = H.time(fn, n)
    if dt >= target / 4 or n >= 1e8 then
      return math.max(1, math.floor(n * target / math.max(dt, 1e-9)))
    end
    n = n * 4
  end
end

-- Median seconds per iteration of each named function, runs interleaved so
-- a slow moment of the machine hits every contender alike.
function H.compare(fns, n, runs)
  runs = runs or (H.quick and 3 or 5)
  local times = {}
  for name in pairs(fns) do times[name] = {} end
  for _ = 1, runs do
    for name, fn in pairs(fns) do
      collectgarbage("collect")
      local list = times[name]
      list[#list + 1] = H.time(fn, n) / n
    end
  end
  local out = {}
  for name, list in pairs(times) do out[name] = H.median(list) end
  return out
end

-- "*a" and "*l", not "a" and "l": the hand-written rows run this under Lua 5.2.
function H.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

function H.write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- Output of a shell command, without the trailing newline; nil on failure.
-- Its standard error is dropped unless the command redirects it itself.
function H.shell(cmd)
  local p = io.popen(cmd:find("2>&1", 1, true) and cmd or (cmd .. " 2>/dev/null"))
  if not p then return nil end
  local s = p:read("*a")
  local ok = p:close()
  if not ok then return nil, s end
  return (s:gsub("%s+$", ""))
end

function H.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

------------------------------------------------------------------------
-- Formatting
------------------------------------------------------------------------

function H.us(seconds)
  if seconds >= 0.1 then return string.format("%.3f s", seconds) end
  if seconds >= 1e-3 then return string.format("%.2f ms", seconds * 1e3) end
  return string.format("%.2f us", seconds * 1e6)
end

function H.rate(per_second)
  return string.format("%.0f/s", per_second)
end

function H.mb(bytes)
  return string.format("%.2f MB", bytes / (1024 * 1024))
end

-- rows: list of { row, ours, reference, ratio, target, met }
function H.table(rows)
  local heads = { "row", "ours", "reference", "ratio", "target", "met?" }
  local keys = { "row", "ours", "reference", "ratio", "target", "met" }
  local width = {}
  for i, h in ipairs(heads) do width[i] = #h end
  for _, r in ipairs(rows) do
    for i, k in ipairs(keys) do width[i] = math.max(width[i], #tostring(r[k] or "")) end
  end
  local function line(cells)
    local parts = {}
    for i, c in ipairs(cells) do
      parts[i] = c .. string.rep(" ", width[i] - #c)
    end
    return (table.concat(parts, "  "):gsub("%s+$", ""))
  end
  local out = { line(heads) }
  local rule = {}
  for i = 1, #heads do rule[i] = string.rep("-", width[i]) end
  out[#out + 1] = line(rule)
  for _, r in ipairs(rows) do
    local cells = {}
    for i, k in ipairs(keys) do cells[i] = tostring(r[k] or "") end
    out[#out + 1] = line(cells)
  end
  return table.concat(out, "\n")
end

function H.met(ok)
  if ok == nil then return "-" end
  return ok and "yes" or "NO"
end

return H
