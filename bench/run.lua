-- The benchmark's driver: runs each row and prints one table. Start it
-- through bench/run.sh, which builds what it needs and starts the stub.
package.path = "./?.lua;./bench/lua/?.lua;" .. package.path
package.cpath = (os.getenv("BENCH_CPATH") or "./?.so;") .. package.cpath

local H = require "harness"

local function machine()
  local cpu = H.shell("grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'") or "?"
  local parts = {
    string.format("machine: %s cores, %s, Linux %s", os.getenv("BENCH_NPROC") or H.shell("nproc") or "?", cpu, H.shell("uname -r") or "?"),
    string.format("software: %s, lua-cjson %s, %s, %s, node %s", _VERSION, require("cjson")._VERSION,
      (H.shell("curl --version") or "curl ?"):match("libcurl/%S+") or "libcurl ?",
      (H.shell((os.getenv("NGINX_BIN") or "nginx") .. " -v 2>&1") or ""):match("nginx/%S+") or "nginx ?",
      H.shell("node --version") or "unavailable"),
    "cpu placement: " .. (os.getenv("PIN_NOTE") or "not pinned"),
  }
  return table.concat(parts, "\n")
end

local wanted = {}
for r in (os.getenv("BENCH_ROWS") or "1 2 3 4 5 6 7 8 9"):gmatch("%d") do wanted[r] = true end

local function memory_row()
  local n1 = 1000
  local n2 = H.quick and 20000 or 100000
  local out = H.shell(string.format("%s bench/lua/memory.lua %s %d %d",
    os.getenv("LUA") or "lua5.4", os.getenv("PORT_FAST"), n1, n2))
  local a, b = (out or ""):match("^(%d+) (%d+)")
  assert(a, "memory run failed: " .. tostring(out))
  a, b = tonumber(a), tonumber(b)
  local ratio = b / a
  return { {
    row = string.format("7  resident size after %d updates vs after %d", n2, n1),
    ours = H.mb(b),
    reference = "after " .. n1 .. ": " .. H.mb(a),
    ratio = string.format("%.3f", ratio),
    target = "<= 1.05",
    met = H.met(ratio <= 1.05),
  } }
end

-- Row 8: the loop of row 3 as a Lua user writes it by hand, run by
-- bench/lua/handwritten.lua under the Lua those clients exist for, with our
-- client on that same Lua beside them.
local function handwritten_rows()
  local lua, cpath = os.getenv("BENCH_HAND_LUA") or "lua5.2", os.getenv("BENCH_HAND_CPATH") or ""
  local n, ns, runs = H.quick and 500 or 3000, H.quick and 200 or 1000, H.quick and 3 or 5
  local tag = lua:match("^lua(.+)$") and "Lua " .. lua:match("^lua(.+)$") or lua
  local curl_row = string.format("8a vs lua-curl+cjson, %s, one connection (x%d)", tag, n)
  local socket_row = string.format("8b vs socket.http+cjson, %s, new connection each (x%d)", tag, ns)
  if cpath == "" then
    return { { row = curl_row, ours = "-", reference = "skipped: no module built for " .. lua,
      ratio = "-", target = ">= 1.50", met = "-" } }
  end
  local out = H.shell(string.format("BENCH_CPATH=%s %s bench/lua/handwritten.lua %d %d %d 2>&1",
    H.quote(cpath), H.quote(lua), n, ns, runs))
  local res, missing = {}, {}
  for line in (out or ""):gmatch("[^\n]+") do
    local name, rest = line:match("^(%S+) (.*)$")
    if name == "versions" then res.versions = rest
    elseif name and rest:match("^missing ") then missing[name] = rest:sub(9)
    elseif name and tonumber(rest) then res[name] = tonumber(rest) end
  end
  assert(res.ours, "hand-written run failed: " .. tostring(out):gsub("%s+", " "):sub(-200))
  io.stderr:write("  row 8 ran on: ", res.versions or lua, "\n")
  local ours_rate = 1 / res.ours
  local function row(label, name, ref_label, target, min)
    if not res[name] then
      return { row = label, ours = H.rate(ours_rate), reference = "skipped: " .. (missing[name] or "failed"),
        ratio = "-", target = target, met = "-" }
    end
    local r = ours_rate / (1 / res[name])
    return { row = label, ours = H.rate(ours_rate), reference = ref_label .. " " .. H.rate(1 / res[name]),
      ratio = string.format("%.2f", r), target = target, met = min and H.met(r >= min) or "-" }
  end
  return {
    row(curl_row, "curl", "lua-curl", ">= 1.50", 1.5),
    row(socket_row, "socket", "socket.http", "(none)", nil),
  }
end

local rows = {}
local function add(list)
  for _, r in ipairs(list) do
    rows[#rows + 1] = r
    io.stderr:write("  done: ", r.row, "\n")
  end
end

print(machine())
print(string.format("each figure: median of %s runs, all measured in this run; ratio = ours / reference",
  H.quick and "3" or "5 (row 6: 3; row 9: one count)"))
print("(times for rows 1-3 and 6a and counts for row 9, so lower is better; rates for rows 4 and 8 and the"
  .. " speed-up of 6b, so higher is better)")
io.stderr:write("bench: running rows ", os.getenv("BENCH_ROWS") or "1-9", "\n")

-- A row that fails is reported in the table; the others still run.
local function try(label, fn)
  local ok, list = pcall(fn)
  if ok then return add(list) end
  -- Ctrl-C reaches Lua as an error: stop, do not carry on with the next row.
  if tostring(list):find("interrupted!", 1, true) then error(list, 0) end
  io.stderr:write("bench: ", label, " failed: ", tostring(list), "\n")
  add({ { row = label, ours = "-", reference = "failed: " .. tostring(list):gsub("%s+", " "):sub(1, 60),
    ratio = "-", target = "-", met = "NO" } })
end

if wanted["1"] then try("1  encode+validate", function() return require("codec").encode_rows() end) end
if wanted["2"] then try("2  decode", function() return require("codec").decode_rows() end) end
if wanted["3"] or wanted["4"] then
  try("3/4 sequential updates", function()
    local list = {}
    for _, r in ipairs(require("net").sequential_rows()) do
      if wanted[r.row:sub(1, 1)] then list[#list + 1] = r end
    end
    return list
  end)
end
if wanted["5"] then try("5  connections", function() return require("net").connection_rows() end) end
if wanted["6"] then try("6  update_many", function() return require("net").parallel_rows() end) end
if wanted["7"] then try("7  memory", memory_row) end
if wanted["8"] then try("8  hand-written Lua clients", handwritten_rows) end
if wanted["9"] then try("9  allocations", function() return require("alloc").rows() end) end

print()
print(H.table(rows))
