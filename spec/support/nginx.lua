--[[
spec/support/nginx.lua: run Debian's nginx with the Lua module for a spec.

    local nginx = require "spec.support.nginx"
    local ok, why = nginx.available()          -- false, "why" when nginx or
                                               -- its Lua module is missing
    local srv = nginx.start {
      conf = "spec/nginx/bulksync.conf.in",   -- template, see below
      vars = { NAME = "value" },              -- extra ${NAME} values
      replace = { { "text", "other" } },     -- plain replacements first
      env = { BULKSYNC_BASE_URL = "http://127.0.0.1:1234" },
      lua_path_first = "/x/lib/?.lua;",        -- searched before the repo
    }                         -- env: nginx's environment (the config's
                              -- `env` directives decide what Lua sees)
    srv.url, srv.port, srv.prefix
    srv:get("/path")          -- status, body (luasocket, blocking)
    srv:error_log()           -- the error log, for failure messages
    srv:stop()                -- idempotent; stops nginx, removes the prefix
    nginx.cleanup()           -- removes the LuaJIT build (from a teardown)

The template's ${NAME} placeholders are filled with vars plus PREFIX (a
fresh directory that holds everything nginx writes), PORT (a free port on
127.0.0.1), REPO (the repository root, absolute), LIB (where the
LuaJIT build of bulksync.core goes) and LUA_PATH_FIRST (opts.lua_path_first,
or empty: templates put it at the head of lua_package_path). nginx runs as one process
(master_process off) daemonised with its pid in PREFIX, so a spec that
dies still leaves a pid file to stop it by.

nginx runs OpenResty's LuaJIT, not the interpreter running busted, so
bulksync.core is built again for LuaJIT into LIB: the repository's
bulksync/core.so may be for another Lua ABI.
]]
local socket = require "socket"

local M = {}

M.NGINX_CANDIDATES = { "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx" }
M.MODULES = {
  "/usr/lib/nginx/modules/ndk_http_module.so",
  "/usr/lib/nginx/modules/ngx_http_lua_module.so",
}

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local read_file = require("spec.support.files").read

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function sh_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- os.execute returns true/0 by version; normalise to a boolean.
local function run(cmd)
  local a, _, c = os.execute(cmd)
  if type(a) == "number" then return a == 0 end
  return a == true and (c == nil or c == 0)
end

