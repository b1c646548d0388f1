-- spec/support/files.lua: the small file and shell helpers the spec
-- support modules share (rawserver.lua keeps its own: it is also the
-- script its child process runs, with its own load path).
local M = {}

-- The repository root, from the path of a support file (its `source`).
function M.root_of(source, file)
  local src = source:sub(1, 1) == "@" and source:sub(2) or file
  return (src:gsub(file:gsub("%p", "%%%0") .. "$", ""))
end

function M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- The whole file, or nil when it cannot be read.
function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

return M
