/*
 * lua_bulksync.c: the C core of lua-bulksync, loaded as `bulksync.core`.
 *
 * The public module is bulksync.lua; it keeps the parts that must run in a
 * Lua frame (transports whose socket calls yield, retry waits through the
 * host's sleep). This file is the top layer: it binds the C pieces to Lua
 * and nothing below it calls up into it.
 *
 *   src/schema.c  the API's fields, described once as data, and the walker
 *                 that validates and encodes a body in one pass
 *   src/json.c    JSON writing and reading
 *   src/http.c    the libcurl client
 *   src/walk.c    the walk context: path segments, problems, limits
 *   src/buffer.c  the byte buffer
 *
 * Copyright (c) lua-bulksync developers. MIT licence (see README.md).
 */

#define _POSIX_C_SOURCE 200809L  /* nanosleep */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "schema.h"
#include "json.h"
#include "http.h"

/* ===================== encode / validate =====================
 * core.encode(body, version, strict, limits, kind) -> json | nil, problems, count
 * core.validate(body, version, strict, limits, kind) -> true | nil, problems, count
 * limits: nil or { max_values = n, max_bytes = n } (see core.LIMITS)
 * kind: nil or one of core.BODY_KINDS ("sync", the default, "activate", "start",
 *       "schema", "schemas", "schedule")
 * Each encoding function has its own scratch buffer (upvalue 1), reused
 * between calls, so encoding a body allocates nothing once the buffer has
 * grown. */

static const bs_version *check_version(lua_State *L, int idx)
{
    const char *name = luaL_checkstring(L, idx);
    const bs_version *v = bs_schema_find(name);
    if (v == NULL)
        luaL_argerror(L, idx, "unsupported API version");
    return v;
}

static bs_body_kind check_kind(lua_State *L, int idx)
{
    int kind;
    if (lua_isnoneornil(L, idx))
        return BS_BODY_SYNC;
    kind = bs_schema_kind(luaL_checkstring(L, idx));
    if (kind < 0)
        luaL_argerror(L, idx, "unknown body kind (see core.BODY_KINDS)");
    return (bs_body_kind)kind;
}

/* The arguments after the body at b: version at b+1, strict at b+2,
 * limits at b+3, kind at b+4. Checked before anything is begun, so a bad
 * one raises with nothing to undo. */
typedef struct walk_args {
    const bs_version *v;
    bs_body_kind      kind;
} walk_args;

static walk_args check_walk_args(lua_State *L, int b)
{
    walk_args a;
    a.v = check_version(L, b + 1);
    a.kind = check_kind(L, b + 4);
    lua_settop(L, b + 3);
    return a;
}

/* The body at b walked into out (NULL: validate only), the limits at b+3
 * and strict at b+2 read by the walk. Pushes nil, problems, count and
 * returns 3 on a problem; returns 0 when the body is valid. */
static int walk_into(lua_State *L, int b, walk_args a, bs_buf *out)
{
    bs_walk w;

    bs_walk_init(&w, L, out);
    bs_walk_limits(&w, b + 3);
    w.strict = lua_toboolean(L, b + 2);

    bs_schema_encode(&w, b, a.v, a.kind);

    if (w.nproblems > 0) {
        if (out)
            bs_buf_reset(out);   /* half a body is never sent */
        lua_pushnil(L);
        lua_pushvalue(L, w.problems);
        lua_pushinteger(L, w.nproblems);
        return 3;
    }
    return 0;
}

static int core_encode(lua_State *L)
{
    bs_buf *out = (bs_buf *)lua_touserdata(L, lua_upvalueindex(1));
    if (walk_into(L, 1, check_walk_args(L, 1), out))
        return 3;
    lua_pushlstring(L, out->data, out->len);
    return 1;
}

static int core_validate(lua_State *L)
{
    if (walk_into(L, 1, check_walk_args(L, 1), NULL))
        return 3;
    lua_pushboolean(L, 1);
    return 1;
}

/* core.encode_into(handle, body, version, strict, limits, kind) -> token |
 * nil, problems, count: the JSON is written into the handle itself, and
 * handle:perform(method, url, token) sends it; no Lua string is made. */
static int core_encode_into(lua_State *L)
{
    lua_Integer token;
    walk_args a = check_walk_args(L, 2);   /* before the handle is marked busy */
    bs_buf *out = bs_http_body_begin(L, 1, &token);
    int n = walk_into(L, 2, a, out);
    bs_http_body_end(L, 1, n == 0);
    if (n)
        return 3;
    lua_pushinteger(L, token);
    return 1;
}

/* core.encode_value(v, limits) -> json | nil, problems: any value, no schema. */
static int core_encode_value(lua_State *L)
{
    bs_walk w;
    bs_buf *out = (bs_buf *)lua_touserdata(L, lua_upvalueindex(1));

    luaL_checkany(L, 1);
    lua_settop(L, 2);
    bs_walk_init(&w, L, out);
    bs_walk_limits(&w, 2);
    bs_json_value(&w, 1);
    if (w.nproblems > 0) {
        lua_pushnil(L);
        lua_pushvalue(L, w.problems);
        return 2;
    }
    lua_pushlstring(L, out->data, out->len);
    return 1;
}

/* core.decode(text) -> value | nil, message */
static int core_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    char err[160];
    if (bs_json_decode(L, s, len, err, sizeof err))
        return 1;
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
}

/* core.array(t) -> t, marked to encode as a JSON array even when empty. */
static int core_array(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    if (lua_getmetatable(L, 1)) {
        luaL_getmetatable(L, BS_ARRAY_MT);
        if (!lua_rawequal(L, -1, -2))
            return luaL_argerror(L, 1, "table already has a metatable");
        lua_pop(L, 2);
        return 1;
    }
    luaL_getmetatable(L, BS_ARRAY_MT);
    lua_setmetatable(L, 1);
    return 1;
}

