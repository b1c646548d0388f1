-- The handlers examples/openresty/nginx.conf calls. The same calls as in a
-- plain Lua script: inside nginx bulksync picks the cosocket transport by
-- itself, so waiting on the API never blocks the worker, and retry waits
-- use ngx.sleep.
--
-- nginx.conf's header says how to run it, against the API or against the
-- local stand-in (BULKSYNC_BASE_URL=http://127.0.0.1:8089 POLYTOMIC_API_KEY=test-key,
-- with `lua5.4 standin/server.lua --port 8089` running).
local bulksync = require "bulksync"
local cjson = require "cjson.safe"

local M = {}

-- One client per worker: it holds settings only; connections live in the
-- worker's keep-alive pool.
local client
local function get_client()
  client = client or bulksync.new {
    api_key = os.getenv("POLYTOMIC_API_KEY"),
    base_url = os.getenv("BULKSYNC_BASE_URL"),   -- nil: https://app.polytomic.com
  }
  return client
end

local function reply(status, value)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(value))
end

-- Typed errors are tables: nginx would log an uncaught one as "unknown
-- reason", so catch it and log tostring(err), one line without the key.
local function run(what, f)
  local ok, err = pcall(f)
  if ok then return end
  ngx.log(ngx.ERR, what, " failed: ", tostring(err))
  if not bulksync.is_error(err) then
    return reply(500, { error = "internal error" })
  end
  local status = 502
  if err.kind == "ValidationError" or (err.kind == "DecodeError" and not err.status) then status = 400
  elseif err.kind == "NotFoundError" then status = 404
  elseif err.kind == "TimeoutError" then status = 504 end
  reply(status, { error = err.kind, message = err.message, status = err.status, problems = err.errors })
end

function M.update(id)
  if ngx.req.get_method() ~= "PUT" then return reply(405, { error = "use PUT" }) end
  run("sync update", function()
    ngx.req.read_body()   -- client_body_buffer_size keeps it in memory
    local body = bulksync.decode(ngx.req.get_body_data() or "")
    local sync, meta = get_client():update(id, body)
    reply(200, { id = sync.id, name = sync.name, attempts = meta.attempts })
  end)
end

function M.pause(id)
  if ngx.req.get_method() ~= "POST" then return reply(405, { error = "use POST" }) end
  run("sync pause", function()
    local sync = get_client():patch(id, { active = false })
    reply(200, { id = sync.id, name = sync.name, active = sync.active })
  end)
end

return M
