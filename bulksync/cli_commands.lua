--[[ bulksync.cli_commands: the commands of `bulksync`, as rows.

Each row: usage and summary (the help), args (positional names), rest (a
name for any further arguments), flags (the command's own: name =
"boolean" | "value"), module (the module's option names passed through as
--name or --name=VALUE, taken from the module's own lists so its checks
and suggestions apply), and run(ctx, positionals, flags, options), which
returns an exit status or nothing (0). bulksync.cli parses, dispatches and
writes; this file only says what each command does. ]]

local bulksync = require "bulksync"
local core = require "bulksync.core"
local O = require "bulksync.options"
local EP = require "bulksync.endpoints"

local type, ipairs, tostring, tonumber = type, ipairs, tostring, tonumber
local format = string.format
local ROWS = EP.rows

return function(CLI)
  local usage = CLI.usage

  local function without(list, drop)
    local out, skip = {}, {}
    for _, n in ipairs(drop) do skip[n] = true end
    for _, n in ipairs(list) do if not skip[n] then out[#out + 1] = n end end
    return out
  end

  -- start's options: the row's and the start body's fields of every API
  -- version (client:start takes both), less wait (a flag of its own here).
  -- Also wait's pace (interval, max_interval), for --wait.
  local START = without(ROWS.start.option_names, { "wait" })
  local PACE = without(O.NAMES.wait, { "timeout", "on_progress", "retries" })
  do
    for _, n in ipairs(PACE) do START[#START + 1] = n end
    local seen = {}
    for _, n in ipairs(START) do seen[n] = true end
    for _, v in ipairs(core.API_VERSIONS) do
      for _, f in ipairs(core.schema(v, "start").fields) do
        if not seen[f.name] then seen[f.name] = true; START[#START + 1] = f.name end
      end
    end
  end

  local function is_none(v) return v == nil or v == bulksync.null end

  -- A plan as data: the fields a person sees in its render, a secret
  -- field's values masked as the render masks them.
  -- A plan for --json: the top-level changes and the path-by-path entries
  -- a person reads, a secret field's values masked as the render masks them.
  local function plan_json(p)
    local by_name = bulksync.schema(p.version, p.kind).by_name or {}
    local function masked(field, v)
      local f = by_name[field]
      if f and f.secret and not is_none(v) then return "(not shown)" end
      return v
    end
    local changes, entries = bulksync.array {}, bulksync.array {}
    for i, e in ipairs(p.changes) do
      changes[i] = { field = e.field, action = e.action, from = masked(e.field, e.from),
        to = masked(e.field, e.to), note = e.note }
    end
    for i, e in ipairs(p.entries or {}) do
      entries[i] = { path = e.path, action = e.action, from = masked(e.field, e.from), to = masked(e.field, e.to),
        note = e.note }
    end
    return { id = p.id, version = p.version, kind = p.kind, resets = p.resets, unknowns = p.unknowns or 0,
      changes = changes, entries = entries, call = p.call }
  end

  local function render(ctx, p, fd)
    return p:render({ colour = ctx:colour(fd or 1) })
  end

  local function plural(n, word) return n .. " " .. word .. (n == 1 and "" or "s") end

  -- Asks on the terminal; false without one (a cron job is never asked).
  local function confirm(ctx, p)
    if ctx.stdin_used or not (ctx.isatty(0) and ctx.isatty(2)) then return false, false end
    if ctx.json_output then ctx:warn(render(ctx, p, 2)) end
    ctx.stderr:write(ctx:clean(format("Send it, resetting %s? [y/N] ", plural(p.resets, "field"))))
    local answer = ctx.stdin:read("*l")
    return answer ~= nil and answer:match("^%s*[yY][eE]?[sS]?%s*$") ~= nil, true
  end

  local function show(ctx, data, lines)
    if ctx.json_output then return ctx:json(data) end
    ctx:say(lines or CLI.pretty(data))
  end

  local function execution_line(id, e)
    local line = format("execution %s of %s: %s", tostring(e.id), id, tostring(e.status))
    if bulksync.TERMINAL_STATUSES[e.status] then
      line = line .. format(", %s records, %s errors", tostring(e.record_count or 0), tostring(e.error_count or 0))
    end
    return line
  end

  -- For `&&` in a shell: an execution that ended other than completed
  -- (failed, canceled, with errors, interrupted) is exit status 1.
  local function ended(ctx, id, e)
    if e.status == "completed" then return CLI.OK end
    ctx:warn(format("bulksync: execution %s of %s ended %s", tostring(e.id), id, tostring(e.status)))
    return CLI.FAILED
  end

  local function watch(ctx)
    return function(e) ctx:progress(format("execution %s: %s", tostring(e.id), tostring(e.status))) end
  end

  local function seconds(text, command)
    local n = tonumber(text)
    if not n then usage("--timeout needs a number of seconds", command) end
    return n
  end

  local function activate(word)
    return function(ctx, pos, _, opts)
      local data = ctx:client()[word](ctx:client(), pos[1], opts)
      show(ctx, data, (word == "pause" and "paused " or "resumed ") .. tostring(data.id or pos[1]))
    end
  end

  -- The value at a dotted FIELD, built on the current one so the parts
  -- not named are kept: default_schedule.hour=07 keeps its frequency.
  local function assign(ctx, changes, id, opts, path, value)
    local segs = {}
    for s in (path .. "."):gmatch("([^.]*)%.") do
      if s == "" then usage("FIELD `" .. path .. "` has an empty part", "patch") end
      segs[#segs + 1] = s:match("^%d+$") and tonumber(s) or s
    end
    local top = segs[1]
    if #segs == 1 then
      if changes[top] ~= nil then usage(top .. " is given twice", "patch") end
      changes[top] = value
      return
    end
    if changes[top] == nil then
      local client = ctx:client()
      ctx.current = ctx.current or bulksync.to_update(client:get(id, { retries = opts.retries }),
        { version = opts.version or client.version })
      local cur = ctx.current[top]
      changes[top] = type(cur) == "table" and cur or {}
    end
    local t = changes[top]
    if type(t) ~= "table" then usage(path .. ": `" .. top .. "` is not an object", "patch") end
    for k = 2, #segs - 1 do
      local x = t[segs[k]]
      if type(x) ~= "table" then
        if not is_none(x) then usage(path .. ": `" .. segs[k] .. "` is not an object", "patch") end
        x = {}
        t[segs[k]] = x
      end
      t = x
    end
    t[segs[#segs]] = value
  end

  local K = {}

  K.list = { usage = "list [--active]", summary = "every bulk sync, or only the active ones",
    module = ROWS.list.option_names,
    run = function(ctx, _, _, opts)
      local syncs = ctx:client():list(opts)
      if ctx.json_output then return ctx:json(syncs) end
      for _, s in ipairs(syncs) do
        ctx:say(format("%s  %-6s  %s", tostring(s.id), s.active and "active" or "paused", tostring(s.name)))
      end
    end }

  K.get = { usage = "get ID", summary = "the sync", args = { "ID" }, module = ROWS.get.option_names,
    run = function(ctx, pos, _, opts) show(ctx, (ctx:client():get(pos[1], opts))) end }

  K.status = { usage = "status ID", summary = "current and last execution, next run", args = { "ID" },
    module = ROWS.status.option_names,
    run = function(ctx, pos, _, opts) show(ctx, (ctx:client():status(pos[1], opts))) end }

  K.schemas = { usage = "schemas ID", summary = "the sync's schemas (--details: with their fields)",
    args = { "ID" }, module = ROWS.schemas.option_names,
    run = function(ctx, pos, _, opts)
      local list = ctx:client():schemas(pos[1], opts)
      if ctx.json_output or opts.details then return show(ctx, list) end
      for _, s in ipairs(list) do
        ctx:say(format("%-8s  %s  %s", s.enabled and "enabled" or "disabled", tostring(s.id),
          tostring(s.output_name or "")))
      end
    end }

  K.plan = { usage = "plan ID FILE", summary = "what FILE's body would change and reset; sends nothing",
    args = { "ID", "FILE" }, module = O.NAMES.plan,
    run = function(ctx, pos, _, opts)
      local body = CLI.read_file(ctx, pos[2], "plan")
      local p = ctx:client():plan(pos[1], body, opts)
      if ctx.json_output then return ctx:json(plan_json(p)) end
      ctx:say(render(ctx, p))
    end }

  K.update = { usage = "update ID FILE [--strict] [--yes]",
    summary = "shows the plan, then sends FILE's body (a full replacement)", args = { "ID", "FILE" },
    help = "Sends when nothing resets, or with --yes, or after \"y\" at a terminal prompt. Without a terminal\n"
      .. "and without --yes a body that resets something is not sent (exit status 3).\n"
      .. "--strict refuses a body that omits any field.",
    flags = { yes = "boolean" }, module = without(ROWS.update.option_names, { "plan" }),
    run = function(ctx, pos, flags, opts)
      local id, body = pos[1], CLI.read_file(ctx, pos[2], "update")
      local client = ctx:client()
      local ok, err = bulksync.validate(body, { version = opts.version or client.version, strict = opts.strict })
      if not ok then error(err, 0) end
      local p = client:plan(id, body, { version = opts.version, retries = opts.retries })
      if not ctx.json_output then ctx:say(render(ctx, p)) end
      if p.resets > 0 and not flags.yes then
        local yes, asked = confirm(ctx, p)
        if not yes then
          if ctx.json_output then ctx:json { plan = plan_json(p), sent = false } end
          CLI.refused(asked and "not sent" or format("not sent: the body resets %s (see the plan); --yes sends it"
            .. " anyway, `bulksync patch` changes only the fields it names", plural(p.resets, "field")))
        end
      end
      local data = client:update(id, body, opts)
      if ctx.json_output then return ctx:json { plan = plan_json(p), sent = true, data = data } end
      ctx:say(format("updated %s (%s)", tostring(data.id or id), tostring(data.name)))
    end }

  K.patch = { usage = "patch ID FIELD=VALUE...", summary = "read-modify-write: changes only the fields named",
    help = "FIELD may be dotted (default_schedule.hour=07); VALUE is JSON when it parses as JSON, else a\n"
      .. "string; null clears a nullable field.",
    args = { "ID" }, rest = "FIELD=VALUE", module = O.NAMES.patch,
    run = function(ctx, pos, _, opts)
      local changes = {}
      for j = 2, #pos do
        local path, text = pos[j]:match("^([^=]+)=(.*)$")
        if not path then usage("`" .. pos[j] .. "` is not FIELD=VALUE", "patch") end
        assign(ctx, changes, pos[1], opts, path, CLI.value(text))
      end
      local data = ctx:client():patch(pos[1], changes, opts)
      show(ctx, data, format("patched %s (%s)", tostring(data.id or pos[1]), tostring(data.name)))
    end }

  K.pause = { usage = "pause ID", summary = "deactivates the sync (also cancels a running execution)",
    args = { "ID" }, module = ROWS.activate.option_names, run = activate("pause") }
  K.resume = { usage = "resume ID", summary = "activates the sync", args = { "ID" },
    module = ROWS.activate.option_names, run = activate("resume") }

  K.start = { usage = "start ID [--wait] [--timeout S] ...", summary = "starts an execution; --wait waits for its end",
    help = "Other flags are start's options: --fetch-mode=full, --resync-mode=rebuild, --test,\n"
      .. "--schemas='[\"public.orders\"]' (left out: every enabled schema).",
    args = { "ID" }, flags = { wait = "boolean", timeout = "value" }, module = START,
    run = function(ctx, pos, flags, opts)
      if flags.timeout and not flags.wait then usage("--timeout goes with --wait", "start") end
      local wait = flags.wait and { on_progress = watch(ctx), timeout = flags.timeout and seconds(flags.timeout, "start") }
      for _, n in ipairs(PACE) do
        if opts[n] ~= nil and not wait then usage("--" .. n .. " goes with --wait", "start") end
        if wait then wait[n], opts[n] = opts[n], nil end
      end
      opts.wait = wait
      local e = ctx:client():start(pos[1], opts)
      ctx:end_progress()
      show(ctx, e, execution_line(pos[1], e))
      if wait then return ended(ctx, pos[1], e) end
    end }

  K.wait = { usage = "wait ID EXECUTION_ID", summary = "waits for an execution to end",
    args = { "ID", "EXECUTION_ID" }, flags = { timeout = "value" },
    module = without(O.NAMES.wait, { "timeout", "on_progress" }),
    run = function(ctx, pos, flags, opts)
      opts.on_progress = watch(ctx)
      if flags.timeout then opts.timeout = seconds(flags.timeout, "wait") end
      local e = ctx:client():wait(pos[1], pos[2], opts)
      ctx:end_progress()
      show(ctx, e, execution_line(pos[1], e))
      return ended(ctx, pos[1], e)
    end }

  K["update-many"] = { usage = "update-many FILE [--dry-run]", summary = "a list of { id, body | patch }, sent in parallel",
    help = "Each item is one write, as client:update_many takes it: { \"id\": ..., \"body\": {...} } or\n"
      .. "{ \"id\": ..., \"patch\": {...} } (also activate, start, ...). Exit status 1 when an item failed\n"
      .. "at the API, else 2 when an item was invalid (not sent). --dry-run sends no write: it prints\n"
      .. "every item's plan (reads only).",
    args = { "FILE" }, module = without(O.NAMES.update_many, { "on_progress" }),
    run = function(ctx, pos, _, opts)
      local items = CLI.read_file(ctx, pos[1], "update-many")
      if type(items) ~= "table" or (#items == 0 and next(items) ~= nil) then
        usage("FILE must hold a list of { id, body | patch }", "update-many")
      end
      if ctx.isatty(2) then
        opts.on_progress = function(done, total)
          local width = 30
          local full = total > 0 and math.floor(width * done / total) or width
          ctx:progress(format("[%s%s] %d/%d", ("="):rep(full), (" "):rep(width - full), done, total))
        end
      end
      local results = ctx:client():update_many(items, opts)
      ctx:end_progress()
      local failed, invalid, out = 0, 0, bulksync.array {}
      for i, r in ipairs(results) do
        local id = type(items[i]) == "table" and items[i].id or nil
        local e = r.err
        if not r.ok then
          if e and e.kind == "ValidationError" then invalid = invalid + 1 else failed = failed + 1 end
        end
        if ctx.json_output then
          out[i] = { id = id, ok = r.ok, data = r.data, plan = r.plan and plan_json(r.plan) or nil,
            error = e and { kind = e.kind, status = e.status, message = e.message } or nil }
        elseif r.plan then
          ctx:say(format("plan    %s", tostring(id)))
          ctx:say(render(ctx, r.plan))
        else
          ctx:say(r.ok and format("ok      %s", tostring(id))
            or format("failed  %s  %s", tostring(id), (tostring(e):gsub("[\r\n]+", " "))))
        end
      end
      if ctx.json_output then ctx:json(out)
      else
        ctx:say(format(opts.dry_run and "%d of %d planned; nothing was sent" or "%d of %d done",
          #results - failed - invalid, #results))
      end
      return failed > 0 and CLI.FAILED or invalid > 0 and CLI.USAGE or CLI.OK
    end }

  K.standin = { usage = "standin [--port N] [--seed FILE]",
    summary = "the local stand-in server, to try scripts without an account",
    help = "Listens on 127.0.0.1 (--port 0, the default, picks a free port) and prints its URL and the\n"
      .. "demo key it accepts. --seed FILE adds syncs: { \"replace\": false, \"synthetic\": 0,\n"
      .. "\"syncs\": [ { \"id\": optional UUID, ...a create body... } ] }, or just the list of syncs.\n"
      .. "Needs Lua 5.3 or later, luasocket and lua-cjson. Ctrl-C stops it.",
    flags = { port = "value", seed = "value" },
    run = function(ctx, _, flags) return require("bulksync.cli_standin").run(ctx, flags, CLI) end }

  local order = { "list", "get", "status", "schemas", "plan", "update", "patch", "pause", "resume", "start",
    "wait", "update-many", "standin" }
  return { commands = K, order = order, plan_json = plan_json }
end
