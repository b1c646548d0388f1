--[[
spec/support/standin.lua: start and drive the stand-in Polytomic server
(standin/server.lua) from a spec.

    local standin = require "spec.support.standin"
    local srv = standin.start { api_key = "test-key", org_id = "..." }  -- both optional
    srv.url, srv.port             -- "http://127.0.0.1:PORT"
    srv:requests()                -- API requests since reset: {method, path, query,
                                  --   headers (lower-case names), body, connection}
    srv:connections()             -- API TCP connections accepted since reset
    srv:reset()                   -- seed data back, requests/script/delay/counters cleared
    srv:script { {status = 503, body = "...", headers = {["Retry-After"] = "1"},
                  delay = 0.2, drop = false}, ... }
    srv:config { delay = 0.5 }    -- delay every API response (other connections go on)
    srv:config { null_empty_lists = true }      -- an empty listing answers {"data": null}
    srv:config { empty_last_page_token = true } -- last list page: pagination.next_page_token ""
    srv:config { execution_steps = 1 }          -- polls an execution takes to end (default 3)
    srv:config { executions_fail = true }       -- executions end "failed", not "completed"
    srv:config {}                 -- returns the current config without changing it
    srv:seed_many(n[, replace])   -- add n synthetic syncs (standin.seed.synthetic); with
                                  --   replace, drop the others first; returns the sync count
    srv:state(id)                 -- {sync = internal record, schemas = {...},
                                  --   executions = {...}} or nil
    srv:log()                     -- the server's output, for a failing spec
    srv:stop()                    -- idempotent; call it from `teardown`

The server runs as its own process under $BULKSYNC_SERVER_LUA (default
lua5.4), so specs can run under any Lua while the server stays on 5.4. It
exits by itself if the process that started it goes away.

JSON answers are decoded with the stand-in's own codec (standin/json.lua, on
top of lua-cjson), the same one standin.seed uses: null is standin.null
(json.null), lists carry json.array_mt (json.is_array tells `[]` from `{}`),
and integers stay integers on Lua 5.3+. standin.json is that module.

standin.connect(srv) gives a raw HTTP/1.1 connection for wire-level checks:
    local c = standin.connect(srv)
    c:send("GET", "/api/bulk/syncs", { Authorization = "Bearer test-key" }, body)
    local res = c:receive()       -- {status, headers (lower-case), body} or nil, err
    c:request(method, path, headers, body)   -- send + receive
    c:close()
]]

local socket = require "socket"
local json = require "standin.json"

local M = {}

M.json = json
M.null = json.null

local START_TIMEOUT = 10

local files = require "spec.support.files"
local shell_quote, slurp = files.shell_quote, files.read

local function this_root()
  return files.root_of(debug.getinfo(1, "S").source, "spec/support/standin.lua")
end

---------------------------------------------------------------- raw client

local Conn = {}
Conn.__index = Conn

function M.connect(srv, timeout)
  local sock = socket.tcp()
  sock:settimeout(timeout or 10)
  local ok, err = sock:connect("127.0.0.1", srv.port)
  if not ok then return nil, err end
  return setmetatable({ sock = sock }, Conn)
end

