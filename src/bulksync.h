/*
 * bulksync.h: what the C files of lua-bulksync share. Everything here is
 * internal; the only exported symbol of the module is luaopen_bulksync_core.
 */
#ifndef BULKSYNC_H
#define BULKSYNC_H

#include <stddef.h>
#include <stdarg.h>

#include "lua.h"
#include "lauxlib.h"
#include "compat.h"

#define BS_MODULE_VERSION   "0.1.0"

#define BS_MAX_DEPTH        64     /* nesting allowed in a body or a response */
#define BS_PATH_MAX         256    /* longest field path kept for messages */
#define BS_MAX_PROBLEMS     100    /* problems reported before validation stops */

/* Registry keys. */
#define BS_ARRAY_MT         "bulksync.array"   /* marks a table as a JSON array */
#define BS_BUF_MT           "bulksync.buffer"
#define BS_HTTP_MT          "bulksync.http"

/* ===================== byte buffer (src/json.c) =====================
 * Growable bytes owned by a Lua userdata: its __gc frees the memory, so a
 * Lua error raised while it grows (out of memory) never leaks it. */
typedef struct bs_buf {
    char  *data;
    size_t len, cap;
} bs_buf;

bs_buf *bs_buf_push(lua_State *L);                 /* pushes the owning userdata */
void    bs_buf_reserve(lua_State *L, bs_buf *b, size_t extra);   /* raises on OOM */
void    bs_buf_add(lua_State *L, bs_buf *b, const char *s, size_t n);
void    bs_buf_addchar(lua_State *L, bs_buf *b, char ch);
void    bs_buf_free(bs_buf *b);                    /* idempotent */
#define bs_buf_reset(b)      ((b)->len = 0)
#define bs_buf_addlit(L, b, s) bs_buf_add((L), (b), "" s, sizeof(s) - 1)

/* ===================== walk context =====================
 * One walk over a body: validation and encoding happen in the same pass.
 * Problems are collected, never raised, so every one of them is reported
 * and nothing half-built is left unowned. */
typedef struct bs_ctx {
    lua_State *L;
    bs_buf    *out;        /* JSON is appended here; NULL to only validate */
    int        problems;   /* absolute index of the list of {path=, problem=} */
    int        nproblems;
    int        depth;
    int        strict;     /* also report every omitted optional field */
    size_t     pathlen;
    char       path[BS_PATH_MAX];
} bs_ctx;

/* Path helpers: each returns the previous length for bs_path_restore.
 * Keys join with "." (none at the root), indexes print 1-based: a[2].b */
size_t bs_path_key(bs_ctx *c, const char *key, size_t len);
size_t bs_path_index(bs_ctx *c, lua_Integer i);
#define bs_path_restore(c, n) ((c)->pathlen = (n), (c)->path[(n)] = '\0')

/* Appends { path = <current path>, problem = <formatted text> }. */
void bs_report(bs_ctx *c, const char *fmt, ...);

/* True for bulksync.null (a NULL light userdata, like cjson.null/ngx.null). */
#define bs_isnull(L, i) (lua_type((L), (i)) == LUA_TLIGHTUSERDATA && lua_touserdata((L), (i)) == NULL)
int bs_is_array_marked(lua_State *L, int idx);

/* ===================== JSON (src/json.c) ===================== */
/* Writes s as a JSON string; reports (and writes nothing) if not valid UTF-8. */
int  bs_json_string(bs_ctx *c, const char *s, size_t len);
/* Writes the number at idx: integers exactly, floats so they round-trip;
 * NaN and infinities are reported. */
int  bs_json_number(bs_ctx *c, int idx);
/* Writes any free-form value (destination_configuration, filter values). */
int  bs_json_value(bs_ctx *c, int idx);
/* Parses s and pushes the value: null -> bulksync.null, arrays carry the
 * array marker, integers are Lua integers where the Lua has them. Returns 1;
 * on bad input pushes nothing, writes a message with the byte offset into
 * err and returns 0. Raises only on out-of-memory. */
int  bs_json_decode(lua_State *L, const char *s, size_t len, char *err, size_t errlen);

/* ===================== schema (src/schema.c) ===================== */
typedef struct bs_version bs_version;
const bs_version   *bs_schema_find(const char *name);   /* NULL if unsupported */
const char *const  *bs_schema_versions(void);           /* NULL-terminated, newest first */
/* Validates the body at idx against v and, when c->out is set, writes its JSON. */
void bs_schema_encode(bs_ctx *c, int idx, const bs_version *v);
/* Pushes v's field table as Lua data (for diffing, to_update and docs). */
void bs_schema_push(lua_State *L, const bs_version *v);

/* ===================== HTTP (src/http.c) ===================== */
void bs_http_register(lua_State *L);   /* creates the BS_HTTP_MT metatable */
int  bs_http_new(lua_State *L);        /* core.http(options) -> handle */
int  bs_http_getdate(lua_State *L);    /* core.getdate(text) -> epoch seconds | nil */

#endif /* BULKSYNC_H */
