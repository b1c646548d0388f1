-- A free TCP port on 127.0.0.1, for the servers the specs start.
local socket = require "socket"

return function()
  local s = assert(socket.bind("127.0.0.1", 0))
  local _, port = s:getsockname()
  s:close()
  return tonumber(port)
end
