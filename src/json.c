/* STUB: replaced by the JSON implementation. */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "bulksync.h"
static int buf_gc(lua_State *L) { bs_buf_free((bs_buf *)lua_touserdata(L, 1)); return 0; }
bs_buf *bs_buf_push(lua_State *L) {
    bs_buf *b = (bs_buf *)bs_newudata(L, sizeof *b);
    memset(b, 0, sizeof *b);
    if (luaL_newmetatable(L, BS_BUF_MT)) { lua_pushcfunction(L, buf_gc); lua_setfield(L, -2, "__gc"); }
    lua_setmetatable(L, -2);
    return b;
}
void bs_buf_reserve(lua_State *L, bs_buf *b, size_t extra) {
    if (b->len + extra > b->cap) {
        size_t cap = b->cap ? b->cap : 256; char *p;
        while (cap < b->len + extra) cap *= 2;
        p = (char *)realloc(b->data, cap);
        if (!p) luaL_error(L, "out of memory");
        b->data = p; b->cap = cap;
    }
}
void bs_buf_add(lua_State *L, bs_buf *b, const char *s, size_t n) { bs_buf_reserve(L, b, n); memcpy(b->data + b->len, s, n); b->len += n; }
void bs_buf_addchar(lua_State *L, bs_buf *b, char ch) { bs_buf_add(L, b, &ch, 1); }
void bs_buf_free(bs_buf *b) { free(b->data); b->data = NULL; b->len = b->cap = 0; }
int bs_json_string(bs_ctx *c, const char *s, size_t len) { (void)c; (void)s; (void)len; return 1; }
int bs_json_number(bs_ctx *c, int idx) { (void)c; (void)idx; return 1; }
int bs_json_value(bs_ctx *c, int idx) { (void)c; (void)idx; return 1; }
int bs_json_decode(lua_State *L, const char *s, size_t len, char *err, size_t errlen) { (void)L; (void)s; (void)len; snprintf(err, errlen, "stub"); return 0; }
