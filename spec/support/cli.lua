--[[
spec/support/cli.lua: drive the `bulksync` command from a spec.

    local cli = require "spec.support.cli"
    local code, out, err = cli.run({ "list", "--active" }, {
      env = { POLYTOMIC_API_KEY = "test-key", POLYTOMIC_BASE_URL = srv.url },
      stdin = "text read by - or a prompt",      -- optional
      tty = true,                                -- isatty answers for fds 0, 1, 2 (default false)
    })
    -- in this process, through bulksync.cli.main and its io overrides

    local code, out, err = cli.spawn({ "get", id }, { env = {...}, stdin_file = path, lua = "lua5.4" })
    -- bin/bulksync as a child process of the spec's Lua (or opts.lua), with
    -- the spec's LUA_PATH / LUA_CPATH unless opts.bare (then none: the
    -- launcher finds the checkout itself); stdout and stderr kept apart
]]
local files = require "spec.support.files"
local child = require "spec.support.child"

local M = {}

M.ROOT = files.root_of(debug.getinfo(1, "S").source, "spec/support/cli.lua")

local function sink()
  local parts = {}
  return {
    write = function(self, ...)
      for i = 1, select("#", ...) do parts[#parts + 1] = tostring((select(i, ...))) end
      return self
    end,
    flush = function() end,
    text = function() return table.concat(parts) end,
  }
end

local function source(text)
  local pos = 1
  return {
    read = function(_, fmt)
      if fmt == "*a" or fmt == "a" then
        local s = text:sub(pos)
        pos = #text + 1
        return s
      end
      if pos > #text then return nil end
      local stop = text:find("\n", pos, true) or (#text + 1)
      local s = text:sub(pos, stop - 1)
      pos = stop + 1
      return s
    end,
  }
end

function M.run(argv, opts)
  opts = opts or {}
  local out, err = sink(), sink()
  local tty = opts.tty
  local code = require("bulksync.cli").main(argv, {
    stdin = source(opts.stdin or ""), stdout = out, stderr = err, env = opts.env or {},
    isatty = function(fd)
      if type(tty) == "table" then return tty[fd] == true end
      return tty == true
    end,
  })
  return code, out:text(), err:text()
end

function M.spawn(argv, opts)
  opts = opts or {}
  local q = files.shell_quote
  local outf, errf = os.tmpname(), os.tmpname()
  local env = { "env" }
  if opts.bare then
    env[#env + 1] = "-u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_2 -u LUA_CPATH_5_2 -u LUA_PATH_5_3"
      .. " -u LUA_CPATH_5_3 -u LUA_PATH_5_4 -u LUA_CPATH_5_4"
  else
    env[#env + 1] = "LUA_PATH=" .. q(package.path)
    env[#env + 1] = "LUA_CPATH=" .. q(package.cpath)
  end
  for k, v in pairs(opts.env or {}) do env[#env + 1] = k .. "=" .. q(v) end
  local args = {}
  for i, a in ipairs(argv) do args[i] = q(a) end
  -- timeout(1) only guards the run: a hang fails the spec, not the suite.
  local cmd = string.format("%s timeout 60 %s %s %s <%s >%s 2>%s", table.concat(env, " "),
    opts.lua or child.LUA, q(M.ROOT .. "bin/bulksync"), table.concat(args, " "), q(opts.stdin_file or "/dev/null"),
    q(outf), q(errf))
  local r1, _, r3 = os.execute(cmd)
  local code = type(r1) == "number" and math.floor(r1 / 256) or r3
  local out, err = files.read(outf) or "", files.read(errf) or ""
  os.remove(outf)
  os.remove(errf)
  return code, out, err
end

return M
