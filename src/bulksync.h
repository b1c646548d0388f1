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

/* The work one body may cost. A table may be reused (shared) anywhere in a
 * body, so a few dozen small tables can stand for 2^40 values: the walk is
 * bounded by values visited and bytes written, not by the tables' size.
 * The defaults are well above any real sync (the 3,000-schema benchmark
 * body is about 81,000 values and 1.1 MB) and still stop a hostile one
 * within tens of milliseconds; a call can raise them up to the ceilings. */
#define BS_DEFAULT_MAX_VALUES   500000.0
#define BS_DEFAULT_MAX_BYTES    (64.0 * 1024 * 1024)
#define BS_CEILING_MAX_VALUES   1000000000.0
#define BS_CEILING_MAX_BYTES    (4.0 * 1024 * 1024 * 1024)
#define BS_CHECK_EVERY          256    /* values between two looks at the output size */
#define BS_CHECK_BYTES          4096   /* a string this long is looked at on its own */
#define BS_OPEN_SLOTS           128    /* power of two, twice BS_MAX_DEPTH */

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
    /* Limits (see BS_DEFAULT_MAX_VALUES): each value visited counts one;
     * the output size is looked at when the count reaches next_check and
     * for every long string. */
    size_t     nvalues, next_check, max_values, max_bytes;
    int        halted;     /* 0, or which limit stopped the walk (BS_LIMIT_*) */
    int        limit_reported;
    /* The free-form tables being walked (at most BS_MAX_DEPTH), by address:
     * a hash set with linear probing, emptied in the order it was filled,
     * so finding a cycle costs one probe, not a look at every ancestor. */
    const void *open_tables[BS_OPEN_SLOTS];
    size_t     pathlen;
    char       path[BS_PATH_MAX];
} bs_ctx;

/* Path helpers: each returns the previous length for bs_path_restore.
 * Keys join with "." (none at the root), indexes print 1-based: a[2].b */
size_t bs_path_key(bs_ctx *c, const char *key, size_t len);
size_t bs_path_index(bs_ctx *c, lua_Integer i);
#define bs_path_restore(c, n) ((c)->pathlen = (n), (c)->path[(n)] = '\0')

enum { BS_LIMIT_VALUES = 1, BS_LIMIT_BYTES = 2 };

/* Sets the limits to their defaults; the walk starts from zero. */
void bs_limits_default(bs_ctx *c);
/* Reads an optional { max_values =, max_bytes = } table at idx into c;
 * raises an argument error for anything else. */
void bs_limits_read(lua_State *L, int idx, bs_ctx *c);
/* The slow half of the limit checks: true when the walk must stop (then
 * c->halted says why). extra: bytes about to be written. */
int  bs_limit_reached(bs_ctx *c, size_t extra);
/* The problem text for c->halted. */
const char *bs_limit_text(bs_ctx *c, char *buf, size_t size);
/* Counts one value: true when the walk must stop. A counter increment and
 * a compare on the usual path. */
#define BS_COUNT(c) (++(c)->nvalues >= (c)->next_check && bs_limit_reached((c), 0))
/* Before writing a string of n bytes: true when the walk must stop. */
#define BS_BIG(c, n) ((n) >= BS_CHECK_BYTES && bs_limit_reached((c), (n)))

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
int  bs_schema_closest(lua_State *L);  /* core.closest(name, list) -> nearest | nil */

#endif /* BULKSYNC_H */
