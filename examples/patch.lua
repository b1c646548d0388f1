-- Change some fields of a bulk sync and keep everything else.
--
--   POLYTOMIC_API_KEY=... lua5.4 examples/patch.lua SYNC_ID field=value [field=value ...]
--
-- Against the local stand-in of the API (no account needed), from the
-- repository root after `make` (its first sync is
-- 6b0e7d1c-4a53-4f0e-9d2a-1c5e8f3a7b01):
--
--   lua5.4 standin/server.lua --port 8089 --quiet &
--   BULKSYNC_BASE_URL=http://127.0.0.1:8089 POLYTOMIC_API_KEY=test-key \
--     lua5.4 examples/patch.lua 6b0e7d1c-4a53-4f0e-9d2a-1c5e8f3a7b01 active=false concurrency_limit=4
--   kill %1    # the server
--
-- Values are JSON (active=false, concurrency_limit=4, name='"Nightly"');
-- anything that is not valid JSON is taken as a string (name=Nightly).
local bulksync = require "bulksync"

local id = arg[1]
if not id or not arg[2] then
  io.stderr:write("usage: patch.lua SYNC_ID field=value [field=value ...]\n")
  os.exit(2)
end

local changes = {}
for i = 2, #arg do
  local field, text = arg[i]:match("^([%w_]+)=(.*)$")
  if not field then
    io.stderr:write("not field=value: ", arg[i], "\n")
    os.exit(2)
  end
  local ok, value = pcall(bulksync.decode, text)
  if ok then changes[field] = value else changes[field] = text end
end

local ok, err = pcall(function()
  local client = bulksync.new {
    api_key = os.getenv("POLYTOMIC_API_KEY"),
    base_url = os.getenv("BULKSYNC_BASE_URL"),
  }
  -- GET the sync and its schemas, apply the changes, PUT the complete body.
  -- Someone else's change between the GET and the PUT would be overwritten:
  -- the API has no version check on updates.
  local sync = client:patch(id, changes)
  client:close()
  for field in pairs(changes) do
    local v = sync[field]
    print(string.format("%-30s %s", field, type(v) == "table" and "(table)" or tostring(v)))
  end
end)
if not ok then
  io.stderr:write(tostring(err), "\n")
  if bulksync.is_error(err) and err.errors then
    for _, p in ipairs(err.errors) do io.stderr:write("  ", p.path, ": ", p.problem, "\n") end
  end
  os.exit(1)
end
