--[[ bulksync.plan_nested: the changes inside a table-valued field of a plan.

A change to a table-valued field is shown where it happens: each
object's fields by name, a list's items by what identifies them (a
schema's or a field's `id`, a 2024 schedule's `item`; the position only
when the items have no distinct identity), a free-form map key by key.
What the full replacement leaves out of an object is a reset at its own
path; a map key left out is lost with the old map, a reset too.
bulksync.plan builds the top-level entries and gives each to expand. ]]

local core = require "bulksync.core"
local render_lib = require "bulksync.plan_render"

local null, array_mt = core.null, core.array_mt
local type, pairs, ipairs, next, tostring, getmetatable, pcall = type, pairs, ipairs, next, tostring, getmetatable, pcall

local M = {}

-- bulksync.plan's own comparisons and depth guard, given to M.new: one
-- definition of "the same value" and "lost nothing" for every depth.
local equal, same_as_reset, depth_check, named

local function is_none(v) return v == nil or v == null end
local function is_empty_list(v) return type(v) == "table" and next(v) == nil end
local function subfields(field) return field and field.fields end

-- Each entry's field descriptor, for the renderer (secrets), kept out of
-- the entries a program reads.
local DESC = setmetatable({}, { __mode = "k" })

local IDENTITY = { "id", "item" }

-- The name of what identifies an item of a list of `items`, if any.
local function identity_name(items)
  local fields = subfields(items)
  if not fields then return items == nil and "id" or nil end   -- free-form: an `id`, if every item has one
  for _, name in ipairs(IDENTITY) do
    for _, f in ipairs(fields) do if f.name == name then return name end end
  end
end

-- A bare id where an object may stand (string_or_object) is that object.
local function as_object(v, desc)
  if type(v) == "string" and desc and desc.type == "string_or_object" then return { id = v } end
  return v
end

-- {identity = position} when every item has a distinct one, else nil.
local function index_by(list, key, items)
  local out = {}
  for i = 1, #list do
    local v = as_object(list[i], items)
    local k = type(v) == "table" and v[key] or nil
    if not ((type(k) == "string" and k ~= "") or type(k) == "number") or out[k] then return nil end
    out[k] = i
  end
  return out
end

