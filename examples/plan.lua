-- Show what a full-replacement update would change and reset, sending nothing.
--
--   POLYTOMIC_API_KEY=... lua5.4 examples/plan.lua SYNC_ID BODY.json [--colour]
--
-- Each change is one line at the path where it happens, values whole:
--
--   bulk sync 6b0e7d1c-... (API 2025-09-18): 2 resets, 1 other change
--     change  destination_configuration.table_prefix  "pg_" -> "x_"
--     RESET   normalize_names  "disabled" -> "enabled"  (names normalized)
--     RESET   schemas[public.orders].partition_key  "created_at" -> (omitted)  (...)
--     16 fields unchanged
--
-- --colour prints RESET lines in red (ANSI), for a terminal.
--
-- Against the local stand-in of the API (no account needed), from the
-- repository root after `make` (its first sync is
-- 6b0e7d1c-4a53-4f0e-9d2a-1c5e8f3a7b01):
--
--   lua5.4 standin/server.lua --port 8089 --quiet &
--   cat >/tmp/body.json <<'EOF'
--   {"name": "Orders", "mode": "replicate",
--    "source_connection_id": "a1c0ffee-0000-4000-8000-000000000001",
--    "destination_connection_id": "a1c0ffee-0000-4000-8000-000000000002",
--    "destination_configuration": {"schema": "analytics"},
--    "default_schedule": {"frequency": "daily", "hour": "05", "minute": "30"}}
--   EOF
--   BULKSYNC_BASE_URL=http://127.0.0.1:8089 POLYTOMIC_API_KEY=test-key \
--     lua5.4 examples/plan.lua 6b0e7d1c-4a53-4f0e-9d2a-1c5e8f3a7b01 /tmp/body.json
--   kill %1    # the server
local bulksync = require "bulksync"

local id, path, flag = arg[1], arg[2], arg[3]
if not id or not path or (flag ~= nil and flag ~= "--colour") then
  io.stderr:write("usage: plan.lua SYNC_ID BODY.json [--colour]\n")
  os.exit(2)
end

local ok, err = pcall(function()
  local file = assert(io.open(path, "rb"))
  local body = bulksync.decode(file:read("*a"))
  file:close()
  local client = bulksync.new {
    api_key = os.getenv("POLYTOMIC_API_KEY"),
    base_url = os.getenv("BULKSYNC_BASE_URL"),
  }
  local plan = client:plan(id, body)   -- GETs the sync and its schemas; no PUT
  client:close()
  print(plan:render({ colour = flag == "--colour" }))
  if plan:has_resets() then
    print("\nThis body would reset the fields marked RESET. Add them to the body, or use client:patch.")
  end
end)
if not ok then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
