--[[ bulksync.cli_standin: `bulksync standin [--port N] [--seed FILE]`.

Runs the stand-in server (standin/serve.lua; installed as
bulksync.standin.serve) in this process, on 127.0.0.1, until Ctrl-C or
POST /_standin/shutdown. It needs Lua 5.3 or later (the stand-in uses
integer operators), luasocket and lua-cjson; without them the command
says which to install and exits 2.

The seed FILE (JSON or Lua, like every FILE) adds syncs to the built-in
three:
  { "replace": false,      -- true: drop the built-in syncs first
    "synthetic": 0,        -- that many generated syncs (as /_standin/seed_many)
    "syncs": [ { "id": "optional UUID", ...a create body (POST /api/bulk/syncs)... } ] }
or just the list of syncs. Each sync is created as the API's create would
(same checks; its connections must be the stand-in's, see standin/README.md)
and gets the id given, else a fresh one. POST /_standin/reset brings the
built-in seed back. ]]

local core = require "bulksync.core"

local M = {}

-- The stand-in's demo key: what it accepts unless told otherwise.
local DEMO_KEY = "test-key"

local function needs()
  local major, minor = _VERSION:match("(%d+)%.(%d+)")
  if rawget(_G, "jit") or tonumber(major) * 10 + tonumber(minor) < 53 then
    return "the stand-in needs Lua 5.3 or later (this is " .. (rawget(_G, "jit") and "LuaJIT" or _VERSION)
      .. "); run it as: lua5.4 \"$(command -v bulksync)\" standin"
  end
  if not pcall(require, "socket") then
    return "the stand-in needs luasocket: install lua-socket (Debian) or `luarocks install luasocket`"
  end
  if not pcall(require, "cjson") then
    return "the stand-in needs lua-cjson: install lua-cjson (Debian) or `luarocks install lua-cjson`"
  end
end

local function serve_module()
  local errs = {}
  for _, name in ipairs { "bulksync.standin.serve", "standin.serve" } do
    local ok, m = pcall(require, name)
    if ok then return m end
    errs[#errs + 1] = tostring(m)
  end
  return nil, table.concat(errs, "; ")
end

local SEED_KEYS = { "replace", "synthetic", "syncs" }

-- Adds the seed file's syncs to the app, or raises a usage error naming
-- the item and what the stand-in refused.
local function seed(app, spec, CLI)
  local api = require((package.loaded["bulksync.standin.serve"] and "bulksync.standin." or "standin.") .. "api")
  if #spec > 0 or next(spec) == nil then spec = { syncs = spec } end
  for k in pairs(spec) do
    local known = false
    for _, n in ipairs(SEED_KEYS) do known = known or n == k end
    if not known then
      local near = type(k) == "string" and core.closest(k, SEED_KEYS)
      CLI.usage("--seed: unknown key " .. tostring(k) .. (near and ("; did you mean `" .. near .. "`?") or ""),
        "standin")
    end
  end
  if spec.replace == true then app:seed_many(0, true) end
  if spec.synthetic ~= nil then
    local n = spec.synthetic
    if type(n) ~= "number" or n < 0 or n > 10000 or n % 1 ~= 0 then
      CLI.usage("--seed: synthetic must be a whole number from 0 to 10000", "standin")
    end
    app:seed_many(math.tointeger(n))
  end
  for i, item in ipairs(spec.syncs or {}) do
    local where = "--seed: syncs[" .. i .. "]"
    if type(item) ~= "table" then CLI.usage(where .. " must be an object", "standin") end
    local id, body = item.id, {}
    for k, v in pairs(item) do if k ~= "id" then body[k] = v end end
    if id ~= nil and (not api.is_uuid(id) or app.data.syncs[id:lower()]) then
      CLI.usage(where .. ".id must be a UUID no other sync has", "standin")
    end
    local text = core.encode_value(body)
    local status, answer = app:create(text or "", api.default_version, app:actor("bearer"))
    if status ~= 200 then
      CLI.usage(where .. ": " .. tostring(type(answer) == "table" and answer.message or status), "standin")
    end
    if id then
      local old, new = answer.data.id, id:lower()
      local data = app.data
      data.syncs[new], data.syncs[old] = data.syncs[old], nil
      data.syncs[new].id = new
      data.schemas[new], data.schemas[old] = data.schemas[old], nil
      data.order[#data.order] = new
    end
  end
end

function M.run(ctx, flags, CLI)
  local why = needs()
  if why then CLI.usage(why, "standin") end
  local serve, err = serve_module()
  if not serve then CLI.usage("the stand-in's modules are missing: " .. err, "standin") end
  local port = flags.port or "0"
  if not tostring(port):match("^%d+$") or tonumber(port) > 65535 then
    CLI.usage("--port needs a port number (0 picks a free one)", "standin")
  end
  local spec = flags.seed and CLI.read_file(ctx, flags.seed, "standin")
  local app
  local hooks = {
    setup = function(a)
      app = a
      if spec then seed(a, spec, CLI) end
    end,
    listening = function(p)
      local url = "http://127.0.0.1:" .. p
      local syncs = {}
      for i, id in ipairs(app.data.order) do syncs[i] = { id = id, name = app.data.syncs[id].name } end
      if ctx.json_output then
        ctx.stdout:write(core.encode_value { url = url, api_key = DEMO_KEY, syncs = syncs }, "\n")
      else
        local lines = { "bulksync stand-in listening on " .. url .. " (Ctrl-C stops it)",
          "  export POLYTOMIC_BASE_URL=" .. url, "  export POLYTOMIC_API_KEY=" .. DEMO_KEY, "syncs:" }
        for _, s in ipairs(syncs) do lines[#lines + 1] = "  " .. s.id .. "  " .. tostring(s.name) end
        ctx.stdout:write(table.concat(lines, "\n"), "\n")
      end
      if ctx.stdout.flush then ctx.stdout:flush() end
    end,
  }
  return serve.run({ "--port", tostring(port), "--api-key", DEMO_KEY }, hooks)
end

return M
