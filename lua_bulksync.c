/*
 * lua_bulksync.c: the C core of lua-bulksync, loaded as `bulksync.core`.
 *
 * The public module is bulksync.lua; it keeps the parts that must run in a
 * Lua frame (transports whose socket calls yield, retry waits through the
 * host's sleep). This file binds the C pieces to Lua:
 *
 *   src/json.c    JSON writing and reading
 *   src/schema.c  the API's fields, described once as data, and the walker
 *                 that validates and encodes a body in one pass
 *   src/http.c    the libcurl client
 *
 * Copyright (c) lua-bulksync developers. MIT licence (see README.md).
 */

#define _POSIX_C_SOURCE 200809L  /* nanosleep */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bulksync.h"

/* ===================== walk context =====================
 * Paths and problems are shared by the schema walker and the generic JSON
 * writer, so both name a problem the same way. */

static size_t path_append(bs_ctx *c, const char *s, size_t n)
{
    size_t old = c->pathlen;
    if (c->pathlen + n >= BS_PATH_MAX - 4) {
        /* A path this long is already unreadable: mark it cut, keep going. */
        if (c->pathlen < BS_PATH_MAX - 4) {
            memcpy(c->path + c->pathlen, "...", 3);
            c->pathlen += 3;
        }
    } else {
        memcpy(c->path + c->pathlen, s, n);
        c->pathlen += n;
    }
    c->path[c->pathlen] = '\0';
    return old;
}

size_t bs_path_key(bs_ctx *c, const char *key, size_t len)
{
    size_t old = c->pathlen;
    if (c->pathlen > 0)
        path_append(c, ".", 1);
    path_append(c, key, len);
    return old;
}

size_t bs_path_index(bs_ctx *c, lua_Integer i)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "[%ld]", (long)i);
    return path_append(c, tmp, (size_t)n);
}

void bs_report(bs_ctx *c, const char *fmt, ...)
{
    lua_State *L = c->L;
    char msg[512];
    va_list ap;

    c->nproblems++;
    if (c->nproblems > BS_MAX_PROBLEMS)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    if (lua_isnil(L, c->problems)) {     /* made at the first problem */
        lua_newtable(L);
        lua_replace(L, c->problems);
    }
    lua_createtable(L, 0, 2);
    lua_pushlstring(L, c->path, c->pathlen);
    lua_setfield(L, -2, "path");
    lua_pushstring(L, msg);
    lua_setfield(L, -2, "problem");
    lua_rawseti(L, c->problems, (int)bs_rawlen(L, c->problems) + 1);
}

/* ===================== limits ===================== */

void bs_limits_default(bs_ctx *c)
{
    c->max_values = (size_t)BS_DEFAULT_MAX_VALUES;
    c->max_bytes = (size_t)BS_DEFAULT_MAX_BYTES;
    c->nvalues = 0;
    c->next_check = 1;   /* the first value sets the real one */
    c->halted = 0;
    c->limit_reported = 0;
}

/* A size_t can hold the ceiling on 64-bit hosts; a 32-bit one gets less. */
static double ceiling(double want)
{
    double most = (double)((size_t)-1 / 4);
    return want < most ? want : most;
}

static size_t read_limit(lua_State *L, int idx, const char *name, size_t def, double hi)
{
    double v;
    lua_getfield(L, idx, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return def;
    }
    v = lua_type(L, -1) == LUA_TNUMBER ? (double)lua_tonumber(L, -1) : -1;
    lua_pop(L, 1);
    if (!(v >= 1 && v <= hi) || v != (double)(size_t)v) {
        lua_pushfstring(L, "limits.%s must be a whole number from 1 to %f", name, (lua_Number)hi);
        luaL_argerror(L, idx, lua_tostring(L, -1));
    }
    return (size_t)v;
}

void bs_limits_read(lua_State *L, int idx, bs_ctx *c)
{
    if (lua_isnoneornil(L, idx))
        return;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
        lua_pop(L, 1);
        /* The key is not echoed: it is the caller's text, maybe anything. */
        if (strcmp(k, "max_values") != 0 && strcmp(k, "max_bytes") != 0)
            luaL_argerror(L, idx, "limits may only hold max_values and max_bytes");
    }
    c->max_values = read_limit(L, idx, "max_values", c->max_values, ceiling(BS_CEILING_MAX_VALUES));
    c->max_bytes = read_limit(L, idx, "max_bytes", c->max_bytes, ceiling(BS_CEILING_MAX_BYTES));
}

int bs_limit_reached(bs_ctx *c, size_t extra)
{
    if (c->halted)
        return 1;
    if (c->nvalues > c->max_values)
        c->halted = BS_LIMIT_VALUES;
    else if (c->out && (c->out->len > c->max_bytes || extra > c->max_bytes - c->out->len))
        c->halted = BS_LIMIT_BYTES;
    if (c->halted) {
        c->next_check = 0;   /* every later visit comes here and stops */
        return 1;
    }
    c->next_check = c->max_values - c->nvalues < BS_CHECK_EVERY
                  ? c->max_values + 1 : c->nvalues + BS_CHECK_EVERY;
    return 0;
}

