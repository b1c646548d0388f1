-- luacheck configuration: `make check` runs luacheck over every Lua file.
std = "max"          -- the module runs on Lua 5.1 to 5.4 and LuaJIT
max_line_length = 140
read_globals = { "ngx", "jit" }   -- OpenResty's API and LuaJIT's module, looked up when present

files["spec"] = { std = "+busted" }
-- The stand-in and the spec support servers run on Lua 5.4 only.
files["standin"] = { std = "lua54" }
exclude_files = { "build/", "bench/out/", "bench/ts/node_modules/" }
-- Specs drop references on purpose (c = nil before a collection) and
-- fake objects take a self they do not use.
files["spec"].ignore = { "212/self", "311" }
-- nginx handlers set ngx.status and ngx.header.
files["examples/openresty"] = { globals = { "ngx" } }
files["spec/nginx"] = { globals = { "ngx" } }
-- bin/bulksync is Lua without the .lua suffix.
include_files = { "**/*.lua", "bin/bulksync" }
