--[[
spec/support/openapi.lua: load a published OpenAPI description and check JSON
values against its schemas.

    local openapi = require "spec.support.openapi"
    local doc = openapi.load("../shared/reference/polytomic-openapi.yaml")  -- nil, err if absent
    local v = openapi.new(doc.components.schemas)       -- name -> schema, for $ref
    local problems = v:validate(schema, value)          -- {} when value matches
    -- each problem is "$.data[0].fields[1].obfuscated: expected boolean, got string"

Hand-written because no JSON Schema validator is packaged for Lua in Debian.
It covers the subset the published files use, read strictly:
  $ref (local, "#/components/schemas/Name"), type (a name or a list, 'null'
  included), nullable, properties, required, items, enum, oneOf, anyOf,
  allOf, additionalProperties, and format uuid and date-time (other formats
  such as int64 are not checked).
Strictness: an object schema that does not declare additionalProperties is
taken as additionalProperties: false, so an undeclared property is a
problem. A schema with no type ("Any type") accepts any value.

Values are as standin/json.lua decodes them: null is json.null, arrays carry
json.array_mt (so `[]` and `{}` differ), objects are plain tables. An
"integer" is a whole number (on Lua 5.3+ standin.json keeps integers apart;
on 5.1/5.2/LuaJIT every number is a double).

openapi.load reads the YAML with lyaml (Debian package lua-yaml, built for
Lua 5.1 to 5.4). Where lyaml cannot be loaded it asks a lua5.4 process to
read the file and hand it back as JSON.
]]

local json = require "standin.json"

local M = {}

local files = require "spec.support.files"
local shell_quote, read_all = files.shell_quote, files.read

local function this_root()
  return files.root_of(debug.getinfo(1, "S").source, "spec/support/openapi.lua")
end

-- The YAML document as Lua tables, or nil and a reason.
function M.load(path)
  local text = read_all(path)
  if not text then return nil, "cannot read " .. path end
  local ok, lyaml = pcall(require, "lyaml")
  if ok then
    local parsed, doc = pcall(lyaml.load, text)
    if not parsed then return nil, "cannot parse " .. path .. ": " .. tostring(doc) end
    return doc
  end
  -- No lyaml for this Lua: lua5.4 reads it and writes it out as JSON.
  local root = this_root()
  local script = "package.path = " .. string.format("%q", root .. "?.lua;") .. " .. package.path;"
    .. "local y = require 'lyaml'; local j = require 'standin.json';"
    .. "local f = assert(io.open(" .. string.format("%q", path) .. ", 'rb'));"
    .. "local d = y.load(f:read('a')); f:close(); io.write(j.encode(d))"
  local p = io.popen("lua5.4 -e " .. shell_quote(script) .. " 2>/dev/null")
  if not p then return nil, "lyaml is not available and lua5.4 could not be started" end
  local out = p:read("*a")
  p:close()
  local doc, err = json.decode(out or "")
  if doc == nil then return nil, "lyaml is not available here and lua5.4 could not read " .. path .. ": " .. tostring(err) end
  return doc
end

---------------------------------------------------------------- the validator

local Validator = {}
Validator.__index = Validator

-- components: map schema name -> schema, used to resolve $ref.
function M.new(components)
  return setmetatable({ components = components or {} }, Validator)
end

local function json_type(v)
  if v == json.null then return "null" end
  local t = type(v)
  if t == "boolean" or t == "string" then return t end
  if t == "number" then
    if v == math.floor(v) and v > -math.huge and v < math.huge then return "integer" end
    return "number"
  end
  if json.is_array(v) then return "array" end
  if json.is_object(v) then return "object" end
  return t -- something JSON cannot hold
end

local function type_ok(want, got)
  return want == got or (want == "number" and got == "integer")
end

local function is_uuid(s)
  return s:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$") ~= nil
end

-- RFC 3339 date-time: a date, T, a time with optional fraction, Z or an offset.
local function is_datetime(s)
  local y, mo, d, h, mi, sec, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then return false end
  mo, d, h, mi, sec = tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or sec > 60 then return false end
  rest = rest:gsub("^%.%d+", "", 1)
  return rest == "Z" or rest == "z" or rest:match("^[-+][01]%d:[0-5]%d$") ~= nil
end

