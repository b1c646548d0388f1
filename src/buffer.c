/*
 * buffer.c: the out-of-line half of the byte buffer (see buffer.h).
 */

#include <stdlib.h>

#include "buffer.h"

#define BUF_MT        "bulksync.buffer"
#define BUF_MIN_CAP   256

static int buf_gc(lua_State *L)
{
    bs_buf_free((bs_buf *)lua_touserdata(L, 1));
    return 0;
}

bs_buf *bs_buf_push(lua_State *L)
{
    bs_buf *b = (bs_buf *)bs_newudata(L, sizeof *b);
    b->data = NULL;
    b->len = b->cap = 0;
    if (luaL_newmetatable(L, BUF_MT)) {
        lua_pushcfunction(L, buf_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return b;
}

void bs_buf_grow(lua_State *L, bs_buf *b, size_t extra)
{
    size_t need, cap;
    char *p;
    if (extra <= b->cap - b->len)
        return;
    if (extra > ((size_t)-1) / 2 - b->len)
        luaL_error(L, "not enough memory (JSON text too large)");
    need = b->len + extra;
    cap = b->cap ? b->cap : BUF_MIN_CAP;
    while (cap < need)
        cap *= 2;
    p = (char *)realloc(b->data, cap);
    if (p == NULL)
        luaL_error(L, "not enough memory");
    b->data = p;
    b->cap = cap;
}

void bs_buf_free(bs_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
