/*
 * harness.h: what the libFuzzer harnesses share. Each input runs in a
 * fresh Lua 5.4 state with a capped allocator, so a leak or a runaway
 * allocation is pinned on the input that caused it.
 */
#ifndef FUZZ_HARNESS_H
#define FUZZ_HARNESS_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua.h"
#include "lauxlib.h"
#include "lualib.h"

int luaopen_bulksync_core(lua_State *L);

#define FUZZ_MEMORY_CAP (256u * 1024u * 1024u)

typedef struct fuzz_heap {
    size_t used;
} fuzz_heap;

/* The normal allocator, refusing past the cap: the module must turn that
 * into a Lua error, never a crash. */
static void *fuzz_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    fuzz_heap *h = (fuzz_heap *)ud;
    size_t old = ptr ? osize : 0;
    void *p;
    if (nsize == 0) {
        free(ptr);
        h->used -= old;
        return NULL;
    }
    if (nsize > old && h->used - old + nsize > FUZZ_MEMORY_CAP)
        return NULL;
    p = realloc(ptr, nsize);
    if (p != NULL)
        h->used = h->used - old + nsize;
    return p;
}

/* A state with the module loaded as global `core`; NULL if that failed. */
static lua_State *fuzz_state(fuzz_heap *heap)
{
    lua_State *L;
    heap->used = 0;
    L = lua_newstate(fuzz_alloc, heap);
    if (L == NULL)
        return NULL;
    luaL_requiref(L, "_G", luaopen_base, 1);
    lua_pop(L, 1);
    lua_pushcfunction(L, luaopen_bulksync_core);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        lua_close(L);
        return NULL;
    }
    lua_setglobal(L, "core");
    return L;
}

/* Pushes core[name]. */
static void fuzz_core(lua_State *L, const char *name)
{
    lua_getglobal(L, "core");
    lua_getfield(L, -1, name);
    lua_remove(L, -2);
}

/* Whether an error message on top is only "out of memory" (allowed: the
 * cap is part of the test) and not a bug. */
static int fuzz_is_oom(lua_State *L)
{
    const char *m = lua_tostring(L, -1);
    return m != NULL && strstr(m, "not enough memory") != NULL;
}

static void fuzz_fail(lua_State *L, const char *what)
{
    const char *m = lua_gettop(L) > 0 ? lua_tostring(L, -1) : NULL;
    fprintf(stderr, "fuzz: %s%s%s\n", what, m ? ": " : "", m ? m : "");
    abort();
}

/* Deep equality: same types, equal numbers, same keys and values,
 * and (unless loose) the same array marks. loose compares a Lua value with
 * what its JSON reads back as: marks are then the reader's to choose, and
 * nil reads back as null. */
static int fuzz_equal(lua_State *L, int a, int b, int depth, int loose)
{
    int t = lua_type(L, a), ok = 1;
    if (loose && t == LUA_TNIL)
        return lua_type(L, b) == LUA_TLIGHTUSERDATA && lua_touserdata(L, b) == NULL;
    if (t != lua_type(L, b) || depth > 200)
        return 0;
    a = lua_absindex(L, a);
    b = lua_absindex(L, b);
    switch (t) {
    case LUA_TNUMBER:
        /* By value: an integral float is written as an integer and reads
         * back as one (documented), so subtypes may differ; Lua 5.4
         * compares integers and floats exactly. -0.0 must keep its sign. */
        if (!lua_compare(L, a, b, LUA_OPEQ))
            return 0;
        if (!lua_isinteger(L, a) && !lua_isinteger(L, b) && lua_tonumber(L, a) == 0)
            return !signbit(lua_tonumber(L, a)) == !signbit(lua_tonumber(L, b));
        return 1;
    case LUA_TTABLE: {
        int ma = lua_getmetatable(L, a), mb;
        if (ma)
            lua_pop(L, 1);
        mb = lua_getmetatable(L, b);
        if (mb)
            lua_pop(L, 1);
        if (ma != mb && !loose)
            return 0;
        if (!lua_checkstack(L, 8))
            return 0;
        lua_pushnil(L);
        while (ok && lua_next(L, a)) {
            lua_pushvalue(L, -2);
            lua_rawget(L, b);
            ok = !lua_isnil(L, -1) && fuzz_equal(L, -2, -1, depth + 1, loose);
            lua_pop(L, 2);
        }
        if (!ok) {
            lua_pop(L, 1);
            return 0;
        }
        /* and b has no key a lacks */
        lua_pushnil(L);
        while (ok && lua_next(L, b)) {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            lua_rawget(L, a);
            ok = !lua_isnil(L, -1);
            lua_pop(L, 1);
        }
        if (!ok)
            lua_pop(L, 1);
        return ok;
    }
    default:
        return lua_rawequal(L, a, b);
    }
}

/* One input: run(data, size) in a fresh state under pcall; only running
 * out of the capped heap may end it with an error. */
static int fuzz_one(lua_CFunction run, const uint8_t *data, size_t size, const char *what)
{
    fuzz_heap heap;
    lua_State *L = fuzz_state(&heap);
    if (L == NULL)
        abort();
    lua_pushcfunction(L, run);
    lua_pushlightuserdata(L, (void *)data);
    lua_pushinteger(L, (lua_Integer)size);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK && !fuzz_is_oom(L))
        fuzz_fail(L, what);
    lua_close(L);
    return 0;
}

#endif
