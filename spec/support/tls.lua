--[[
spec/support/tls.lua: self-signed certificates for 127.0.0.1 and a real
TLS server (openssl s_server) using one, for the specs that prove TLS
verification.

    local tls = require "spec.support.tls"
    if tls.available() then
      local dir = tls.tempdir()
      local cert, key = tls.certificate(dir, "server")   -- dir/server.pem, dir/server.key
      local srv = tls.serve { www = path_or_nil }        -- nil: openssl's status page (-www);
                                                         -- a folder: files as whole responses (-HTTP)
      srv.port, srv.cert, srv:stop()
    end
]]
local socket = require "socket"

local M = {}

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("*a")
  p:close()
  return out
end

function M.available()
  return sh("command -v openssl") ~= ""
end

function M.tempdir()
  return (sh("mktemp -d"):gsub("%s+$", ""))
end

M.free_port = require "spec.support.ports"

-- The certificate names the address itself: clients connect to an IP, and
-- the name checked is that IP.
function M.certificate(dir, name)
  local cert, key = dir .. "/" .. name .. ".pem", dir .. "/" .. name .. ".key"
  sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1" ..
     " -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:127.0.0.1" ..
     " -keyout " .. key .. " -out " .. cert .. " 2>&1")
  return cert, key
end

local Server = {}
Server.__index = Server

function Server:stop()
  if self.pid then os.execute("kill " .. self.pid .. " 2>/dev/null") end
  if self.dir then os.execute("rm -rf '" .. self.dir .. "'") end
  self.pid, self.dir = nil, nil
end

function M.serve(opts)
  opts = opts or {}
  local dir = M.tempdir()
  local cert, key = M.certificate(dir, "server")
  local port = M.free_port()
  local mode = opts.www and ("-HTTP") or "-www"
  local cd = opts.www and ("cd '" .. opts.www .. "' && ") or ""
  local pid = tonumber(sh(cd .. "openssl s_server -quiet " .. mode .. " -accept 127.0.0.1:" .. port ..
    " -cert " .. cert .. " -key " .. key .. " </dev/null >" .. dir .. "/log 2>&1 & echo $!"))
  local srv = setmetatable({ dir = dir, cert = cert, port = port, pid = pid }, Server)
  local give_up = socket.gettime() + 10
  while socket.gettime() < give_up do
    local c = socket.connect("127.0.0.1", port)
    if c then c:close() return srv end
    socket.sleep(0.05)
  end
  srv:stop()
  error("openssl s_server did not start on port " .. port)
end

return M
