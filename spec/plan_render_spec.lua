-- A plan a person can read: changes inside a field shown path by path,
-- values whole, resets marked at any depth, secrets masked at any depth,
-- and render's options (colour, width) checked like every options table.

local core = require "bulksync.core"
local bulksync = require "bulksync"
local plan = require "bulksync.plan"

local V2025, V2024 = "2025-09-18", "2024-02-08"
local function A(t) return setmetatable(t, core.array_mt) end

local SYNC_ID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"

local function sync()
  return {
    id = SYNC_ID, name = "Orders", mode = "replicate", active = true,
    source_connection_id = "0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d",
    destination_connection_id = "1b2c3d4e-5f60-4b7c-9d8e-9f0a1b2c3d4e",
    destination_configuration = { schema = "ANALYTICS", table_prefix = "pg_", warehouse = "COMPUTE_WH" },
    default_schedule = { id = "4e5f6071-8293-4eaf-8b01-2c3d4e5f6071", frequency = "daily", hour = "05", minute = "30" },
    automatically_add_new_fields = "none", automatically_add_new_objects = "all", normalize_names = "legacy",
    disable_record_timestamps = true, organization_id = "2c3d4e5f-6071-4c8d-ae9f-0a1b2c3d4e5f",
  }
end

local function details()
  return A {
    { id = "public.orders", enabled = true, partition_key = "created_at", tracking_field = "",
      filters = A { { field_id = "status", ["function"] = "Equality", value = "paid" } },
      fields = A {
        { id = "id", enabled = true, obfuscated = false },
        { id = "email", enabled = true, obfuscated = false },
        { id = "notes", enabled = false, obfuscated = false },
      } },
    { id = "public.audit", enabled = false, fields = A { { id = "id", enabled = true, obfuscated = false } } },
  }
end

-- The complete body of sync() with changes made by `edit`, and its plan.
local function plan_of(edit, opts)
  local body = assert(plan.to_update(sync(), { schemas = details(), keep_organization = true }))
  edit(body)
  return plan.diff(sync(), body, { schemas = details(), version = (opts or {}).version })
end

local function entry(p, path)
  for _, e in ipairs(p.entries) do
    if e.path == path then return e end
  end
end