local function is_list(v, desc)
  if desc and desc.type == "list" then return true end
  return getmetatable(v) == array_mt or (next(v) ~= nil and #v > 0)
end

local function has_tables(list)
  for i = 1, #list do if type(list[i]) == "table" then return true end end
  return false
end

-- What an item added without a strict sub-field (a schema without
-- `fields`) gets from the server.
local function added_note(v, desc)
  if type(v) ~= "table" then v = as_object(v, desc) end
  for _, f in ipairs(type(v) == "table" and subfields(desc) or {}) do
    if f.strict and (is_none(v[f.name]) or is_empty_list(v[f.name])) then
      return f.name .. " left out: " .. (f.reset_note or "the server's default")
    end
  end
end

local function emit(out, segs, action, from, to, desc, note)
  if action == "add" then note = note or added_note(to, desc) end
  if action == "reset" then note = note or "left out of the body: the full replacement resets it" end
  local copy_of = {}
  for i, s in ipairs(segs) do copy_of[i] = s end
  local e = { field = segs[1], path = render_lib.path(copy_of), segments = copy_of, action = action,
    from = from, to = to, note = note }
  DESC[e] = desc
  out[#out + 1] = e
end

local function leaf(out, segs, c, b, desc)
  local action = (b == null and "clear") or (is_none(c) and "add") or "change"
  emit(out, segs, action, c, b, desc)
end

local MAP_NOTE = "left out of the body: the map is replaced whole"

local walk

local function walk_object(c, b, fields, segs, depth, out)
  local n = #segs + 1
  for _, f in ipairs(fields) do
    local cv, bv = c[f.name], b[f.name]
    segs[n] = f.name
    if f.strict and (bv == null or is_empty_list(bv)) and not (is_none(cv) or is_empty_list(cv)) then
      emit(out, segs, "reset", cv, bv, f, f.reset_note)
    elseif bv == nil and not is_none(cv) then
      -- An id left out is no setting lost (a schedule keeps or gets one).
      if f.name ~= "id" and not same_as_reset(cv, f) then emit(out, segs, "reset", cv, f.reset, f, f.reset_note) end
    else
      walk(cv, bv, f, segs, depth + 1, out)
    end
    segs[n] = nil
  end
end

local function walk_list(c, b, items, segs, depth, out)
  local n = #segs + 1
  local key = identity_name(items)
  local bi, ci = key and index_by(b, key, items), key and index_by(c, key, items)
  if bi and ci then
    for i = 1, #b do
      local k = as_object(b[i], items)[key]
      segs[n] = { id = k }
      if ci[k] then walk(c[ci[k]], b[i], items, segs, depth + 1, out)
      else emit(out, segs, "add", nil, b[i], items) end
    end
    for i = 1, #c do
      local k = as_object(c[i], items)[key]
      if not bi[k] then
        segs[n] = { id = k }
        emit(out, segs, "remove", c[i], nil, items)
      end
    end
  else
    for i = 1, math.max(#b, #c) do
      segs[n] = { index = i }
      if b[i] == nil then emit(out, segs, "remove", c[i], nil, items)
      elseif c[i] == nil then emit(out, segs, "add", nil, b[i], items)
      else walk(c[i], b[i], items, segs, depth + 1, out) end
    end
  end
  segs[n] = nil
end

local function walk_map(c, b, segs, depth, out)
  local n, keys, seen = #segs + 1, {}, {}
  for k in pairs(b) do keys[#keys + 1], seen[k] = k, true end
  for k in pairs(c) do if not seen[k] then keys[#keys + 1] = k end end
  table.sort(keys, function(x, y) return tostring(x) < tostring(y) end)
  for _, k in ipairs(keys) do
    segs[n] = k
    if b[k] == nil then emit(out, segs, "reset", c[k], nil, nil, MAP_NOTE)
    else walk(c[k], b[k], nil, segs, depth + 1, out) end
  end
  segs[n] = nil
end

-- The entries between c (current) and b (body) at segs, appended to out.
walk = function(c, b, desc, segs, depth, out)
  depth_check(depth)
  if equal(c, b, depth) or (is_none(c) and is_none(b)) then return end
  c, b = as_object(c, desc), as_object(b, desc)
  if (desc and desc.secret) or type(c) ~= "table" or type(b) ~= "table" then
    return leaf(out, segs, c, b, desc)
  end
  local fields = subfields(desc)
  if fields then return walk_object(c, b, fields, segs, depth, out) end
  local cl, bl = is_list(c, desc), is_list(b, desc)
  if cl ~= bl or (cl and not (has_tables(c) or has_tables(b))) then
    -- A list of plain values (policy ids, schema ids) reads best whole.
    return leaf(out, segs, c, b, desc)
  end
  if cl then return walk_list(c, b, desc and desc.items, segs, depth, out) end
  return walk_map(c, b, segs, depth, out)
end

--[[ Gives a top-level entry its path and, for a table-valued field that
changes, its nested entries: shown in its place when they say more (and,
for a reset, still show one). ]]
local function expand(e, f, c, b)
  e.path, e.segments = e.field, { e.field }
  DESC[e] = f
  if e.action == "keep" or e.action == "unknown" or type(c) ~= "table" or type(b) ~= "table" then return e end
  local out = {}
  named(e.field, pcall(walk, c, b, f, { e.field }, 1, out))
  if #out == 0 then return e end
  if e.action == "reset" then
    local any = false
    for _, x in ipairs(out) do any = any or x.action == "reset" end
    if not any then return e end
  end
  e.nested = out
  return e
end

-- The plan's flat list of what it shows, and its counts.
local function finish(p)
  local entries, counts = {}, { keep = 0, reset = 0, change = 0, clear = 0, add = 0, remove = 0, unknown = 0 }
  for _, e in ipairs(p.changes) do
    if e.action == "keep" then
      counts.keep = counts.keep + 1
    else
      for _, x in ipairs(e.nested or { e }) do
        entries[#entries + 1] = x
        counts[x.action] = (counts[x.action] or 0) + 1
      end
    end
  end
  p.entries, p.counts, p.resets, p.unknowns = entries, counts, counts.reset, counts.unknown
  return p
end

function M.new(helpers)
  equal, same_as_reset = helpers.equal, helpers.same_as_reset
  depth_check, named = helpers.depth_check, helpers.named
  M.expand, M.finish, M.DESC = expand, finish, DESC
  return M
end

return M