-- headers: map name -> value; Host and Content-Length are added unless given.
function Conn:send(method, path, headers, body)
  local lines = { method .. " " .. path .. " HTTP/1.1" }
  local have = {}
  for name, value in pairs(headers or {}) do
    lines[#lines + 1] = name .. ": " .. value
    have[name:lower()] = true
  end
  if not have["host"] then lines[#lines + 1] = "Host: 127.0.0.1" end
  if body and not have["content-length"] and not have["transfer-encoding"] then
    lines[#lines + 1] = "Content-Length: " .. #body
  end
  return self.sock:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or ""))
end

function Conn:send_raw(bytes)
  return self.sock:send(bytes)
end

-- Reads one response. A 1xx interim response is returned like any other.
function Conn:receive()
  local line, err = self.sock:receive("*l")
  if not line then return nil, err end
  local status = tonumber(line:match("^HTTP/%d%.%d (%d%d%d)"))
  if not status then return nil, "bad status line: " .. line end
  local headers = {}
  while true do
    local h, herr = self.sock:receive("*l")
    if not h then return nil, herr end
    if h == "" then break end
    local name, value = h:match("^([^:]+):%s*(.-)%s*$")
    headers[name:lower()] = value
  end
  local res = { status = status, headers = headers, body = "" }
  if status < 200 then return res end
  local len = tonumber(headers["content-length"])
  if len then
    if len > 0 then
      local body, berr = self.sock:receive(len)
      if not body then return nil, berr end
      res.body = body
    end
  elseif (headers["transfer-encoding"] or ""):lower():find("chunked", 1, true) then
    local parts = {}
    while true do
      local size = tonumber((self.sock:receive("*l") or ""):match("^%x+") or "", 16)
      if not size then return nil, "bad chunk" end
      if size == 0 then
        repeat local t = self.sock:receive("*l") until t == "" or t == nil
        break
      end
      parts[#parts + 1] = self.sock:receive(size)
      self.sock:receive("*l")
    end
    res.body = table.concat(parts)
  else
    res.body = self.sock:receive("*a") or ""
  end
  return res
end

function Conn:request(method, path, headers, body)
  local ok, err = self:send(method, path, headers, body)
  if not ok then return nil, err end
  return self:receive()
end

function Conn:close()
  self.sock:close()
end

---------------------------------------------------------------- server process

local Server = {}
Server.__index = Server

function M.start(opts)
  opts = opts or {}
  local base = os.tmpname()
  local self = setmetatable({
    base = base,
    port_file = base .. ".port",
    log_file = base .. ".log",
  }, Server)
  local lua = opts.lua or os.getenv("BULKSYNC_SERVER_LUA")
  if lua == nil or lua == "" then lua = "lua5.4" end
  local args = { shell_quote(lua), shell_quote(this_root() .. "standin/server.lua"),
    "--port", "0", "--port-file", shell_quote(self.port_file), "--watch-pid", "$PPID" }
  if opts.api_key then args[#args + 1] = "--api-key " .. shell_quote(opts.api_key) end
  if opts.org_id then args[#args + 1] = "--org-id " .. shell_quote(opts.org_id) end
  if not opts.verbose then args[#args + 1] = "--quiet" end
  -- In the shell io.popen starts, $PPID is this Lua process.
  local cmd = table.concat(args, " ") .. " </dev/null >" .. shell_quote(self.log_file) .. " 2>&1 & echo $!"
  local p = assert(io.popen(cmd))
  self.pid = tonumber(p:read("*l"))
  p:close()
  assert(self.pid, "standin: could not start the server process")
  local give_up = socket.gettime() + START_TIMEOUT
  while socket.gettime() < give_up do
    local port = tonumber(slurp(self.port_file) or "")
    if port then
      self.port = port
      self.url = "http://127.0.0.1:" .. port
      return self
    end
    socket.sleep(0.01)
  end
  local log = self:log()
  self:stop()
  error("standin: the server did not start: " .. log)
end

-- One control call on its own connection; returns status and raw body.
function Server:control(method, path, body)
  local c = assert(M.connect(self, 10))
  local res, err = c:request(method, path, {
    Connection = "close",
    ["Content-Type"] = body and "application/json" or nil,
  }, body)
  c:close()
  if not res then error("standin: control call " .. method .. " " .. path .. " failed: " .. tostring(err)) end
  return res.status, res.body
end

local function expect_ok(self, method, path, body)
  local status, text = self:control(method, path, body)
  if status ~= 200 then
    error("standin: " .. method .. " " .. path .. " -> " .. status .. ": " .. text, 3)
  end
  local v, err = json.decode(text)
  if v == nil then error("standin: " .. method .. " " .. path .. ": bad JSON: " .. err, 3) end
  return v
end

function Server:requests()
  return expect_ok(self, "GET", "/_standin/requests")
end

function Server:connections()
  return expect_ok(self, "GET", "/_standin/connections").accepted
end

function Server:reset()
  expect_ok(self, "POST", "/_standin/reset", "")
end

function Server:script(list)
  local items = {}
  for i, item in ipairs(list or {}) do items[i] = json.encode(item) end
  return expect_ok(self, "POST", "/_standin/script", '{"responses":[' .. table.concat(items, ",") .. "]}")
end

function Server:config(t)
  return expect_ok(self, "POST", "/_standin/config", json.encode(t or {}))
end

function Server:seed_many(count, replace)
  return expect_ok(self, "POST", "/_standin/seed_many",
    json.encode { count = count, replace = replace == true }).syncs
end

function Server:state(id)
  local status, text = self:control("GET", "/_standin/state/" .. id)
  if status == 404 then return nil end
  if status ~= 200 then error("standin: state " .. id .. " -> " .. status .. ": " .. text, 2) end
  return (assert(json.decode(text)))
end

function Server:log()
  return slurp(self.log_file) or ""
end

local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat")
  if f then
    local stat = f:read("*a") or ""
    f:close()
    return not stat:match("^%d+ %b() Z")
  end
  if io.open("/proc/self/stat") then return false end
  return nil -- no /proc: unknown
end

function Server:stop()
  if self.stopped then return end
  self.stopped = true
  if self.port then
    local c = M.connect(self, 2)
    if c then
      c:request("POST", "/_standin/shutdown", { Connection = "close" }, "")
      c:close()
    end
  end
  if self.pid then
    local give_up = socket.gettime() + 2
    while alive(self.pid) and socket.gettime() < give_up do socket.sleep(0.01) end
    if alive(self.pid) ~= false then os.execute("kill " .. self.pid .. " 2>/dev/null") end
  end
  for _, f in ipairs { self.port_file, self.port_file .. ".tmp", self.log_file, self.base } do
    os.remove(f)
  end
end

return M
