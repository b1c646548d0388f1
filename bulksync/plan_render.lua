--[[ bulksync.plan_render: a plan as text for people.

One line per change, at the depth it happens (`schemas[public.orders].
fields[email].enabled  true -> false`), values printed whole: a value too
long for the line goes on a line of its own, never cut. Resets are marked
RESET wherever they are. Fields the descriptors mark secret are masked at
any depth, since plans end up in logs. Pure Lua; bulksync.plan builds the
plans and calls this. ]]

local core = require "bulksync.core"
local E = require "bulksync.errors"
local O = require "bulksync.options"

local null, array_mt = core.null, core.array_mt
local type, pairs, ipairs, tostring, getmetatable, next = type, pairs, ipairs, tostring, getmetatable, next
local format, rep, concat, sort, floor = string.format, string.rep, table.concat, table.sort, math.floor

local M = {}

local MAX_DEPTH = 64
local DEFAULT_WIDTH, MIN_WIDTH, MAX_WIDTH = 100, 40, 10000
-- Paths longer than this do not widen the column for every other line.
local MAX_COLUMN = 40
local HIDDEN = "(not shown)"

function M.quote(s)
  return '"' .. s:gsub('[%c"\\]', function(ch)
    if ch == '"' or ch == "\\" then return "\\" .. ch end
    if ch == "\n" then return "\\n" end
    if ch == "\t" then return "\\t" end
    return format("\\u%04x", ch:byte())
  end) .. '"'
end
local quote = M.quote

local function number_text(n)
  if math.type and math.type(n) == "integer" then return tostring(n) end
  if n ~= n or n == math.huge or n == -math.huge then return tostring(n) end
  if n == floor(n) and n > -2^53 and n < 2^53 then return format("%.0f", n) end
  return format("%.14g", n)
end

-- An object descriptor's sub-fields by name, made once per descriptor.
local by_name_cache = setmetatable({}, { __mode = "k" })
local function sub_named(desc, name)
  local fields = desc and desc.fields
  if not fields then return nil end
  local map = by_name_cache[desc]
  if not map then
    map = {}
    for _, f in ipairs(fields) do map[f.name] = f end
    by_name_cache[desc] = map
  end
  return map[name]
end

local function is_none(v) return v == nil or v == null end

local function is_list(v, desc)
  if desc and desc.type == "list" then return true end
  if getmetatable(v) == array_mt then return true end
  return next(v) ~= nil and #v > 0
end

