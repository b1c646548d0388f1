-- Update a bulk sync from a JSON file holding the complete body.
--
--   POLYTOMIC_API_KEY=... lua5.4 examples/update_from_file.lua SYNC_ID body.json [--strict]
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
