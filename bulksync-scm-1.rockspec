rockspec_format = "3.0"
package = "bulksync"
version = "scm-1"

source = {
  url = "git+https://github.com/lua-bulksync/lua-bulksync.git",
}

description = {
  summary = "Manage Polytomic bulk syncs from Lua, without silent resets",
  detailed = [[
    A C module that checks a Lua table against the Polytomic bulk-sync
    schema, encodes it to JSON, sends it with libcurl (or OpenResty
    cosockets) and returns the response as a Lua table or a typed error.
    Updates are full replacements: patch() and plan() make the safe
    read-modify-write path one call and show what would be reset.
    Every bulk-sync endpoint is a client method (syncs, schemas,
    executions, schedules, logs, connections' source and target);
    update_many runs many writes concurrently. Runs on Lua 5.1 to 5.4
    and LuaJIT, and without blocking inside OpenResty. Installs the
    `bulksync` command and a local stand-in of the API.
  ]],
  homepage = "https://github.com/lua-bulksync/lua-bulksync",
  issues_url = "https://github.com/lua-bulksync/lua-bulksync/issues",
  license = "MIT",
  labels = { "polytomic", "http", "json", "openresty" },
}

dependencies = {
  "lua >= 5.1, < 5.5",
}

-- Only the library is checked: a header check misses Debian's multiarch
-- include path for curl/curl.h.
external_dependencies = {
  CURL = { library = "curl" },
}

-- `luarocks test`: the busted specs (the stand-in they start needs
-- lua-cjson and luasocket).
test_dependencies = {
  "busted",
  "lua-cjson",
  "luasocket",
}

test = {
  type = "busted",
}

build = {
  type = "builtin",
  modules = {
    ["bulksync"] = "bulksync.lua",
    ["bulksync.endpoints"] = "bulksync/endpoints.lua",
    ["bulksync.options"] = "bulksync/options.lua",
    ["bulksync.errors"] = "bulksync/errors.lua",
    ["bulksync.retry"] = "bulksync/retry.lua",
    ["bulksync.curl"] = "bulksync/curl.lua",
    ["bulksync.ngx"] = "bulksync/ngx.lua",
    ["bulksync.rmw"] = "bulksync/rmw.lua",
    ["bulksync.many"] = "bulksync/many.lua",
    ["bulksync.plan"] = "bulksync/plan.lua",
    ["bulksync.plan_nested"] = "bulksync/plan_nested.lua",
    ["bulksync.plan_render"] = "bulksync/plan_render.lua",
    ["bulksync.cli"] = "bulksync/cli.lua",
    ["bulksync.cli_commands"] = "bulksync/cli_commands.lua",
    ["bulksync.cli_standin"] = "bulksync/cli_standin.lua",
    -- The local stand-in of the API, for `bulksync standin` and trying calls
    -- without an account.
    ["bulksync.standin.api"] = "standin/api.lua",
    ["bulksync.standin.catalog"] = "standin/catalog.lua",
    ["bulksync.standin.discovery"] = "standin/discovery.lua",
    ["bulksync.standin.json"] = "standin/json.lua",
    ["bulksync.standin.lifecycle"] = "standin/lifecycle.lua",
    ["bulksync.standin.logs"] = "standin/logs.lua",
    ["bulksync.standin.schedules"] = "standin/schedules.lua",
    ["bulksync.standin.seed"] = "standin/seed.lua",
    ["bulksync.standin.serve"] = "standin/serve.lua",
    ["bulksync.standin.writes"] = "standin/writes.lua",
    ["bulksync.core"] = {
      sources = { "lua_bulksync.c", "src/buffer.c", "src/walk.c", "src/json.c", "src/schema.c",
        "src/http.c" },
      incdirs = { "src", "$(CURL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)" },
      libraries = { "curl" },
    },
  },
  install = {
    bin = {
      bulksync = "bin/bulksync",
    },
  },
}
