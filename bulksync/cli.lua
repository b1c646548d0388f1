--[[ bulksync.cli: the `bulksync` shell command (bin/bulksync runs main).

    local code = require("bulksync.cli").main(arg, io_overrides)

io_overrides (all optional, for specs driving it in-process): stdin, stdout,
stderr (objects with read / write), env (a table of variables, or a
function(name)), isatty (function(fd) -> boolean, fd 0, 1 or 2).

The commands are rows of bulksync.cli_commands; this file parses the
arguments, builds the client, writes the output (people's text, or JSON
with --json) and turns errors into exit statuses:
  0 done, 1 an API or transport error, 2 a usage or validation error,
  3 a resetting update that was not confirmed.
Everything written goes through one writer that cuts the key, the org id
and the Authorization credential out, whatever a server echoes. ]]

local bulksync = require "bulksync"
local core = require "bulksync.core"
local E = require "bulksync.errors"
local O = require "bulksync.options"

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local setmetatable, getmetatable, pcall, error = setmetatable, getmetatable, pcall, error
local concat, sort = table.concat, table.sort
local format = string.format

local M = {}

M.OK, M.FAILED, M.USAGE, M.REFUSED = 0, 1, 2, 3

------------------------------------------------------------------------
-- Errors of the command line itself
------------------------------------------------------------------------

-- A usage error: wrong arguments, an unreadable FILE. Exit status 2.
local Usage = {}
Usage.__index = Usage
Usage.__tostring = function(u) return "bulksync: " .. u.message end

function M.usage(message, command)
  error(setmetatable({ message = message, command = command }, Usage), 0)
end
local usage = M.usage

-- An update that would reset fields and was not confirmed. Exit status 3.
local Refused = {}
function M.refused(message) error(setmetatable({ message = message }, Refused), 0) end

------------------------------------------------------------------------
-- Terminal, environment, output
------------------------------------------------------------------------

-- `test -t FD` in a shell: no C needed. os.execute returns the status
-- number on 5.1 and LuaJIT, true or nil on 5.2+.
local function shell_isatty(fd)
  local r = os.execute("test -t " .. fd)
  return r == true or r == 0
end

local Ctx = {}
Ctx.__index = Ctx

local function context(o)
  o = o or {}
  local env = o.env
  local getenv = type(env) == "function" and env
    or type(env) == "table" and function(name) return env[name] end
    or os.getenv
  local ctx = setmetatable({
    stdin = o.stdin or io.stdin, stdout = o.stdout or io.stdout, stderr = o.stderr or io.stderr,
    getenv = getenv, secrets = {}, ttys = {},
  }, Ctx)
  local isatty = o.isatty or shell_isatty
  ctx.isatty = function(fd)
    if ctx.ttys[fd] == nil then ctx.ttys[fd] = isatty(fd) == true end
    return ctx.ttys[fd]
  end
  return ctx
end

-- Colour only on a terminal, and never with NO_COLOR set (no-color.org).
function Ctx:colour(fd)
  local no = self.getenv("NO_COLOR")
  return self.isatty(fd or 1) and (no == nil or no == "") and self.getenv("TERM") ~= "dumb"
end

function Ctx:clean(text)
  return E.redact(tostring(text), self.secrets)
end

-- A whole line (or block) at a time, so a secret is never split across
-- two writes and missed by the redaction.
function Ctx:say(text) self.stdout:write(self:clean(text), "\n") end
function Ctx:warn(text) self.stderr:write(self:clean(text), "\n") end

-- Progress on stderr, only on a terminal: one line redrawn in place.
function Ctx:progress(text)
  if not self.isatty(2) then return end
  self.stderr:write("\r", self:clean(text), "\027[K")
  if self.stderr.flush then self.stderr:flush() end
  self.progressing = true
end

function Ctx:end_progress()
  if self.progressing then self.stderr:write("\n"); self.progressing = false end
end

