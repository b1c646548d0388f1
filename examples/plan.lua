-- Show what a full-replacement update would change and reset, sending nothing.
--
--   POLYTOMIC_API_KEY=... lua5.4 examples/plan.lua SYNC_ID BODY.json
local bulksync = require "bulksync"

local id, path = arg[1], arg[2]
if not id or not path then
  io.stderr:write("usage: plan.lua SYNC_ID BODY.json\n")
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
  print(plan)
  if plan:has_resets() then
    print("\nThis body would reset the fields marked RESET. Add them to the body, or use client:patch.")
  end
end)
if not ok then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