-- Compact JSON-ish text of v, whole; a secret field's value is hidden.
local function compact(v, desc, buf, depth)
  if desc and desc.secret and not is_none(v) then buf[#buf + 1] = HIDDEN
  elseif v == nil then buf[#buf + 1] = "-"
  elseif v == null then buf[#buf + 1] = "null"
  elseif type(v) == "string" then buf[#buf + 1] = quote(v)
  elseif type(v) == "number" then buf[#buf + 1] = number_text(v)
  elseif type(v) ~= "table" then buf[#buf + 1] = tostring(v)
  elseif depth > MAX_DEPTH then buf[#buf + 1] = "..."
  elseif is_list(v, desc) then
    local items = desc and desc.items
    buf[#buf + 1] = "["
    for i = 1, #v do
      if i > 1 then buf[#buf + 1] = "," end
      compact(v[i], items, buf, depth + 1)
    end
    buf[#buf + 1] = "]"
  else
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    sort(keys)
    buf[#buf + 1] = "{"
    for i, k in ipairs(keys) do
      if i > 1 then buf[#buf + 1] = "," end
      buf[#buf + 1] = quote(k) .. ":"
      local x = v[k]
      if x == nil then x = v[tonumber(k)] end
      compact(x, sub_named(desc, k), buf, depth + 1)
    end
    buf[#buf + 1] = "}"
  end
end

function M.value(v, desc)
  local buf = {}
  compact(v, desc, buf, 0)
  return concat(buf)
end

--[[ The text of a path: the top-level name, then `.name` (or `["odd
key"]`) for an object's key, `[id]` for a list item named by its identity
(quoted when it could pass for a position or holds odd characters), `[n]`
for a list item known only by its position. ]]
function M.path(segments)
  local out = {}
  for i, s in ipairs(segments) do
    if type(s) == "table" then
      local id = s.id
      if id == nil then
        out[#out + 1] = "[" .. tostring(s.index) .. "]"
      elseif type(id) == "string" and id:find("^[%w_%.%-:/@]+$") and not id:find("^%d+$") then
        out[#out + 1] = "[" .. id .. "]"
      else
        out[#out + 1] = "[" .. quote(tostring(id)) .. "]"
      end
    elseif i == 1 then
      out[#out + 1] = tostring(s)
    elseif type(s) == "string" and s:find("^[%a_][%w_]*$") then
      out[#out + 1] = "." .. s
    else
      out[#out + 1] = "[" .. quote(tostring(s)) .. "]"
    end
  end
  return concat(out)
end

local MARKER = { reset = "RESET", change = "change", clear = "clear", add = "add", remove = "remove",
  unknown = "?" }

-- ANSI SGR: red for what a reset loses, yellow for what is cleared,
-- removed or not known, green for the rest; dim for the summary.
local COLOUR = { reset = "\27[1;31m", clear = "\27[33m", remove = "\27[33m", unknown = "\27[33m",
  change = "\27[32m", add = "\27[32m", header = "\27[1m", dim = "\27[2m", call = "\27[36m" }
local OFF = "\27[0m"

local function plural(n, word)
  return n .. " " .. word .. (n == 1 and "" or "s")
end

function M.check(opts)
  opts = O.check(opts, "render")
  local colour, width = opts.colour, opts.width
  if colour ~= nil and type(colour) ~= "boolean" then
    E.invalid("colour", "must be true or false", "options")
  end
  if width ~= nil and (type(width) ~= "number" or width ~= floor(width) or width < MIN_WIDTH or width > MAX_WIDTH) then
    E.invalid("width", format("must be a whole number of columns from %d to %d (default %d)",
      MIN_WIDTH, MAX_WIDTH, DEFAULT_WIDTH), "options", "range")
  end
  return colour == true, width or DEFAULT_WIDTH
end

-- The value texts of an entry, secret fields masked.
local function texts(e, desc)
  local from, to
  if e.from ~= nil then
    from = M.value(e.from, desc)
  elseif e.action == "unknown" or (e.note and e.note:find("unknown", 1, true)) then
    from = "?"
  else
    from = "(absent)"   -- the GET response did not report it, or a new item
  end
  if e.to ~= nil then
    to = M.value(e.to, desc)
  else
    to = e.action == "remove" and "(removed)" or "(omitted)"
  end
  return from, to
end

--[[ render(p, opts, descriptor_of): opts as M.check; descriptor_of(e)
gives an entry's field descriptor (for secrets). ]]
function M.render(p, opts, descriptor_of)
  local colour, width = M.check(opts)
  local function paint(what, line)
    if colour and COLOUR[what] then return COLOUR[what] .. line .. OFF end
    return line
  end

  local lines = {}
  if p.call then
    local c = p.call
    -- A delete loses the record: as loud as a reset.
    lines[1] = paint(c.method == "DELETE" and "reset" or "header", format("bulk sync %s (API %s): would call %s %s",
      p.id and tostring(p.id) or "(id unknown)", p.version, c.method, c.path))
    if c.body ~= nil then
      lines[2] = paint("call", "  body " .. (type(c.body) == "string" and c.body or M.value(c.body)))
    end
    return concat(lines, "\n")
  end

  local entries, column = p.entries or {}, 0
  for _, e in ipairs(entries) do
    local n = #(e.path or e.field)
    if n > column and n <= MAX_COLUMN then column = n end
  end
  local keeps = p.counts and p.counts.keep or 0
  local others = #entries - p.resets - (p.unknowns or 0)
  lines[1] = paint("header", format("%s %s (API %s): %s, %s%s", p.kind and ("bulk sync " .. p.kind) or "bulk sync",
    p.id and tostring(p.id) or "(id unknown)", p.version, plural(p.resets, "reset"), plural(others, "other change"),
    (p.unknowns or 0) > 0 and (", " .. p.unknowns .. " not known") or ""))

  local indent = rep(" ", 12)
  for _, e in ipairs(entries) do
    local path = e.path or e.field
    local from, to = texts(e, descriptor_of(e))
    local marker = MARKER[e.action] or e.action
    local head = format("  %-6s  %s%s  ", marker, path, rep(" ", column - #path))
    local note = e.note and ("  (" .. e.note .. ")") or ""
    local values = from .. " -> " .. to
    -- Aligned if it fits, else unaligned if that fits, else a block.
    if #head + #values > width then head = format("  %-6s  %s  ", marker, path) end
    if #head + #values <= width then
      lines[#lines + 1] = paint(e.action, head .. values .. note)
    else
      -- Too long for one line: each value on its own, whole.
      lines[#lines + 1] = paint(e.action, (head:gsub("%s+$", "")) .. note)
      if e.action ~= "add" then lines[#lines + 1] = paint(e.action, indent .. "from " .. from) end
      if e.action ~= "remove" then lines[#lines + 1] = paint(e.action, indent .. "to   " .. to) end
    end
  end
  lines[#lines + 1] = paint("dim", "  " .. plural(keeps, "field") .. " unchanged")
  return concat(lines, "\n")
end

return M
