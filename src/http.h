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

/* The body buffer of the handle at idx, for the bindings to encode into,
 * and the number that names what is encoded there: perform(..., body =
 * that number) sends the buffer. begin raises if the handle is closed and
 * marks it busy (a finalizer that closes it meanwhile waits); end clears
 * that, and forgets the contents when the encoding failed. An error raised
 * between the two leaves the handle refusing further use, as perform does. */
#include "buffer.h"
BS_INTERNAL bs_buf *bs_http_body_begin(lua_State *L, int idx, lua_Integer *token);
BS_INTERNAL void    bs_http_body_end(lua_State *L, int idx, int ok);

#endif /* BULKSYNC_HTTP_H */