const char *bs_limit_text(bs_ctx *c, char *buf, size_t size)
{
    if (c->halted == BS_LIMIT_BYTES)
        snprintf(buf, size, "body is too large: more than %lu bytes of JSON (raise with max_bytes)",
                 (unsigned long)c->max_bytes);
    else
        snprintf(buf, size, "body is too large: more than %lu values visited (raise with max_values)",
                 (unsigned long)c->max_values);
    return buf;
}

int bs_is_array_marked(lua_State *L, int idx)
{
    int marked;
    if (!lua_getmetatable(L, idx))
        return 0;
    luaL_getmetatable(L, BS_ARRAY_MT);
    marked = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return marked;
}

/* ===================== encode / validate =====================
 * core.encode(body, version, strict, limits) -> json | nil, problems, count
 * core.validate(body, version, strict, limits) -> true | nil, problems, count
 * limits: nil or { max_values = n, max_bytes = n } (see core.LIMITS)
 * One scratch buffer per Lua state (upvalue 1) is reused between calls, so
 * encoding a body allocates nothing once the buffer has grown. */

static const bs_version *check_version(lua_State *L, int idx)
{
    const char *name = luaL_checkstring(L, idx);
    const bs_version *v = bs_schema_find(name);
    if (v == NULL)
        luaL_argerror(L, idx, "unsupported API version");
    return v;
}

static int walk_body(lua_State *L, int want_json)
{
    bs_ctx c;
    const bs_version *v = check_version(L, 2);
    int strict = lua_toboolean(L, 3);
    bs_buf *out = (bs_buf *)lua_touserdata(L, lua_upvalueindex(1));

    lua_settop(L, 4);
    memset(&c, 0, sizeof c);
    bs_limits_default(&c);
    bs_limits_read(L, 4, &c);
    c.L = L;
    c.strict = strict;
    c.out = want_json ? out : NULL;
    /* A valid body reports nothing: the problems table is made by the
     * first report. */
    lua_pushnil(L);
    c.problems = lua_gettop(L);
    if (c.out)
        bs_buf_reset(c.out);

    bs_schema_encode(&c, 1, v);

    if (c.nproblems > 0) {
        lua_pushnil(L);
        lua_pushvalue(L, c.problems);
        lua_pushinteger(L, c.nproblems);
        return 3;
    }
    if (want_json)
        lua_pushlstring(L, out->data, out->len);
    else
        lua_pushboolean(L, 1);
    return 1;
}

static int core_encode(lua_State *L)   { return walk_body(L, 1); }
static int core_validate(lua_State *L) { return walk_body(L, 0); }

/* core.encode_value(v, limits) -> json | nil, problems: any value, no schema. */
static int core_encode_value(lua_State *L)
{
    bs_ctx c;
    bs_buf *out = (bs_buf *)lua_touserdata(L, lua_upvalueindex(1));

    luaL_checkany(L, 1);
    lua_settop(L, 2);
    memset(&c, 0, sizeof c);
    bs_limits_default(&c);
    bs_limits_read(L, 2, &c);
    c.L = L;
    c.out = out;
    lua_pushnil(L);                      /* problems: made by the first report */
    c.problems = lua_gettop(L);
    bs_buf_reset(out);
    bs_json_value(&c, 1);
    if (c.nproblems > 0) {
        lua_pushnil(L);
        lua_pushvalue(L, c.problems);
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

/* core.schema(version) -> the field table of that version, as Lua data. */
static int core_schema(lua_State *L)
{
    bs_schema_push(L, check_version(L, 1));
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
    { "closest", bs_schema_closest },
    { NULL, NULL }
};

static const luaL_Reg core_buffered_functions[] = {
    { "encode",       core_encode },
    { "validate",     core_validate },
    { "encode_value", core_encode_value },
    { NULL, NULL }
};

int luaopen_bulksync_core(lua_State *L);

int luaopen_bulksync_core(lua_State *L)
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

    /* The scratch buffer is shared by the encoders through an upvalue:
     * no C global, so two Lua states never share it. */
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

    /* core.LIMITS: the defaults, and the ceilings a call may raise them to. */
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, (lua_Integer)BS_DEFAULT_MAX_VALUES);
    lua_setfield(L, -2, "max_values");
    lua_pushinteger(L, (lua_Integer)BS_DEFAULT_MAX_BYTES);
    lua_setfield(L, -2, "max_bytes");
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, (lua_Integer)ceiling(BS_CEILING_MAX_VALUES));
    lua_setfield(L, -2, "max_values");
    lua_pushinteger(L, (lua_Integer)ceiling(BS_CEILING_MAX_BYTES));
    lua_setfield(L, -2, "max_bytes");
    lua_setfield(L, -2, "ceiling");
    lua_setfield(L, -2, "LIMITS");

    lua_pushliteral(L, BS_MODULE_VERSION);
    lua_setfield(L, -2, "_VERSION");
    lua_pushboolean(L, BS_HAVE_INTEGER);   /* a boolean: 0 would be true in Lua */
    lua_setfield(L, -2, "HAVE_INTEGER");
    return 1;
}
