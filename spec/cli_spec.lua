-- The `bulksync` command against the stand-in: every command, each exit
-- status, --help, FILE as JSON, Lua and standard input, --json output
-- read back, patch's FIELD=VALUE, the confirmation of a resetting update,
-- progress only on a terminal, and the key in no output of any mode.
local bulksync = require "bulksync"
local standin = require "spec.support.standin"
local cli = require "spec.support.cli"
local child = require "spec.support.child"
local files = require "spec.support.files"
local seed = require "standin.seed"

local ORDERS, CRM, UNKNOWN = seed.ids.orders, seed.ids.crm, seed.unknown_id
local COMMANDS = { "list", "get", "status", "schemas", "plan", "update", "patch", "pause", "resume", "start",
  "wait", "update-many", "standin" }

local function temp_file(text)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
  return path
end

local function count(list, pred)
  local n = 0
  for _, x in ipairs(list) do if pred(x) then n = n + 1 end end
  return n
end

-- A Lua 5.3+ interpreter can run the stand-in itself.
local function modern_lua()
  if rawget(_G, "jit") then return false end
  local major, minor = _VERSION:match("(%d+)%.(%d+)")
  return tonumber(major) * 10 + tonumber(minor) >= 53
end

describe("bulksync command", function()
  local srv, env

  local function run(argv, opts)
    opts = opts or {}
    opts.env = opts.env or env
    return cli.run(argv, opts)
  end

  local function puts()
    return count(srv:requests(), function(r) return r.method == "PUT" end)
  end

  setup(function()
    srv = standin.start()
    env = { POLYTOMIC_API_KEY = "test-key", POLYTOMIC_BASE_URL = srv.url }
  end)
  teardown(function() srv:stop() end)
  before_each(function() srv:reset() end)

  describe("--help", function()
    it("describes every command and exits 0", function()
      local code, out = run { "--help" }
      assert.equal(0, code)
      for _, name in ipairs(COMMANDS) do assert.truthy(out:find(name, 1, true), name) end
      assert.truthy(out:find("POLYTOMIC_API_KEY", 1, true))
    end)

    for _, name in ipairs(COMMANDS) do
      it("of " .. name .. " shows its usage and sends nothing", function()
        local code, out = run { name, "--help" }
        assert.equal(0, code)
        assert.truthy(out:find("usage: bulksync [--json] " .. name, 1, true), out)
        assert.equal(0, #srv:requests())
      end)
    end

    it("without a command goes to stderr with status 2", function()
      local code, out, err = run {}
      assert.equal(2, code)
      assert.equal("", out)
      assert.truthy(err:find("usage: bulksync", 1, true))
    end)
  end)

  describe("usage errors (status 2)", function()
    it("suggest the closest command", function()
      local code, _, err = run { "lsit" }
      assert.equal(2, code)
      assert.truthy(err:find("did you mean `list`?", 1, true), err)
    end)

    it("suggest the module's own option name for a misspelt flag, before any request", function()
      local code, _, err = run { "list", "--activ" }
      assert.equal(2, code)
      assert.truthy(err:find("did you mean `active`?", 1, true), err)
      code, _, err = run { "update", ORDERS, "x.json", "--stric" }
      assert.equal(2, code)
      assert.truthy(err:find("did you mean `strict`?", 1, true), err)
      assert.equal(0, #srv:requests())
    end)

    it("refuse a key given as a flag, without echoing it", function()
      local code, out, err = run { "--api-key", "sk-FLAGGED-KEY", "list" }
      assert.equal(2, code)
      assert.truthy(err:find("POLYTOMIC_API_KEY", 1, true))
      assert.falsy((out .. err):find("sk-FLAGGED-KEY", 1, true))
    end)

    it("need POLYTOMIC_API_KEY", function()
      local code, _, err = run({ "list" }, { env = { POLYTOMIC_BASE_URL = srv.url } })
      assert.equal(2, code)
      assert.truthy(err:find("POLYTOMIC_API_KEY", 1, true))
    end)

    it("cover missing arguments, a bad id, a bad API version and an unreadable FILE", function()
      assert.equal(2, (run { "get" }))
      assert.equal(2, (run { "get", ORDERS, "extra" }))
      assert.equal(2, (run { "get", "not-a-uuid" }))
      assert.equal(2, (run { "--api-version", "2020-01-01", "get", ORDERS }))
      assert.equal(2, (run { "plan", ORDERS, "/nonexistent/body.json" }))
      local bad = temp_file("{ not json")
      assert.equal(2, (run { "plan", ORDERS, bad }))
      os.remove(bad)
      assert.equal(0, #srv:requests())
    end)
  end)

  describe("reads", function()
    it("list: every sync, --active the active ones (sent as active=true)", function()
      local code, out = run { "list" }
      assert.equal(0, code)
      for _, id in pairs(seed.ids) do assert.truthy(out:find(id, 1, true)) end
      local syncs
      code, out = run { "--json", "list", "--active" }
      assert.equal(0, code)
      syncs = bulksync.decode(out)
      assert.equal(2, #syncs)
      for _, s in ipairs(syncs) do assert.is_true(s.active) end
      local reqs = srv:requests()
      assert.equal("active=true", reqs[#reqs].query)
    end)

    it("get: for people, and as JSON read back", function()
      local code, out = run { "get", ORDERS }
      assert.equal(0, code)
      assert.truthy(out:find("name: Orders warehouse replica", 1, true), out)
      code, out = run { "--json", "get", ORDERS }
      assert.equal(0, code)
      local sync = bulksync.decode(out)
      assert.equal(ORDERS, sync.id)
      assert.equal("daily", sync.default_schedule.frequency)
    end)

    it("status and schemas", function()
      local code, out = run { "--json", "status", ORDERS }
      assert.equal(0, code)
      assert.truthy(bulksync.decode(out).next_execution_time)
      code, out = run { "schemas", ORDERS }
      assert.equal(0, code)
      assert.truthy(out:find("disabled  public.audit_log", 1, true), out)
      code, out = run { "--json", "schemas", ORDERS, "--details" }
      assert.equal(0, code)
      local list = bulksync.decode(out)
      assert.equal(5, #list)
      assert.truthy(list[1].fields)
    end)

    it("an API error is status 1 with the typed error's one line on stderr", function()
      local code, out, err = run { "get", UNKNOWN }
      assert.equal(1, code)
      assert.equal("", out)
      assert.truthy(err:match("^bulksync: NotFoundError %(404%): [^\n]*\n$"), err)
    end)

    it("a transport error is status 1; --base-url overrides POLYTOMIC_BASE_URL", function()
      local closed = "http://127.0.0.1:" .. require("spec.support.ports")()
      local code, _, err = run({ "get", ORDERS }, { env = { POLYTOMIC_API_KEY = "test-key",
        POLYTOMIC_BASE_URL = closed } })
      assert.equal(1, code)
      assert.truthy(err:find("TransportError", 1, true), err)
      code = run({ "--base-url", srv.url, "get", ORDERS }, { env = { POLYTOMIC_API_KEY = "test-key",
        POLYTOMIC_BASE_URL = closed } })
      assert.equal(0, code)
    end)
  end)

  describe("plan and update", function()
    -- Valid, but it omits the optional fields: they would reset.
    local partial = string.format('{"name": "Orders, renamed", "mode": "replicate", "source_connection_id": "%s",'
      .. ' "destination_connection_id": "%s", "destination_configuration": {"schema": "ANALYTICS"},'
      .. ' "default_schedule": {"frequency": "daily", "hour": "5", "minute": "30"}}',
      seed.connections.postgres, seed.connections.snowflake)

    -- The sync's complete body, as JSON: nothing in it resets.
    local function complete_body(name)
      local c = bulksync.new { api_key = "test-key", base_url = srv.url }
      local body = bulksync.to_update(c:get(ORDERS), { schemas = c:schemas(ORDERS, { details = true }) })
      c:close()
      body.name = name
      return bulksync.encode(body)
    end

    it("plan shows the resets of a JSON FILE and sends nothing", function()
      local path = temp_file(partial)
      local code, out = run { "plan", ORDERS, path }
      assert.equal(0, code)
      assert.truthy(out:find("RESET", 1, true))
      for _, field in ipairs { "name", "normalize_names", "schemas", "policies" } do
        assert.truthy(out:find(field, 1, true), field)
      end
      code, out = run { "--json", "plan", ORDERS, path }
      assert.equal(0, code)
      local p = bulksync.decode(out)
      assert.equal(ORDERS, p.id)
      assert.is_true(p.resets > 0)
      -- Resets are counted at every depth: the path-by-path entries.
      assert.equal(p.resets, count(p.entries, function(e) return e.action == "reset" end))
      assert.equal(1, count(p.entries, function(e) return e.path == "destination_configuration.table_prefix" end))
      local name
      for _, e in ipairs(p.changes) do if e.field == "name" then name = e end end
      assert.equal("change", name.action)
      assert.equal("Orders, renamed", name.to)
      assert.equal(0, puts())
      os.remove(path)
    end)

    it("plan reads a Lua FILE, and standard input for -", function()
      local path = temp_file('return { name = "From Lua" }')
      local code, out = run { "--json", "plan", ORDERS, path }
      assert.equal(0, code)
      local p = bulksync.decode(out)
      for _, e in ipairs(p.changes) do if e.field == "name" then assert.equal("From Lua", e.to) end end
      os.remove(path)
      code, out = run({ "--json", "plan", ORDERS, "-" }, { stdin = '{"name": "From stdin"}' })
      assert.equal(0, code)
      p = bulksync.decode(out)
      for _, e in ipairs(p.changes) do if e.field == "name" then assert.equal("From stdin", e.to) end end
      code = run({ "plan", ORDERS, "-" }, { stdin = 'return 42' })
      assert.equal(2, code)
    end)

    it("asks the plan's render for colour only on a terminal, and never with NO_COLOR", function()
      local mt = getmetatable(bulksync.diff({}, {}))
      local original, seen = mt.render, {}
      mt.render = function(p, opts)
        seen[#seen + 1] = type(opts) == "table" and opts.colour == true
        return original(p)
      end
      local path = temp_file(partial)
      local ok, err = pcall(function()
        run({ "plan", ORDERS, path }, { tty = true })
        run({ "plan", ORDERS, path }, { tty = true, env = { POLYTOMIC_API_KEY = "test-key",
          POLYTOMIC_BASE_URL = srv.url, NO_COLOR = "1" } })
        run { "plan", ORDERS, path }
      end)
      mt.render = original
      os.remove(path)
      assert(ok, err)
      assert.same({ true, false, false }, seen)
    end)

    it("update refuses a resetting body without a terminal or --yes: status 3, nothing sent", function()
      local path = temp_file(partial)
      local code, out, err = run { "update", ORDERS, path }
      assert.equal(3, code)
      assert.truthy(out:find("RESET", 1, true))
      assert.truthy(err:find("--yes", 1, true), err)
      assert.equal(0, puts())
      code = run({ "update", ORDERS, "-" }, { stdin = partial, tty = true })
      assert.equal(3, code, "a body read from stdin leaves no way to ask")
      assert.equal(0, puts())
      os.remove(path)
    end)

    it("update asks on a terminal: n keeps it unsent (3), y sends it", function()
      local path = temp_file(partial)
      local code, _, err = run({ "update", ORDERS, path }, { tty = true, stdin = "n\n" })
      assert.equal(3, code)
      assert.truthy(err:find("[y/N]", 1, true), err)
      assert.equal(0, puts())
      code = run({ "update", ORDERS, path }, { tty = true, stdin = "y\n" })
      assert.equal(0, code)
      assert.equal(1, puts())
      assert.equal("Orders, renamed", srv:state(ORDERS).sync.name)
      os.remove(path)
    end)

    it("update --yes sends a resetting body; --json reports the plan and the sync", function()
      local path = temp_file(partial)
      local code, out = run { "--json", "update", ORDERS, path, "--yes" }
      assert.equal(0, code)
      local r = bulksync.decode(out)
      assert.is_true(r.sent)
      assert.is_true(r.plan.resets > 0)
      assert.equal("Orders, renamed", r.data.name)
      assert.equal("enabled", srv:state(ORDERS).sync.normalize_names)
      os.remove(path)
    end)

    it("update sends a body that resets nothing without asking", function()
      local path = temp_file(complete_body("Orders, complete"))
      local code, out = run { "update", ORDERS, path }
      assert.equal(0, code, out)
      assert.equal(1, puts())
      local sync = srv:state(ORDERS).sync
      assert.equal("Orders, complete", sync.name)
      assert.equal("disabled", sync.normalize_names)
      os.remove(path)
    end)

    it("update --strict refuses a body that omits fields: status 2, nothing sent", function()
      local path = temp_file(partial)
      local code, _, err = run { "update", ORDERS, path, "--strict", "--yes" }
      assert.equal(2, code)
      assert.truthy(err:find("ValidationError", 1, true))
      assert.equal(0, #srv:requests())
      os.remove(path)
    end)
  end)

  describe("patch", function()
    it("reads VALUE as JSON when it parses, else as a string; null clears", function()
      local code = run { "patch", ORDERS, "name=Renamed by patch", "concurrency_limit=8",
        "data_cutoff_timestamp=null" }
      assert.equal(0, code)
      local sync = srv:state(ORDERS).sync
      assert.equal("Renamed by patch", sync.name)
      assert.equal(8, sync.concurrency_limit)
      assert.equal(standin.null, sync.data_cutoff_timestamp)
      assert.equal("disabled", sync.normalize_names)   -- the rest is kept
      assert.equal(5, #srv:state(ORDERS).schemas)
    end)

    it("a dotted FIELD changes one part and keeps the others", function()
      local code, out = run { "--json", "patch", ORDERS, "default_schedule.hour=07" }
      assert.equal(0, code)
      assert.equal("07", bulksync.decode(out).default_schedule.hour)
      local schedule = srv:state(ORDERS).sync.default_schedule
      assert.equal("07", schedule.hour)
      assert.equal("daily", schedule.frequency)
      assert.equal("30", schedule.minute)
    end)

    it("refuses bad assignments and unknown fields with status 2", function()
      assert.equal(2, (run { "patch", ORDERS }))
      assert.equal(2, (run { "patch", ORDERS, "no-equals-sign" }))
      local code, _, err = run { "patch", ORDERS, "shedule=1" }
      assert.equal(2, code)
      assert.truthy(err:find("schedule", 1, true), err)
      code = run { "patch", ORDERS, "concurrency_limit=eight" }   -- a string where an integer goes
      assert.equal(2, code)
      assert.equal(0, puts())
    end)
  end)

  describe("running a sync", function()
    it("pause and resume", function()
      assert.equal(0, (run { "pause", ORDERS }))
      assert.is_false(srv:state(ORDERS).sync.active)
      local code, out = run { "--json", "resume", ORDERS }
      assert.equal(0, code)
      assert.is_true(bulksync.decode(out).active)
      assert.is_true(srv:state(ORDERS).sync.active)
    end)

    it("start, then wait for the execution; start --wait in one", function()
      srv:config { execution_steps = 2 }
      local code, out = run { "--json", "start", CRM, "--fetch-mode=full" }
      assert.equal(0, code)
      local e = bulksync.decode(out)
      assert.equal("created", e.status)
      assert.equal("full", e.fetch_mode)
      code, out = run { "--json", "wait", CRM, e.id, "--interval=0.01" }
      assert.equal(0, code)
      assert.equal("completed", bulksync.decode(out).status)
      code, out = run { "start", CRM, "--wait", "--timeout", "30", "--interval=0.01" }
      assert.equal(0, code)
      assert.truthy(out:find("completed", 1, true), out)
    end)

    it("an execution that ends other than completed is status 1, for && in a shell", function()
      srv:config { execution_steps = 1, executions_fail = true }
      local code, out, err = run { "start", CRM, "--wait", "--interval=0.01" }
      assert.equal(1, code)
      assert.truthy(out:find("failed", 1, true), out)
      assert.truthy(err:find("ended failed", 1, true), err)
      code, out = run { "--json", "start", CRM }
      assert.equal(0, code)
      code = run { "wait", CRM, bulksync.decode(out).id, "--interval=0.01" }
      assert.equal(1, code)
    end)

    it("shows progress on a terminal only", function()
      srv:config { execution_steps = 2 }
      local code, _, err = run({ "start", CRM, "--wait", "--interval=0.01" }, { tty = { [2] = true } })
      assert.equal(0, code)
      assert.truthy(err:find("\r", 1, true))
      assert.truthy(err:find("running", 1, true))
      code, _, err = run { "start", CRM, "--wait", "--interval=0.01" }
      assert.equal(0, code)
      assert.equal("", err)
    end)

    it("--timeout without --wait, and a misspelt start option, are status 2", function()
      assert.equal(2, (run { "start", CRM, "--timeout", "5" }))
      local code, _, err = run { "start", CRM, "--fetch-mod=full" }
      assert.equal(2, code)
      assert.truthy(err:find("did you mean `fetch_mode`?", 1, true), err)
      assert.equal(0, #srv:requests())
    end)
  end)

  describe("update-many", function()
    it("sends every item, with a progress bar on a terminal", function()
      local path = temp_file(string.format('[{"id": "%s", "patch": {"name": "Many A"}},'
        .. ' {"id": "%s", "patch": {"active": true}}]', ORDERS, CRM))
      local code, out, err = run({ "update-many", path }, { tty = { [2] = true } })
      assert.equal(0, code, err)
      assert.truthy(out:find("2 of 2 done", 1, true), out)
      assert.truthy(err:find("2/2", 1, true), err)
      assert.equal("Many A", srv:state(ORDERS).sync.name)
      assert.is_true(srv:state(CRM).sync.active)
      code, out, err = run { "update-many", path }
      assert.equal(0, code)
      assert.equal("", err)
      os.remove(path)
    end)

    it("reports each item; status 1 when one failed at the API, 2 when one was invalid", function()
      local items = string.format('return { { id = %q, patch = { name = "Ok" } }, { id = %q, patch = { name = "x" } } }',
        ORDERS, UNKNOWN)
      local code, out = run({ "--json", "update-many", "-" }, { stdin = items })
      assert.equal(1, code)
      local results = bulksync.decode(out)
      assert.is_true(results[1].ok)
      assert.is_false(results[2].ok)
      assert.equal("NotFoundError", results[2].error.kind)
      local path = temp_file(string.format('[{"id": "%s", "patch": {"name": "Ok"}}, {"id": "nope", "patch": {}}]',
        ORDERS))
      code = run { "update-many", path }
      assert.equal(2, code)
      os.remove(path)
      assert.equal(2, (run({ "update-many", "-" }, { stdin = '{"id": "x"}' })))
    end)
  end)

  describe("update-many --dry-run", function()
    it("prints every item's plan and sends no write", function()
      local path = temp_file(string.format('[{"id": "%s", "patch": {"name": "Dry A"}},'
        .. ' {"id": "%s", "activate": false}]', ORDERS, CRM))
      local code, out, err = run { "update-many", path, "--dry-run" }
      assert.equal(0, code, err)
      assert.truthy(out:find("name", 1, true), out)
      assert.truthy(out:find("Dry A", 1, true), out)
      assert.truthy(out:find("would call POST", 1, true), out)
      assert.truthy(out:find("2 of 2 planned; nothing was sent", 1, true), out)
      code, out = run { "--json", "update-many", path, "--dry-run" }
      assert.equal(0, code)
      local results = bulksync.decode(out)
      assert.equal("POST", results[2].plan.call.method)
      local named = false
      for _, e in ipairs(results[1].plan.entries) do
        if e.path == "name" and e.to == "Dry A" then named = true end
      end
      assert.is_true(named, out)
      assert.equal(0, count(srv:requests(), function(r) return r.method ~= "GET" end))
      assert.is_not.equal("Dry A", srv:state(ORDERS).sync.name)
      os.remove(path)
    end)
  end)

  describe("standin", function()
    if not modern_lua() then
      it("says it needs Lua 5.3 or later on this Lua (status 2)", function()
        local code, _, err = run { "standin" }
        assert.equal(2, code)
        assert.truthy(err:find("Lua 5.3 or later", 1, true), err)
      end)
      return
    end

    it("serves the seed file's syncs and prints its URL and demo key", function()
      local new_id = "6b0e7d1c-4a53-4f0e-9d2a-00000000c11a"
      local seed_path = temp_file(string.format([[{"syncs": [{"id": "%s", "name": "Seeded by file",
        "mode": "snapshot", "source_connection_id": "%s", "destination_connection_id": "%s",
        "destination_configuration": {"bucket": "b"}, "default_schedule": {"frequency": "manual"}}]}]],
        new_id, seed.connections.postgres, seed.connections.s3))
      local cmd = string.format("LUA_PATH=%s LUA_CPATH=%s exec timeout 120 %s %s standin --port 0 --seed %s 2>/dev/null",
        files.shell_quote(package.path), files.shell_quote(package.cpath), child.LUA,
        files.shell_quote(cli.ROOT .. "bin/bulksync"), files.shell_quote(seed_path))
      local p = assert(io.popen(cmd))
      local first = p:read("*l") or ""
      local lines = { first }
      for _ = 1, 3 do lines[#lines + 1] = p:read("*l") end
      local url = first:match("listening on (http://127%.0%.0%.1:%d+)")
      local ok, err = pcall(function()
        assert.truthy(url, first)
        assert.truthy(table.concat(lines, "\n"):find("POLYTOMIC_API_KEY=test-key", 1, true))
        local code, out = run({ "--json", "get", new_id }, { env = { POLYTOMIC_API_KEY = "test-key",
          POLYTOMIC_BASE_URL = url } })
        assert.equal(0, code)
        assert.equal("Seeded by file", bulksync.decode(out).name)
        code = run({ "get", ORDERS }, { env = { POLYTOMIC_API_KEY = "test-key", POLYTOMIC_BASE_URL = url } })
        assert.equal(0, code, "the built-in syncs stay")
      end)
      if url then
        local port = tonumber(url:match("(%d+)$"))
        local c = standin.connect({ port = port }, 5)
        if c then c:request("POST", "/_standin/shutdown", { Connection = "close" }, ""); c:close() end
      end
      p:close()
      os.remove(seed_path)
      assert(ok, err)
    end)

    it("refuses a seed file the stand-in would not create (status 2)", function()
      local seed_path = temp_file('{"sync": []}')
      local code, _, err = run { "standin", "--seed", seed_path }
      assert.equal(2, code)
      assert.truthy(err:find("did you mean `syncs`?", 1, true), err)
      os.remove(seed_path)
    end)
  end)
end)

describe("bulksync command and the key", function()
  -- Markers no other output would contain; the key has a "/" so its
  -- JSON-escaped form differs.
  local KEY = "mk/CLI-KEY-MARKER-7f3a91"
  local ORG = "0dd0c0de-0000-4000-8000-0000000c11a0"
  local srv, basic

  setup(function()
    srv = standin.start { api_key = KEY, org_id = ORG }
    basic = require("mime").b64(ORG .. ":" .. KEY)
  end)
  teardown(function() srv:stop() end)
  before_each(function() srv:reset() end)

  local function echo_all()
    local echo = KEY .. " " .. ORG .. " " .. basic
    srv:script {
      { status = 200, body = { data = { id = ORDERS, name = echo, active = true, note = { [echo] = echo } } } },
      { status = 404, body = { key = "not_found", message = "no sync for " .. echo, metadata = { auth = echo },
        status = 404 }, headers = { ["X-Echo"] = echo } },
      { status = 200, body = "not json: " .. echo },
    }
  end

  -- With Bearer auth the org id is no secret of the client's: only the key is.
  local function assert_clean(text, org)
    for _, secret in ipairs(org and { KEY, ORG, basic, (KEY:gsub("/", "\\/")) } or { KEY, (KEY:gsub("/", "\\/")) }) do
      assert.falsy(text:find(secret, 1, true), "a secret in the output:\n" .. text)
    end
  end

  for _, mode in ipairs { {}, { "--json" } } do
    for _, org in ipairs { false, true } do
      local what = (mode[1] or "text") .. (org and ", Basic auth" or ", Bearer")
      it("is in no output of a child process (" .. what .. ")", function()
        local env = { POLYTOMIC_API_KEY = KEY, POLYTOMIC_BASE_URL = srv.url, POLYTOMIC_ORG_ID = org and ORG or nil }
        local all = {}
        echo_all()
        for _ = 1, 3 do
          local argv = { "get", ORDERS }
          if mode[1] then table.insert(argv, 1, mode[1]) end
          local code, out, err = cli.spawn(argv, { env = env })
          all[#all + 1] = out .. err
          assert.is_true(code == 0 or code == 1, out .. err)
        end
        assert.truthy(all[1]:find("[redacted]", 1, true), all[1])
        local argv = { "list", "--active" }
        if mode[1] then table.insert(argv, 1, mode[1]) end
        local code, out, err = cli.spawn(argv, { env = env })
        assert.equal(0, code, err)
        all[#all + 1] = out .. err
        assert_clean(table.concat(all, "\n"), org)
      end)
    end
  end

  it("is in no output of an update refused, or asked on a terminal (in process)", function()
    local env = { POLYTOMIC_API_KEY = KEY, POLYTOMIC_BASE_URL = srv.url }
    local path = temp_file(string.format('{"name": "%s", "mode": "replicate", "source_connection_id": "%s",'
      .. ' "destination_connection_id": "%s", "destination_configuration": {"schema": "x"},'
      .. ' "default_schedule": {"frequency": "manual"}}', KEY, seed.connections.postgres, seed.connections.snowflake))
    local code, out, err = cli.run({ "update", ORDERS, path }, { env = env })
    assert.equal(3, code)
    assert_clean(out .. err)
    code, out, err = cli.run({ "--json", "update", ORDERS, path }, { env = env, tty = true, stdin = "n\n" })
    assert.equal(3, code)
    assert_clean(out .. err)
    os.remove(path)
  end)

  it("is not echoed by a usage error when pasted as an argument", function()
    local env = { POLYTOMIC_API_KEY = KEY, POLYTOMIC_BASE_URL = srv.url, POLYTOMIC_ORG_ID = ORG }
    for _, argv in ipairs { { "get", ORDERS, KEY }, { KEY }, { "patch", ORDERS, KEY }, { "list", "--" .. KEY } } do
      local code, out, err = cli.run(argv, { env = env })
      assert.equal(2, code)
      assert.truthy(err:find("[redacted]", 1, true) or err:find("(name not shown)", 1, true), err)
      assert_clean(out .. err, true)
    end
  end)

  it("a checkout's bin/bulksync runs without LUA_PATH", function()
    local code, out, err = cli.spawn({ "--json", "list" },
      { bare = true, env = { POLYTOMIC_API_KEY = KEY, POLYTOMIC_BASE_URL = srv.url } })
    assert.equal(0, code, err)
    assert.equal(3, #bulksync.decode(out))
  end)
end)
