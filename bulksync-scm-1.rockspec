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
  ]],
  license = "MIT",
}

dependencies = {
  "lua >= 5.1, < 5.5",
}

-- Only the library is checked: a header check misses Debian's multiarch
-- include path for curl/curl.h.
external_dependencies = {
  CURL = { library = "curl" },
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
    ["bulksync.core"] = {
      sources = { "lua_bulksync.c", "src/buffer.c", "src/walk.c", "src/json.c", "src/schema.c",
        "src/http.c" },
      incdirs = { "src", "$(CURL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)" },
      libraries = { "curl" },
    },
  },
}
