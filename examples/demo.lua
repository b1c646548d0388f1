-- The demo: why a full-replacement update is dangerous, and the safe way.
-- Run by `make demo` against the local stand-in server.
-- By hand, from the repository root after `make`:
--
--   lua5.4 standin/server.lua --port 8089 --quiet &
--   BULKSYNC_BASE_URL=http://127.0.0.1:8089 POLYTOMIC_API_KEY=test-key lua5.4 examples/demo.lua
--   kill %1    # the server
--
-- Without BULKSYNC_BASE_URL the examples talk to https://app.polytomic.com.
local bulksync = require "bulksync"

local client = bulksync.new {
  api_key = os.getenv("POLYTOMIC_API_KEY"),
  base_url = os.getenv("BULKSYNC_BASE_URL"),
}

local function show(v)
  if v == nil then return "(absent)" end
  if v == bulksync.null then return "null" end
  if type(v) == "table" then return #v .. " item" .. (#v == 1 and "" or "s") end
  return tostring(v)
end

local function selection(schemas)
  local on, fields_off = 0, 0
  for _, s in ipairs(schemas) do
    if s.enabled then
      on = on + 1
      for _, f in ipairs(s.fields or {}) do
        if not f.enabled or f.obfuscated then fields_off = fields_off + 1 end
      end
    end
  end
  return string.format("%d of %d selected, %d fields off or obfuscated", on, #schemas, fields_off)
end

local WATCH = { "active", "automatically_add_new_fields", "automatically_add_new_objects",
  "normalize_names", "concurrency_limit", "policies", "additional_schedules" }

local function run()
  local sync = client:list()[1]
  local id = sync.id
  print(string.format("Bulk sync %q (%s)\n", sync.name, id))

  print("1. A careless update sends only the required fields, with a new name.")
  print("   client:plan(id, body) shows what the server would reset. Nothing is sent:\n")
  local careless = {
    name = sync.name .. " (renamed)",
    mode = sync.mode,
    source_connection_id = sync.source_connection_id,
    destination_connection_id = sync.destination_connection_id,
    destination_configuration = sync.destination_configuration,
    default_schedule = { frequency = sync.default_schedule.frequency },
  }
  local plan = client:plan(id, careless)
  print("   " .. (tostring(plan):gsub("\n", "\n   ")))

  print("\n2. The safe way: client:patch(id, { active = false })")
  print("   fetches the sync and every schema's fields, changes one field, sends the complete object.\n")
  local before, before_schemas = client:get(id), client:schemas(id, { details = true })
  client:patch(id, { active = false })
  local after, after_schemas = client:get(id), client:schemas(id, { details = true })

  print(string.format("   %-30s %-22s %s", "field", "before", "after"))
  for _, field in ipairs(WATCH) do
    local a, b = show(before[field]), show(after[field])
    print(string.format("   %-30s %-22s %s%s", field, a, b, a ~= b and "   <- changed" or ""))
  end
  print(string.format("   %-30s %s", "schemas before", selection(before_schemas)))
  print(string.format("   %-30s %s", "schemas after", selection(after_schemas)))

  print("\n3. Run it once: client:start(id, { wait = { on_progress = ... } })")
  print("   starts an execution and polls it until it ends.\n")
  local execution = client:start(id, { wait = { interval = 0.2, on_progress = function(e)
    print(string.format("   execution %s: %s", e.id:sub(1, 8), e.status))
  end } })
  print(string.format("\n   %s, %s records", execution.status, tostring(execution.record_count)))
end

local ok, err = pcall(run)
client:close()
if not ok then
  io.stderr:write("demo failed: ", tostring(err), "\n")
  os.exit(1)
end
