/*
 * http.h: the libcurl client behind core.http, and its limits.
 */
#ifndef BULKSYNC_HTTP_H
#define BULKSYNC_HTTP_H

#include <stdint.h>

#include "bulksync.h"

/* Options of core.http: default, smallest and largest values. core.LIMITS
 * exports them, so the Lua layer checks options against the same numbers. */
#define BS_HTTP_TIMEOUT_DEFAULT          60.0                  /* seconds, whole exchange */
#define BS_HTTP_CONNECT_TIMEOUT_DEFAULT  10.0                  /* seconds */
#define BS_HTTP_SECONDS_MIN              0.001
#define BS_HTTP_SECONDS_MAX              2000000.0  /* keeps milliseconds inside a 32-bit long */
#define BS_HTTP_MAX_RESPONSE_DEFAULT     (16.0 * 1024 * 1024)  /* bytes of body */
#define BS_HTTP_MAX_RESPONSE_MIN         1.0
/* 4 GiB - 1, or less where a size_t is smaller. */
#define BS_HTTP_MAX_RESPONSE_MAX \
    ((double)(SIZE_MAX / 2) < 4294967295.0 ? (double)(SIZE_MAX / 2) : 4294967295.0)

BS_INTERNAL void bs_http_register(lua_State *L);   /* creates the BS_HTTP_MT metatable */
BS_INTERNAL int  bs_http_new(lua_State *L);        /* core.http(options) -> handle */
BS_INTERNAL int  bs_http_getdate(lua_State *L);    /* core.getdate(text) -> epoch seconds | nil */

#endif /* BULKSYNC_HTTP_H */