local function lines_of(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do out[#out + 1] = line end
  return out
end

local function validation(f)
  local ok, err = pcall(f)
  assert.is_false(ok)
  assert.is_true(bulksync.is_error(err), tostring(err))
  assert.equal("ValidationError", err.kind)
  return err
end

describe("a plan's nested changes", function()
  it("shows a change inside a free-form map at its key", function()
    local p = plan_of(function(b) b.destination_configuration.table_prefix = "x_" end)
    local text = tostring(p)
    assert.matches('change%s+destination_configuration%.table_prefix%s+"pg_" %-> "x_"', text)
    -- the keys that did not change get no line
    assert.is_nil(text:find("warehouse", 1, true))
    local e = entry(p, "destination_configuration.table_prefix")
    assert.same({ "destination_configuration", "table_prefix" }, e.segments)
    assert.equal("change", e.action)
    assert.equal("pg_", e.from)
    assert.equal("x_", e.to)
    assert.equal("destination_configuration", e.field)
  end)

  it("names list items by their id: a schema, then a field", function()
    local p = plan_of(function(b) b.schemas[1].fields[2].enabled = false end)
    assert.matches("change%s+schemas%[public%.orders%]%.fields%[email%]%.enabled%s+true %-> false", tostring(p))
    local e = entry(p, "schemas[public.orders].fields[email].enabled")
    assert.same({ "schemas", { id = "public.orders" }, "fields", { id = "email" }, "enabled" }, e.segments)
    assert.equal(1, #p.entries)
    assert.equal(0, p.resets)
  end)

  it("finds items by id whatever their order", function()
    local p = plan_of(function(b)
      local f = b.schemas[1].fields
      f[1], f[3] = f[3], f[1]
      f[1].enabled = true                                        -- notes
    end)
    assert.equal(1, #p.entries)
    assert.equal("schemas[public.orders].fields[notes].enabled", p.entries[1].path)
  end)

  it("uses the position only where nothing identifies an item", function()
    local p = plan_of(function(b) b.schemas[1].filters[1].value = "refunded" end)
    local e = entry(p, "schemas[public.orders].filters[1].value")
    assert.truthy(e, tostring(p))
    assert.same({ "schemas", { id = "public.orders" }, "filters", { index = 1 }, "value" }, e.segments)
    assert.matches('schemas%[public%.orders%]%.filters%[1%]%.value%s+"paid" %-> "refunded"', tostring(p))
  end)

  it("shows added and removed items as such", function()
    local p = plan_of(function(b)
      table.remove(b.schemas[1].fields, 3)                       -- notes
      b.schemas[1].filters[2] = { field_id = "id", ["function"] = "IsNotNull" }
    end)
    local removed = entry(p, "schemas[public.orders].fields[notes]")
    assert.equal("remove", removed.action)
    assert.equal("notes", removed.from.id)
    assert.is_nil(removed.to)
    local added = entry(p, "schemas[public.orders].filters[2]")
    assert.equal("add", added.action)
    assert.is_nil(added.from)
    local text = tostring(p)
    assert.matches("remove%s+schemas%[public%.orders%]%.fields%[notes%]", text)
    assert.matches('add%s+schemas%[public%.orders%]%.filters%[2%]%s+%(absent%) %-> {"field_id":"id","function":"IsNotNull"}',
      text)
  end)

  it("marks what the replacement leaves out RESET, at its depth", function()
    local p = plan_of(function(b)
      b.schemas[1].partition_key = nil
      b.destination_configuration.warehouse = nil
    end)
    local text = tostring(p)
    assert.matches('RESET%s+schemas%[public%.orders%]%.partition_key%s+"created_at" %-> %(omitted%)', text)
    assert.matches('RESET%s+destination_configuration%.warehouse%s+"COMPUTE_WH" %-> %(omitted%)', text)
    assert.equal(2, p.resets)
    assert.equal(2, p.counts.reset)
    assert.is_true(p:has_resets())
    -- the top-level entries stay, holding the nested ones
    for _, e in ipairs(p.changes) do
      if e.field == "schemas" or e.field == "destination_configuration" then
        assert.equal("change", e.action)
        assert.equal(e.field, e.path)
        assert.equal(1, #e.nested)
        assert.equal("reset", e.nested[1].action)
      end
    end
  end)

  it("does not call an id left out of a schedule a reset, but does its settings", function()
    local p = plan_of(function(b) b.default_schedule = { frequency = "daily", hour = "06" } end)
    assert.equal("change", entry(p, "default_schedule.hour").action)
    assert.equal("reset", entry(p, "default_schedule.minute").action)
    assert.equal(2, #p.entries)
  end)

  it("shows a schema item given as a bare id as the resets it causes", function()
    local p = plan_of(function(b) b.schemas[2] = "public.audit" end)
    local e = entry(p, "schemas[public.audit].fields")
    assert.equal("reset", e.action)
    assert.matches("every field of the schema enabled", e.note, 1, true)
    assert.equal("reset", entry(p, "schemas[public.audit].enabled").action)
    assert.matches("RESET%s+schemas%[public%.audit%]%.fields", tostring(p))
    -- the field-level entry is still a reset, with its old note
    for _, c in ipairs(p.changes) do
      if c.field == "schemas" then
        assert.equal("reset", c.action)
        assert.matches("item 2 (public.audit)", c.note, 1, true)
      end
    end
  end)

  it("marks an empty fields list a reset, not a removal of every field", function()
    local p = plan_of(function(b) b.schemas[1].fields = A {} end)
    local e = entry(p, "schemas[public.orders].fields")
    assert.equal("reset", e.action)
    assert.is_nil(entry(p, "schemas[public.orders].fields[email]"))
  end)

  it("names 2024-02-08 itemized schedules by their item", function()
    local s = sync()
    s.default_schedule = nil
    s.schedule = { frequency = "multi", multi = { type = "itemized", schedules = A {
      { item = "incrementalFields", schedule = { frequency = "continuous" } },
      { item = "nonincrementalFields", schedule = { frequency = "daily", hour = "05", minute = "00" } },
    } } }
    local body = assert(plan.to_update(s, { version = V2024, schemas = details() }))
    body.schedule.multi.schedules[2].schedule.hour = "06"
    local p = plan.diff(s, body, { version = V2024, schemas = details() })
    assert.matches('schedule%.multi%.schedules%[nonincrementalFields%]%.schedule%.hour%s+"05" %-> "06"', tostring(p))
  end)

  it("quotes an id that could pass for a position or has odd characters", function()
    local render = require "bulksync.plan_render"
    assert.equal('schemas["3"]', render.path { "schemas", { id = "3" } })
    assert.equal('schemas["a b]"].x', render.path { "schemas", { id = "a b]" }, "x" })
    assert.equal('m["odd key"][2]', render.path { "m", "odd key", { index = 2 } })
  end)

  it("shows nested changes of a record's plan (diff_kind) too", function()
    local record = details()[1]
    local body = plan.project_kind(record, V2025, "schema")
    body.fields[2].enabled = false
    local p = plan.diff_kind(record, body, { version = V2025, kind = "schema", id = SYNC_ID })
    assert.matches("change%s+fields%[email%]%.enabled%s+true %-> false", tostring(p))
    assert.equal(1, #p.entries)
  end)

  it("stays bounded on deep values: a problem, not a stack overflow", function()
    local deep, cur = {}, {}
    local d, c = deep, cur
    for _ = 1, 100 do d.x, c.x = {}, {}; d, c = d.x, c.x end
    d.v, c.v = 1, 2
    local s = sync()
    s.destination_configuration = cur
    local body = assert(plan.to_update(sync(), { schemas = details() }))
    body.destination_configuration = deep
    local ok, err = pcall(plan.diff, s, body, { schemas = details() })
    assert.is_false(ok)
    assert.is_true(plan.is_problem(err))
    assert.equal("destination_configuration", err.path)
    -- within the limit, the whole path is shown
    local near, near_cur = {}, {}
    d, c = near, near_cur
    for _ = 1, 30 do d.x, c.x = {}, {}; d, c = d.x, c.x end
    d.v, c.v = 1, 2
    s.destination_configuration = near_cur
    body.destination_configuration = near
    local e = plan.diff(s, body, { schemas = details() }).entries[1]
    assert.equal("destination_configuration" .. string.rep(".x", 30) .. ".v", e.path)
  end)
end)

describe("a printed plan's values", function()
  it("keeps a long value whole, on a line of its own", function()
    local long = string.rep("abcdefghij", 30) .. "-end"
    local p = plan_of(function(b) b.destination_configuration.schema = long end)
    local text = tostring(p)
    assert.truthy(text:find('"' .. long .. '"', 1, true), text)
    assert.is_nil(text:find("...", 1, true))
    local lines = lines_of(text)
    assert.matches("^  change  destination_configuration%.schema$", lines[2])
    assert.equal('            from "ANALYTICS"', lines[3])
    assert.equal('            to   "' .. long .. '"', lines[4])
  end)

  it("shows a list of schema selections whole, not as a count", function()
    local p = plan.diff(sync(), assert(plan.to_update(sync(), { schemas = details() })))
    local text = tostring(p)
    assert.is_nil(text:find("items]", 1, true))
    assert.truthy(text:find('"id":"public.orders"', 1, true))
  end)

  it("masks a secret field at any depth, in a path's value and inside a whole value", function()
    local nested = require "bulksync.plan_nested"
    local render = require "bulksync.plan_render"
    local desc = { name = "auth", type = "object", fields = {
      { name = "user", type = "string" },
      { name = "token", type = "string", secret = true },
      { name = "keys", type = "list", items = { type = "object", fields = {
        { name = "id", type = "string" }, { name = "value", type = "string", secret = true } } } },
    } }
    local cur = { user = "ada", token = "tok-OLD-1234", keys = A { { id = "k1", value = "val-OLD-5678" } } }
    local new = { user = "bob", token = "tok-NEW-1234", keys = A { { id = "k1", value = "val-NEW-5678" },
      { id = "k2", value = "val-ADD-9999" } } }
    local e = nested.expand({ field = "auth", action = "change", from = cur, to = new }, desc, cur, new)
    local p = nested.finish(setmetatable({ version = V2025, id = SYNC_ID, changes = { e } }, {}))
    local text = render.render(p, nil, function(x) return nested.DESC[x] end)
    assert.matches("change%s+auth%.token%s+%(not shown%) %-> %(not shown%)", text)
    assert.matches("change%s+auth%.keys%[k1%]%.value%s+%(not shown%) %-> %(not shown%)", text)
    assert.matches('add%s+auth%.keys%[k2%]%s+%(absent%) %-> {"id":"k2","value":%(not shown%)}', text)
    assert.matches('"ada" %-> "bob"', text)
    for _, secret in ipairs { "OLD", "NEW", "ADD" } do assert.is_nil(text:find(secret, 1, true), text) end
  end)

  it("masks organization_id, whose descriptor is secret, with the nested layout", function()
    local s = sync()
    local body = assert(plan.to_update(s, { keep_organization = true, schemas = details() }))
    body.organization_id = "9d8e7f60-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
    local text = plan.diff(s, body, { schemas = details() }):render({ width = 200 })
    assert.is_nil(text:find("2c3d4e5f", 1, true))
    assert.is_nil(text:find("9d8e7f60", 1, true))
  end)
end)

describe("plan:render(opts)", function()
  local function reset_plan()
    return plan_of(function(b)
      b.normalize_names = nil
      b.name = "Renamed"
    end)
  end

  it("colours RESET lines red with colour = true, and nothing otherwise", function()
    local p = reset_plan()
    local text = p:render({ colour = true })
    local red
    for _, line in ipairs(lines_of(text)) do
      if line:find("RESET", 1, true) then red = line end
    end
    assert.truthy(red)
    assert.equal("\27[1;31m", red:sub(1, 7))
    assert.equal("\27[0m", red:sub(-4))
    assert.truthy(text:find('\27[32m  change  name', 1, true))
    for _, plain in ipairs { tostring(p), p:render(), p:render({ colour = false }), plan.render(p, {}) } do
      assert.is_nil(plain:find("\27", 1, true))
    end
    assert.equal(tostring(p), p:render({ colour = false }))
  end)

  it("lays out to the width given", function()
    local p = plan_of(function(b) b.destination_configuration.schema = string.rep("s", 60) end)
    assert.equal(3, #lines_of(p:render({ width = 200 })))
    assert.equal(5, #lines_of(p:render({ width = 40 })))
  end)

  it("refuses an unknown option, suggesting the known one", function()
    local p = reset_plan()
    local err = validation(function() p:render({ color = true }) end)
    assert.equal("color", err.errors[1].path)
    assert.matches("did you mean `colour`?", err.errors[1].problem, 1, true)
    err = validation(function() p:render({ widht = 80 }) end)
    assert.matches("did you mean `width`?", err.errors[1].problem, 1, true)
  end)

  it("refuses wrong values", function()
    local p = reset_plan()
    assert.equal("colour", validation(function() p:render({ colour = "yes" }) end).errors[1].path)
    for _, w in ipairs { 0, 10, 80.5, "80", 1e9 } do
      assert.equal("width", validation(function() p:render({ width = w }) end).errors[1].path)
    end
    validation(function() p:render("colour") end)
  end)

  it("renders a plan whose body sets nothing", function()
    local p = plan.diff(sync(), assert(plan.to_update(sync(), { schemas = details(), keep_organization = true })),
      { schemas = details() })
    assert.equal(0, #p.entries)
    assert.matches("0 resets, 0 other changes", tostring(p))
    assert.equal(2, #lines_of(tostring(p)))
  end)
end)