/* core.schema(version, kind) -> the field table of that version's body of
 * that kind (default "sync"), as Lua data. */
static int core_schema(lua_State *L)
{
    const bs_version *v = check_version(L, 1);
    bs_schema_push(L, v, check_kind(L, 2));
    return 1;
}

/* core.sleep(seconds): the retry wait of the libcurl transport. OpenResty
 * passes ngx.sleep instead, which yields rather than blocking a worker. */
static int core_sleep(lua_State *L)
{
    double secs = luaL_checknumber(L, 1);
    struct timespec ts, rem;
    if (!(secs > 0))
        return 0;
    if (secs > 86400)
        secs = 86400;
    ts.tv_sec = (time_t)secs;
    ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
        ts = rem;
    return 0;
}

/* ===================== module =====================*/

static const luaL_Reg core_plain_functions[] = {
    { "decode", core_decode },
    { "array",  core_array },
    { "schema", core_schema },
    { "http",   bs_http_new },
    { "sleep",  core_sleep },
    { "getdate", bs_http_getdate },
    { "encode_into", core_encode_into },
    { "closest", bs_schema_closest },
    { NULL, NULL }
};

static const luaL_Reg core_buffered_functions[] = {
    { "encode",       core_encode },
    { "validate",     core_validate },
    { "encode_value", core_encode_value },
    { NULL, NULL }
};

/* { default =, min =, max = } of one option. */
static void push_range(lua_State *L, const char *name, double def, double lo, double hi)
{
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, (lua_Number)def);
    lua_setfield(L, -2, "default");
    lua_pushnumber(L, (lua_Number)lo);
    lua_setfield(L, -2, "min");
    lua_pushnumber(L, (lua_Number)hi);
    lua_setfield(L, -2, "max");
    lua_setfield(L, -2, name);
}

/* Pushes a whole number as an integer where the Lua has them, so it
 * prints without a fraction. */
static void push_whole(lua_State *L, double v)
{
#if BS_HAVE_INTEGER
    lua_pushinteger(L, (lua_Integer)v);
#else
    lua_pushnumber(L, (lua_Number)v);
#endif
}

BS_EXPORT int luaopen_bulksync_core(lua_State *L);

BS_EXPORT int luaopen_bulksync_core(lua_State *L)
{
    const char *const *names;
    const luaL_Reg *r;
    int i;

    luaL_newmetatable(L, BS_ARRAY_MT);
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
    bs_http_register(L);

    lua_newtable(L);
    bs_setfuncs(L, core_plain_functions, 0);

    /* Each encoder gets its own scratch buffer as an upvalue: no C global,
     * so two Lua states never share one. */
    for (r = core_buffered_functions; r->name; r++) {
        bs_buf_push(L);
        lua_pushcclosure(L, r->func, 1);
        lua_setfield(L, -2, r->name);
    }

    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    luaL_getmetatable(L, BS_ARRAY_MT);
    lua_setfield(L, -2, "array_mt");

    lua_newtable(L);
    for (names = bs_schema_versions(), i = 1; *names; names++, i++) {
        lua_pushstring(L, *names);
        lua_rawseti(L, -2, i);
    }
    lua_setfield(L, -2, "API_VERSIONS");
    lua_pushstring(L, bs_schema_versions()[0]);   /* the newest */
    lua_setfield(L, -2, "DEFAULT_VERSION");

    lua_newtable(L);
    for (names = bs_schema_kinds(), i = 1; *names; names++, i++) {
        lua_pushstring(L, *names);
        lua_rawseti(L, -2, i);
    }
    lua_setfield(L, -2, "BODY_KINDS");

    lua_createtable(L, BS_P_COUNT, 0);
    for (i = 0; i < BS_P_COUNT; i++) {
        lua_pushstring(L, bs_problem_names[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, "PROBLEM_CODES");

    /* core.LIMITS: the walk's defaults and the ceilings a call may raise
     * them to; the http client's options as { default =, min =, max = }. */
    lua_createtable(L, 0, 6);
    push_whole(L, BS_DEFAULT_MAX_VALUES);
    lua_setfield(L, -2, "max_values");
    push_whole(L, BS_DEFAULT_MAX_BYTES);
    lua_setfield(L, -2, "max_bytes");
    lua_createtable(L, 0, 2);
    push_whole(L, bs_limit_ceiling(BS_CEILING_MAX_VALUES));
    lua_setfield(L, -2, "max_values");
    push_whole(L, bs_limit_ceiling(BS_CEILING_MAX_BYTES));
    lua_setfield(L, -2, "max_bytes");
    lua_setfield(L, -2, "ceiling");
    push_range(L, "timeout", BS_HTTP_TIMEOUT_DEFAULT, BS_HTTP_SECONDS_MIN, BS_HTTP_SECONDS_MAX);
    push_range(L, "connect_timeout", BS_HTTP_CONNECT_TIMEOUT_DEFAULT, BS_HTTP_SECONDS_MIN,
               BS_HTTP_SECONDS_MAX);
    push_range(L, "max_response_size", BS_HTTP_MAX_RESPONSE_DEFAULT, BS_HTTP_MAX_RESPONSE_MIN,
               BS_HTTP_MAX_RESPONSE_MAX);
    lua_setfield(L, -2, "LIMITS");

    lua_pushliteral(L, BS_MODULE_VERSION);
    lua_setfield(L, -2, "_VERSION");
    lua_pushboolean(L, BS_HAVE_INTEGER);   /* a boolean: 0 would be true in Lua */
    lua_setfield(L, -2, "HAVE_INTEGER");
    return 1;
}
