/*
 * bulksync.h: what every C file of lua-bulksync shares: the Lua headers,
 * the module-wide constants and the visibility markers.
 *
 * The layers, each using only those below it:
 *
 *   lua_bulksync.c                   bindings: the bulksync.core table
 *   schema.c   json.c   http.c       descriptors and walker, JSON, libcurl
 *   walk.c                           walk context, path, problems, limits
 *   buffer.c                         the byte buffer
 *
 * Only luaopen_bulksync_core is exported from core.so (BS_EXPORT); every
 * function shared between files is marked BS_INTERNAL, hidden even when the
 * build does not pass -fvisibility=hidden.
 */
#ifndef BULKSYNC_H
#define BULKSYNC_H

#include <stddef.h>

#include "lua.h"
#include "lauxlib.h"
#include "compat.h"

#if defined(__GNUC__) && __GNUC__ >= 4
#  define BS_EXPORT    __attribute__((visibility("default")))
#  define BS_INTERNAL  __attribute__((visibility("hidden")))
#  define BS_NOINLINE  __attribute__((noinline))   /* keeps a cold path out of a hot loop */
#else
#  define BS_NOINLINE
#  define BS_EXPORT
#  define BS_INTERNAL
#endif

#define BS_MODULE_VERSION   "0.2.0"

#define BS_MAX_DEPTH        64     /* nesting allowed in a body or a response */

/* Registry keys. */
#define BS_ARRAY_MT         "bulksync.array"   /* marks a table as a JSON array */
#define BS_HTTP_MT          "bulksync.http"

/* True for bulksync.null (a NULL light userdata, like cjson.null/ngx.null). */
#define bs_isnull(L, i) (lua_type((L), (i)) == LUA_TLIGHTUSERDATA && lua_touserdata((L), (i)) == NULL)

#endif /* BULKSYNC_H */
