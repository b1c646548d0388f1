/*
 * buffer.h: the one growable byte buffer of lua-bulksync (the bottom layer).
 *
 * The checks that run for every byte written are static inline, so a write
 * into a buffer with room is a compare and a store; only growing is out of
 * line (buffer.c). A buffer lives inside a Lua userdata whose __gc frees
 * its memory, so the out-of-memory error that growing may raise never
 * leaks it, and nothing else here raises.
 */
#ifndef BULKSYNC_BUFFER_H
#define BULKSYNC_BUFFER_H

#include <string.h>

#include "bulksync.h"

typedef struct bs_buf {
    char  *data;
    size_t len, cap;
} bs_buf;

/* Pushes a new empty buffer's owning userdata and returns the buffer. */
BS_INTERNAL bs_buf *bs_buf_push(lua_State *L);
/* Makes room for extra more bytes; raises on out-of-memory. */
BS_INTERNAL void bs_buf_grow(lua_State *L, bs_buf *b, size_t extra);
/* Frees the memory now rather than at the next collection; idempotent. */
BS_INTERNAL void bs_buf_free(bs_buf *b);

static inline void bs_buf_reserve(lua_State *L, bs_buf *b, size_t extra)
{
    if (extra > b->cap - b->len)
        bs_buf_grow(L, b, extra);
}

static inline void bs_buf_putc(lua_State *L, bs_buf *b, char ch)
{
    if (b->len == b->cap)
        bs_buf_grow(L, b, 1);
    b->data[b->len++] = ch;
}

static inline void bs_buf_add(lua_State *L, bs_buf *b, const char *s, size_t n)
{
    bs_buf_reserve(L, b, n);
    if (n > 0)
        memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* Where the next byte goes: the caller reserved the room first. */
static inline char *bs_buf_end(bs_buf *b) { return b->data + b->len; }

static inline void bs_buf_reset(bs_buf *b) { b->len = 0; }

/* A literal's length is a constant, so its copy compiles to a move or two. */
#define bs_buf_addlit(L, b, s) bs_buf_add((L), (b), "" s, sizeof(s) - 1)

#endif /* BULKSYNC_BUFFER_H */
