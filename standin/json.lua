-- Small JSON codec for the stand-in server.
--
-- Why not plain lua-cjson: Debian's lua-cjson 2.1.0 decodes `[]` and `{}` to
-- the same empty table, turns every number into a float and has no way to
-- mark an empty array when encoding. The stand-in is an oracle: it must see
-- exactly what a client sent (an empty list is not an empty object, `4.0` is
-- not an integer, `null` is not absent) and must answer with `[]` and `4`.
-- So arrays carry a metatable, `null` is a sentinel and integers stay
-- integers. cjson is still used to unescape string literals, the fiddly part.
-- Plain Lua 5.1-5.4 (specs under any Lua may use it to build exact bodies);
-- on 5.1/5.2 every number is one type, so whole numbers encode as integers.
local cjson = require "cjson"

local M = {}

M.null = setmetatable({}, { __name = "json.null", __tostring = function() return "null" end })
local null = M.null

local array_mt = { __name = "json.array" }
M.array_mt = array_mt

function M.array(t)
  return setmetatable(t or {}, array_mt)
end

function M.is_array(v)
  return type(v) == "table" and getmetatable(v) == array_mt
end

function M.is_object(v)
  return type(v) == "table" and v ~= null and getmetatable(v) ~= array_mt
end

-- Deep copy that keeps array marks and the null sentinel.
function M.copy(v)
  if type(v) ~= "table" or v == null then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = M.copy(x) end
  return setmetatable(t, getmetatable(v))
end

function M.equal(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" or a == null or b == null then
    return false
  end
  if M.is_array(a) ~= M.is_array(b) then return false end
  for k, x in pairs(a) do
    if not M.equal(x, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

---------------------------------------------------------------- decoding

local MAX_DEPTH = 200

-- Returns value, or nil and a message naming the byte offset.
function M.decode(s)
  if type(s) ~= "string" then return nil, "expected a string" end
  local pos = 1
  local value

  local function fail(msg)
    error({ json = msg .. " at byte " .. pos }, 0)
  end

  local function skip()
    pos = s:find("[^ \t\r\n]", pos) or #s + 1
  end

  local function string_lit()
    local i = pos + 1
    while true do
      local j = s:find('["\\]', i)
      if not j then fail("unterminated string") end
      if s:byte(j) == 34 then
        local lit = s:sub(pos, j)
        local v
        if lit:find("\\", 1, true) then
          local ok, r = pcall(cjson.decode, lit)
          if not ok or type(r) ~= "string" then fail("invalid string escape") end
          v = r
        else
          v = lit:sub(2, -2)
        end
        pos = j + 1
        return v
      end
      i = j + 2
    end
  end

  local function number()
    local int = s:match("^-?%d+", pos)
    if not int then fail("invalid number") end
    if int:match("^-?0%d") then fail("leading zero in number") end
    local p = pos + #int
    local frac = s:match("^%.%d+", p) or ""
    p = p + #frac
    local exp = s:match("^[eE][-+]?%d+", p) or ""
    p = p + #exp
    local text = s:sub(pos, p - 1)
    pos = p
    if frac == "" and exp == "" then
      return math.tointeger and math.tointeger(tonumber(text)) or tonumber(text)
    end
    return tonumber(text) + 0.0
  end

  local function literal(word, v)
    if s:sub(pos, pos + #word - 1) ~= word then fail("invalid literal") end
    pos = pos + #word
    return v
  end

  function value(depth)
    if depth > MAX_DEPTH then fail("nesting too deep") end
    skip()
    local c = s:sub(pos, pos)
    if c == "{" then
      pos = pos + 1
      local t = {}
      skip()
      if s:sub(pos, pos) == "}" then pos = pos + 1; return t end
      while true do
        skip()
        if s:sub(pos, pos) ~= '"' then fail("expected object key") end
        local k = string_lit()
        skip()
        if s:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        t[k] = value(depth + 1)
        skip()
        c = s:sub(pos, pos)
        pos = pos + 1
        if c == "}" then return t end
        if c ~= "," then pos = pos - 1; fail("expected ',' or '}'") end
      end
    elseif c == "[" then
      pos = pos + 1
      local t, n = M.array(), 0
      skip()
      if s:sub(pos, pos) == "]" then pos = pos + 1; return t end
      while true do
        n = n + 1
        t[n] = value(depth + 1)
        skip()
        c = s:sub(pos, pos)
        pos = pos + 1
        if c == "]" then return t end
        if c ~= "," then pos = pos - 1; fail("expected ',' or ']'") end
      end
    elseif c == '"' then
      return string_lit()
    elseif c == "t" then
      return literal("true", true)
    elseif c == "f" then
      return literal("false", false)
    elseif c == "n" then
      return literal("null", null)
    elseif c == "" then
      fail("unexpected end of input")
    else
      return number()
    end
  end

  local ok, r = pcall(function()
    local v = value(1)
    skip()
    if pos <= #s then fail("trailing data") end
    return v
  end)
  if ok then return r end
  if type(r) == "table" and r.json then return nil, r.json end
  error(r, 0)
end

---------------------------------------------------------------- encoding

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

local function enc_string(s)
  return '"' .. (s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\u%04x", c:byte())
  end)) .. '"'
end

local function enc_number(v)
  if math.type and math.type(v) == "integer" then return string.format("%d", v) end
  if v ~= v or v == math.huge or v == -math.huge then
    error("cannot encode non-finite number", 0)
  end
  if v == math.floor(v) and math.abs(v) < 2^53 then
    return string.format("%.0f", v)
  end
  local s = string.format("%.14g", v)
  if tonumber(s) ~= v then s = string.format("%.17g", v) end
  return s
end

local function is_list(t)
  if getmetatable(t) == array_mt then return true end
  local n = #t
  if n == 0 then return false end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local function encode(v, out, depth)
  local tv = type(v)
  if v == nil or v == null then
    out[#out + 1] = "null"
  elseif tv == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif tv == "number" then
    out[#out + 1] = enc_number(v)
  elseif tv == "string" then
    out[#out + 1] = enc_string(v)
  elseif tv == "table" then
    if depth > MAX_DEPTH then error("cannot encode: nesting too deep", 0) end
    if is_list(v) then
      out[#out + 1] = "["
      for i = 1, #v do
        if i > 1 then out[#out + 1] = "," end
        encode(v[i], out, depth + 1)
      end
      out[#out + 1] = "]"
    else
      -- Sorted keys: stable output that diffs well in test failures.
      local keys = {}
      for k in pairs(v) do
        if type(k) ~= "string" then error("cannot encode non-string key", 0) end
        keys[#keys + 1] = k
      end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = enc_string(k)
        out[#out + 1] = ":"
        encode(v[k], out, depth + 1)
      end
      out[#out + 1] = "}"
    end
  else
    error("cannot encode a " .. tv, 0)
  end
end

function M.encode(v)
  local out = {}
  encode(v, out, 1)
  return table.concat(out)
end

return M