local function capture(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end

-- BULKSYNC_NGINX names the binary (a path that does not exist makes the
-- specs skip, which is how that path is checked).
function M.binary()
  local forced = os.getenv("BULKSYNC_NGINX")
  if forced and forced ~= "" then return exists(forced) and forced or nil end
  for _, path in ipairs(M.NGINX_CANDIDATES) do
    if exists(path) then return path end
  end
  local found = capture("command -v nginx 2>/dev/null"):match("^%s*(%S+)")
  return found
end

function M.available()
  local bin = M.binary()
  if not bin then return false, "nginx is not installed (Debian: apt-get install nginx libnginx-mod-http-lua)" end
  for _, mod in ipairs(M.MODULES) do
    if not exists(mod) then
      return false, "nginx's Lua module is not installed: " .. mod ..
        " is missing (Debian: apt-get install libnginx-mod-http-lua)"
    end
  end
  return true
end

function M.repo_root()
  local src = debug.getinfo(1, "S").source:sub(2)
  local dir = src:match("^(.*)/spec/support/[^/]*$") or "."
  if dir:sub(1, 1) ~= "/" then
    local cwd = capture("pwd"):gsub("%s+$", "")
    dir = dir == "." and cwd or (cwd .. "/" .. dir)
  end
  return dir
end

M.free_port = require "spec.support.ports"

-- One LuaJIT build of the C core per busted run.
local built_lib
function M.build_core(repo)
  if built_lib then return built_lib end
  local lib = capture("mktemp -d"):gsub("%s+$", "")
  assert(run("mkdir -p " .. sh_quote(lib .. "/bulksync")))
  local log = lib .. "/build.log"
  local ok = run(("make -s -C %s all LUA_VERSION=jit MODULE=%s >%s 2>&1"):format(
    sh_quote(repo), sh_quote(lib .. "/bulksync/core.so"), sh_quote(log)))
  if not ok then
    error("could not build bulksync.core for LuaJIT (make LUA_VERSION=jit):\n" .. (read_file(log) or ""), 0)
  end
  built_lib = lib
  return lib
end

function M.cleanup()
  if built_lib then run("rm -rf " .. sh_quote(built_lib)) end
  built_lib = nil
end

local Server = {}
Server.__index = Server

function M.start(opts)
  local ok, why = M.available()
  if not ok then error(why, 0) end
  local repo = M.repo_root()
  local lib = M.build_core(repo)
  local prefix = capture("mktemp -d"):gsub("%s+$", "")
  for _, d in ipairs({ "logs", "tmp" }) do assert(run("mkdir -p " .. sh_quote(prefix .. "/" .. d))) end
  local port = M.free_port()
  local vars = { PREFIX = prefix, PORT = tostring(port), REPO = repo, LIB = lib,
    LUA_PATH_FIRST = opts.lua_path_first or "" }
  for k, v in pairs(opts.vars or {}) do vars[k] = v end
  local template = assert(read_file(repo .. "/" .. opts.conf), "no nginx config template " .. opts.conf)
  -- replace: { {"text", "new text"}, ... } plain replacements, each of
  -- which must match (for configs written for people, not templates).
  for _, r in ipairs(opts.replace or {}) do
    local at = template:find(r[1], 1, true)
    if not at then error("nginx config " .. opts.conf .. " has no " .. r[1], 0) end
    template = template:sub(1, at - 1) .. r[2] .. template:sub(at + #r[1])
  end
  local conf = template:gsub("%${([%w_]+)}", function(name)
    return assert(vars[name], "nginx config: no value for ${" .. name .. "}")
  end)
  write_file(prefix .. "/nginx.conf", conf)

  local self = setmetatable({ prefix = prefix, port = port, url = "http://127.0.0.1:" .. port,
    pid_file = prefix .. "/nginx.pid", bin = M.binary() }, Server)
  local env = {}
  for k, v in pairs(opts.env or {}) do env[#env + 1] = k .. "=" .. sh_quote(v) .. " " end
  local started = run(("%s%s -p %s -c %s -e %s >%s 2>&1 </dev/null"):format(table.concat(env), sh_quote(self.bin),
    sh_quote(prefix .. "/"), sh_quote(prefix .. "/nginx.conf"), sh_quote(prefix .. "/logs/error.log"),
    sh_quote(prefix .. "/logs/start.log")))
  if not started then
    local log = (read_file(prefix .. "/logs/start.log") or "") .. self:error_log()
    self:stop()
    error("nginx did not start:\n" .. log, 0)
  end
  -- Ready once the port accepts a connection.
  local give_up = socket.gettime() + 10
  while true do
    local c = socket.tcp()
    c:settimeout(0.5)
    local connected = c:connect("127.0.0.1", port)
    c:close()
    if connected then break end
    if socket.gettime() > give_up then
      local log = self:error_log()
      self:stop()
      error("nginx did not open 127.0.0.1:" .. port .. ":\n" .. log, 0)
    end
    socket.sleep(0.02)
  end
  return self
end

function Server:pid()
  return tonumber((read_file(self.pid_file) or ""):match("%d+"))
end

function Server:error_log()
  return read_file(self.prefix .. "/logs/error.log") or ""
end

-- A blocking HTTP/1.0 GET; returns status, body.
function Server:get(path, timeout)
  local c = socket.tcp()
  c:settimeout(timeout or 30)
  assert(c:connect("127.0.0.1", self.port))
  assert(c:send("GET " .. path .. " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"))
  local raw, err, partial = c:receive("*a")
  c:close()
  raw = raw or partial
  if not raw or raw == "" then error("no response from nginx for " .. path .. ": " .. tostring(err), 2) end
  local status = tonumber(raw:match("^HTTP/%d%.%d (%d%d%d)"))
  local body = raw:match("\r\n\r\n(.*)$") or ""
  return status, body
end

function Server:stop()
  if self.stopped then return end
  self.stopped = true
  local pid = self:pid()
  if pid then
    -- QUIT lets nginx finish and close its port; KILL if it hangs.
    run("kill -QUIT " .. pid .. " 2>/dev/null")
    local give_up = socket.gettime() + 5
    while run("kill -0 " .. pid .. " 2>/dev/null") and socket.gettime() < give_up do socket.sleep(0.02) end
    if run("kill -0 " .. pid .. " 2>/dev/null") then run("kill -KILL " .. pid .. " 2>/dev/null") end
  end
  if not os.getenv("BULKSYNC_KEEP_NGINX") then run("rm -rf " .. sh_quote(self.prefix)) end
end

return M
