-- Update a bulk sync from a JSON file holding the complete body.
--
--   POLYTOMIC_API_KEY=... lua5.4 examples/update_from_file.lua SYNC_ID body.json [--strict]
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
--     lua5.4 examples/update_from_file.lua 6b0e7d1c-4a53-4f0e-9d2a-1c5e8f3a7b01 /tmp/body.json
--   kill %1    # the server
--
-- The body replaces the sync's whole configuration: every field the file
-- leaves out is reset. --strict refuses a file that omits any field.
local bulksync = require "bulksync"

local id, path, flag = arg[1], arg[2], arg[3]
if not id or not path then
  io.stderr:write("usage: update_from_file.lua SYNC_ID BODY.json [--strict]\n")
  os.exit(2)
end

local function fail(err)
  -- tostring of a bulksync error is one readable line; the key is never in it.
  io.stderr:write(tostring(err), "\n")
  if bulksync.is_error(err) and err.errors then
    for _, p in ipairs(err.errors) do io.stderr:write("  ", p.path, ": ", p.problem, "\n") end
  end
  os.exit(1)
end

local file, open_err = io.open(path, "rb")
if not file then fail("cannot read " .. path .. ": " .. tostring(open_err)) end
local text = file:read("*a")
file:close()

local ok, result = pcall(function()
  local body = bulksync.decode(text)
  local client = bulksync.new {
    api_key = os.getenv("POLYTOMIC_API_KEY"),
    base_url = os.getenv("BULKSYNC_BASE_URL"),   -- nil: https://app.polytomic.com
    version = os.getenv("POLYTOMIC_VERSION"),     -- nil: the newest supported
  }
  local sync, meta = client:update(id, body, { strict = flag == "--strict" })
  client:close()
  return { sync = sync, meta = meta }
end)
if not ok then fail(result) end

print(string.format("updated %s (%s), HTTP %d, API %s, %d attempt(s)", result.sync.id or id,
  tostring(result.sync.name), result.meta.status, result.meta.version, result.meta.attempts))
