-- The content handler spec/openresty_spec.lua drives inside nginx. It does
-- what a user's handler does (new client from the environment, update a
-- sync, log tostring(err)) and answers with JSON describing what happened,
-- so the spec can check it from outside.
--
--   GET /update?id=UUID ...         (content_by_lua)
--   GET /header-filter?id=UUID ...  (header_filter_by_lua: no cosockets)
--   GET /update?id=UUID&name=NAME[&bad=1][&retries=N][&key=IDEMPOTENCY-KEY]
--              [&transport=curl]   (the blocking transport, as a control)
--              [&base=URL]         (another server than $BULKSYNC_BASE_URL)
--              [&timeout=S]
local bulksync = require "bulksync"
local cjson = require "cjson"

local M = {}

local SOURCE = "a1c0ffee-0000-4000-8000-000000000001"
local DESTINATION = "a1c0ffee-0000-4000-8000-000000000002"

local function body(args)
  return {
    name = args.name or "from nginx",
    mode = args.bad and "sideways" or "replicate",
    source_connection_id = SOURCE,
    destination_connection_id = DESTINATION,
    destination_configuration = { schema = "ANALYTICS" },
    default_schedule = { frequency = "daily", hour = "5", minute = "30" },
  }
end

local function plain(v)
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" then return v end
  return nil
end

local function run(args)
  local out = {}
  local ok, err = pcall(function()
    local client = bulksync.new {
      api_key = os.getenv("POLYTOMIC_API_KEY"),
      base_url = args.base or os.getenv("BULKSYNC_BASE_URL"),
      retries = tonumber(args.retries) or 0,
      retry_base = 0.05, retry_cap = 0.05,
      timeout = tonumber(args.timeout) or 20,
      transport = args.transport,
    }
    local t = client.transport
    out.transport = t.name
    out.http_client = t.client
    -- Which lua-resty-http, if any, was loaded, and from which file: the
    -- spec proves the copy it put first on lua_package_path was used.
    local resty = package.loaded["resty.http"]
    if type(resty) == "table" then
      out.resty_http_version = tostring(resty._VERSION)
      out.resty_http_file = debug.getinfo(resty.new, "S").source:gsub("^@", "")
    end
    out.sleep_is_ngx_sleep = t.sleep == ngx.sleep
    local data, meta = client:update(args.id, body(args), { idempotency_key = args.key })
    out.name = data.name
    out.status = meta.status
    out.attempts = meta.attempts
  end)
  if not ok then
    -- An uncaught table error is logged as "unknown reason": log the text.
    ngx.log(ngx.ERR, "sync update failed: ", tostring(err))
    local e = { is_error = bulksync.is_error(err), text = tostring(err) }
    if type(err) == "table" then
      for _, k in ipairs({ "kind", "status", "message", "retryable", "attempts", "method", "url", "code" }) do
        e[k] = plain(err[k])
      end
      if type(err.errors) == "table" then
        e.paths = {}
        for i, p in ipairs(err.errors) do e.paths[i] = p.path end
      end
    end
    out.error = e
  end
  return out
end

function M.update()
  local out = run(ngx.req.get_uri_args())
  ngx.header["Content-Type"] = "application/json"
  ngx.say(cjson.encode(out))
end

-- The same call from a phase where cosockets cannot run: the answer is a
-- header holding what came back.
function M.header_filter()
  local out = run(ngx.req.get_uri_args())
  ngx.header["X-Bulksync-Result"] = out.error and out.error.text or "no error"
  ngx.header["X-Bulksync-Kind"] = out.error and tostring(out.error.kind) or "none"
end

return M