local function show(v)
  local t = json_type(v)
  if t == "string" then return string.format("%q", #v > 40 and (v:sub(1, 40) .. "...") or v) end
  if t == "object" or t == "array" then return t end
  return tostring(v)
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

local function key_path(path, k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then return path .. "." .. k end
  return path .. "[" .. string.format("%q", tostring(k)) .. "]"
end

function Validator:resolve(schema)
  local seen = 0
  while type(schema) == "table" and schema["$ref"] do
    local name = schema["$ref"]:match("^#/components/schemas/(.+)$")
    local target = name and self.components[name]
    if not target then return nil, "unresolved $ref " .. tostring(schema["$ref"]) end
    schema = target
    seen = seen + 1
    if seen > 50 then return nil, "$ref loop at " .. tostring(name) end
  end
  return schema
end

-- Appends "path: message" for every way value fails schema.
function Validator:check(schema, value, path, out)
  local s, err = self:resolve(schema)
  if not s then
    out[#out + 1] = path .. ": " .. err
    return
  end
  if type(s) ~= "table" then
    out[#out + 1] = path .. ": schema is not an object"
    return
  end
  local got = json_type(value)

  if s.allOf then
    for _, sub in ipairs(s.allOf) do self:check(sub, value, path, out) end
  end
  for _, kind in ipairs { "oneOf", "anyOf" } do
    local alts = s[kind]
    if alts then
      local matched, first = 0, nil
      for i, sub in ipairs(alts) do
        local p = {}
        self:check(sub, value, path, p)
        if #p == 0 then matched = matched + 1 elseif i == 1 then first = p[1] end
      end
      if matched == 0 then
        out[#out + 1] = path .. ": matches none of " .. kind .. " (first: " .. tostring(first) .. ")"
        return
      elseif kind == "oneOf" and matched > 1 then
        out[#out + 1] = path .. ": matches " .. matched .. " alternatives of oneOf"
        return
      end
    end
  end

  if got == "null" and s.nullable == true then return end
  local types = s.type
  if type(types) == "string" then types = { types } end
  if types then
    local ok = false
    for _, t in ipairs(types) do
      if type_ok(t, got) then ok = true break end
    end
    if not ok then
      local scalar = got ~= "null" and got ~= "object" and got ~= "array"
      out[#out + 1] = path .. ": expected " .. table.concat(types, " or ") .. ", got " .. got
        .. (scalar and (" " .. show(value)) or "")
      return
    end
  end

  if s.enum then
    local ok = false
    for _, e in ipairs(s.enum) do
      if e == value then ok = true break end
    end
    if not ok then
      local names = {}
      for i, e in ipairs(s.enum) do names[i] = tostring(e) end
      out[#out + 1] = path .. ": " .. show(value) .. " is not one of " .. table.concat(names, ", ")
      return
    end
  end

  if got == "string" and s.format then
    if s.format == "uuid" and not is_uuid(value) then
      out[#out + 1] = path .. ": " .. show(value) .. " is not a uuid"
    elseif s.format == "date-time" and not is_datetime(value) then
      out[#out + 1] = path .. ": " .. show(value) .. " is not an RFC 3339 date-time"
    end
  end

  if got == "array" and s.items then
    for i = 1, #value do self:check(s.items, value[i], path .. "[" .. (i - 1) .. "]", out) end
  end

  local declares_object = s.properties ~= nil or s.required ~= nil or s.additionalProperties ~= nil
  for _, t in ipairs(types or {}) do
    if t == "object" then declares_object = true end
  end
  if got == "object" and declares_object then
    local props = s.properties or {}
    for _, name in ipairs(s.required or {}) do
      if value[name] == nil then out[#out + 1] = key_path(path, name) .. ": required property is missing" end
    end
    for _, k in ipairs(sorted_keys(value)) do
      local sub = props[k]
      if sub ~= nil then
        self:check(sub, value[k], key_path(path, k), out)
      elseif s.additionalProperties == nil or s.additionalProperties == false then
        out[#out + 1] = key_path(path, k) .. ": undeclared property"
      elseif type(s.additionalProperties) == "table" then
        self:check(s.additionalProperties, value[k], key_path(path, k), out)
      end
    end
  end
end

-- Every problem of value against schema, as "path: message"; {} if none.
function Validator:validate(schema, value, path)
  local out = {}
  self:check(schema, value, path or "$", out)
  return out
end

return M