--- The value as JSON on stdout, with the secrets cut out of every string
-- first (keys included) and out of the text after.
function Ctx:json(value)
  local text, problems = core.encode_value(E.redacted_copy(value, self.secrets))
  if not text then error("cannot write the answer as JSON: " .. tostring(problems and problems[1]
    and problems[1].problem), 0) end
  self:say(text)
end

------------------------------------------------------------------------
-- Values for people
------------------------------------------------------------------------

local function is_list(v)
  return getmetatable(v) == core.array_mt or (type(v) == "table" and #v > 0)
end

local function scalar(v)
  if v == bulksync.null then return "null" end
  if type(v) == "string" then return v == "" and '""' or v end
  if type(v) == "number" and math.type == nil and v == math.floor(v) and v > -2^53 and v < 2^53 then
    return format("%.0f", v)
  end
  return tostring(v)
end

-- Indented `key: value` lines, keys sorted; lists as `- item`.
local function pretty(v, indent, out)
  if type(v) ~= "table" then out[#out + 1] = indent .. scalar(v); return out end
  if is_list(v) then
    for _, x in ipairs(v) do
      if type(x) == "table" and next(x) ~= nil then
        local sub = pretty(x, indent .. "  ", {})
        sub[1] = indent .. "- " .. sub[1]:sub(#indent + 3)
        for _, l in ipairs(sub) do out[#out + 1] = l end
      else
        out[#out + 1] = indent .. "- " .. (type(x) == "table" and "[]" or scalar(x))
      end
    end
    return out
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = tostring(k) end
  sort(keys)
  for _, k in ipairs(keys) do
    local x = v[k]
    if type(x) == "table" and next(x) ~= nil then
      out[#out + 1] = indent .. k .. ":"
      pretty(x, indent .. "  ", out)
    else
      out[#out + 1] = indent .. k .. ": " .. (type(x) == "table" and (is_list(x) and "[]" or "{}") or scalar(x))
    end
  end
  return out
end

function M.pretty(v) return concat(pretty(v, "", {}), "\n") end

------------------------------------------------------------------------
-- Arguments
------------------------------------------------------------------------

-- A value given on the command line: JSON when it parses as JSON (so
-- 8, true, null and [..] keep their types), else the text itself.
function M.value(text)
  local ok, v = pcall(bulksync.decode, text)
  if ok then return v end
  return text
end

local function names_of(list)
  local out = {}
  for _, n in ipairs(list) do out[#out + 1] = n end
  return out
end

--[[ The arguments after the command's name, against its row:
  row.args   positional names ("ID", "FILE"); row.rest: a name for the
             arguments after them (patch's FIELD=VALUE)
  row.flags  the command's own flags: name = "boolean" | "value"
  row.module the module's option names the command passes through:
             --name is true, --name=VALUE a value as M.value reads it
Every flag name is checked by the module's own options check, so a
misspelt one gets "did you mean `active`?". Returns positionals, flags,
module options. ]]
function M.parse(row, args, name)
  local pos, flags, opts, all = {}, {}, {}, {}
  local known = {}
  for f in pairs(row.flags or {}) do known[#known + 1] = f end
  sort(known)
  for _, n in ipairs(row.module or {}) do known[#known + 1] = n end
  local i, only_positional = 1, false
  while i <= #args do
    local a = args[i]
    if only_positional or a == "-" or a:sub(1, 1) ~= "-" then
      pos[#pos + 1] = a
    elseif a == "--" then
      only_positional = true
    elseif a:sub(1, 2) ~= "--" then
      usage("unknown flag " .. a .. " (flags are --name or --name=VALUE)", name)
    else
      local key, given = a:match("^%-%-([^=]+)=(.*)$")
      key = (key or a:sub(3)):gsub("%-", "_")
      local kind = row.flags and row.flags[key]
      if kind == "value" then
        if given == nil then
          i = i + 1
          given = args[i]
          if given == nil then usage(a .. " needs a value", name) end
        end
        flags[key] = given
      elseif kind == "boolean" then
        if given ~= nil then usage("--" .. key .. " takes no value", name) end
        flags[key] = true
      elseif given ~= nil then
        opts[key] = M.value(given)
      else
        opts[key] = true
      end
      all[key] = true
    end
    i = i + 1
  end
  O.check(all, known, "flags")
  local need = #(row.args or {})
  if #pos < need then usage("missing " .. row.args[#pos + 1], name) end
  if #pos > need and not row.rest then usage("unexpected argument " .. pos[need + 1], name) end
  if row.rest and #pos == need then usage("missing " .. row.rest, name) end
  return pos, flags, opts
end

--- FILE's table: JSON, or a Lua file that returns a table; "-" reads
-- standard input. Anything wrong with it is a usage error (status 2).
function M.read_file(ctx, path, command)
  local text
  if path == "-" then
    text = ctx.stdin:read("*a") or ""
    ctx.stdin_used = true
  else
    local f, err = io.open(path, "rb")
    if not f then usage("cannot read FILE: " .. tostring(err), command) end
    text = f:read("*a") or ""
    f:close()
  end
  local first = text:match("^%s*(.)")
  if not path:match("%.lua$") and (first == "{" or first == "[") then
    local ok, v = pcall(bulksync.decode, text)
    if not ok then usage(path .. ": " .. (E.is_error(v) and v.message or tostring(v)), command) end
    return v
  end
  if first == "\027" then usage(path .. ": precompiled Lua is not read", command) end
  local chunk, err
  if rawget(_G, "jit") or _VERSION ~= "Lua 5.1" then chunk, err = load(text, "@" .. path, "t")
  else chunk, err = loadstring(text, "@" .. path) end   -- luacheck: ignore 113
  if not chunk then usage(path .. ": neither JSON nor Lua: " .. tostring(err), command) end
  local ok, v = pcall(chunk)
  if not ok then usage(path .. ": " .. tostring(v), command) end
  if type(v) ~= "table" then usage(path .. ": a Lua FILE must return a table, got " .. type(v), command) end
  return v
end

------------------------------------------------------------------------
-- Help
------------------------------------------------------------------------

local C = require("bulksync.cli_commands")(M)

local GLOBAL_FLAGS = { base_url = "value", api_version = "value", json = "boolean", help = "boolean" }

local function overview()
  local lines = {
    "usage: bulksync [--base-url URL] [--api-version V] [--json] COMMAND ...",
    "",
    "Manage Polytomic bulk syncs without resetting them. Commands:",
  }
  for _, name in ipairs(C.order) do
    lines[#lines + 1] = format("  %-44s %s", C.commands[name].usage, C.commands[name].summary)
  end
  for _, l in ipairs {
    "",
    "POLYTOMIC_API_KEY holds the key (never a flag: `ps` would show it); POLYTOMIC_ORG_ID selects",
    "Basic auth; POLYTOMIC_BASE_URL the host (--base-url overrides it). FILE is JSON, or a Lua file",
    "returning a table; - reads standard input. --json writes JSON on stdout.",
    "Exit status: 0 done, 1 API or transport error, 2 usage or validation error,",
    "3 a resetting update that was not confirmed. `bulksync COMMAND --help` for one command.",
  } do lines[#lines + 1] = l end
  return concat(lines, "\n")
end

local function command_help(name)
  local row = C.commands[name]
  local lines = { "usage: bulksync [--json] " .. row.usage, "", row.summary }
  if row.help then lines[#lines + 1] = ""; lines[#lines + 1] = row.help end
  if row.module and #row.module > 0 then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "Options of the module passed through (--name, or --name=VALUE, VALUE as JSON or text): "
      .. concat(row.module, ", ")
  end
  return concat(lines, "\n")
end

------------------------------------------------------------------------
-- Running
------------------------------------------------------------------------

-- What every write cuts out, known before any argument is looked at (a
-- key pasted as an argument must not come back in a usage error): the
-- module's own list, the key, the Authorization credential and the org.
function Ctx:load_secrets()
  local key, org = self.getenv("POLYTOMIC_API_KEY"), self.getenv("POLYTOMIC_ORG_ID")
  if org == "" then org = nil end
  if key == "" then key = nil end
  self.key, self.org = key, org
  self.secrets = { key, org }
  if key then
    local ok, checked = pcall(O.client, { api_key = key, org_id = org })
    if ok then self.secrets = checked.secrets end
  end
end

-- The client from the environment and the global flags.
function Ctx:client()
  if self.the_client then return self.the_client end
  if not self.key then usage("set POLYTOMIC_API_KEY to the API key (it is read from the environment only)") end
  local base_url = self.base_url or self.getenv("POLYTOMIC_BASE_URL")
  if base_url == "" then base_url = nil end
  self.the_client = bulksync.new { api_key = self.key, org_id = self.org, base_url = base_url,
    version = self.api_version }
  return self.the_client
end

local function run(ctx, argv)
  local i, global = 1, {}
  while argv[i] and argv[i]:sub(1, 1) == "-" and argv[i] ~= "-" do
    local a = argv[i]
    local key, given = a:match("^%-%-([^=]+)=(.*)$")
    key = (key or a:gsub("^%-%-?", "")):gsub("%-", "_")
    if key == "h" then key = "help" end
    if key == "api_key" or key == "org_id" then
      usage("the key and org id are read from POLYTOMIC_API_KEY and POLYTOMIC_ORG_ID only (a flag would show in `ps`)")
    end
    local kind = GLOBAL_FLAGS[key]
    if not kind then
      local near = core.closest(key, names_of { "base_url", "api_version", "json", "help" })
      usage("unknown flag " .. a .. (near and format("; did you mean `--%s`?", (near:gsub("_", "-"))) or ""))
    end
    if kind == "value" and given == nil then
      i = i + 1
      given = argv[i]
      if given == nil then usage(a .. " needs a value") end
    end
    global[key] = given or true
    i = i + 1
  end
  local name = argv[i]
  if global.help or name == "help" then ctx:say(overview()); return M.OK end
  if name == nil then ctx:warn(overview()); return M.USAGE end
  local row = C.commands[name]
  if not row then
    local list = {}
    for n in pairs(C.commands) do list[#list + 1] = n end
    sort(list)
    local near = core.closest(name, list)
    usage("unknown command `" .. name .. "`" .. (near and format("; did you mean `%s`?", near) or
      "; `bulksync --help` lists them"))
  end
  local args = {}
  for j = i + 1, #argv do
    if argv[j] == "--" then break end
    if argv[j] == "--help" or argv[j] == "-h" then ctx:say(command_help(name)); return M.OK end
  end
  for j = i + 1, #argv do args[#args + 1] = argv[j] end
  ctx.json_output = global.json == true
  ctx.base_url, ctx.api_version = global.base_url, global.api_version
  local pos, flags, opts = M.parse(row, args, name)
  return row.run(ctx, pos, flags, opts) or M.OK
end

local function one_line(s)
  return (tostring(s):gsub("[\r\n]+", " "))
end

--- Runs the command line argv (argv[1] is the first argument); returns
-- the exit status.
function M.main(argv, overrides)
  local ctx = context(overrides)
  ctx:load_secrets()
  local ok, result = pcall(run, ctx, argv or {})
  ctx:end_progress()
  if ctx.the_client then ctx.the_client:close() end
  if ok then
    if ctx.stdout.flush then ctx.stdout:flush() end
    return result
  end
  local mt = getmetatable(result)
  if mt == Usage then
    ctx:warn(one_line(tostring(result)))
    ctx:warn(result.command and ("`bulksync " .. result.command .. " --help` shows its usage")
      or "`bulksync --help` shows the usage")
    return M.USAGE
  elseif mt == Refused then
    ctx:warn("bulksync: " .. one_line(result.message))
    return M.REFUSED
  elseif E.is_error(result) then
    ctx:warn(one_line(tostring(result)))
    return result.kind == "ValidationError" and M.USAGE or M.FAILED
  end
  ctx:warn("bulksync: internal error: " .. one_line(tostring(result)))
  return M.FAILED
end

M.context = context
return M
