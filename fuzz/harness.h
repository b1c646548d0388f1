/*
 * harness.h: what the libFuzzer harnesses share. One Lua 5.4 state, with a
 * capped allocator, serves every input: making a state and loading the
 * module cost more than most inputs. After each input the stack is
 * emptied, what the input changed in the globals, the registry and the
 * module table is put back, and a full collection frees all it made.
 *
 * What the module keeps per state is either made before the snapshot and
 * kept (the schema index, built once and never changed; the encoders'
 * scratch buffer, which only grows) or made by the input and dropped with
 * its registry entry (the decoder's string cache). Kept, the string cache
 * would make each input's decoding depend on the inputs before it, and its
 * slots filling up would look like a leak to libFuzzer (more mallocs than
 * frees in one input). Even so Lua's own bookkeeping (call frames, the
 * string table) grows and shrinks by a few bytes between inputs, so
 * fuzz/run.sh turns off libFuzzer's per-input leak guess (-detect_leaks=0),
 * which would re-run such inputs under a full leak scan; the state is
 * closed at exit and LeakSanitizer's check then still runs.
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

/* FUZZ_SHOW=1 prints what an input builds or decodes (see fuzz/run.sh). */
static int fuzz_show;

/* The snapshots fuzz_reset restores, as registry references: the integer
 * keys are the ones the restore leaves alone. */
static int fuzz_snap_globals, fuzz_snap_registry, fuzz_snap_core;

/* A shallow copy of the table at idx, with only non-integer keys when
 * skip_int (the registry's integer keys are references and the main
 * thread). */
static int fuzz_snapshot(lua_State *L, int idx, int skip_int)
{
    idx = lua_absindex(L, idx);
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (skip_int && lua_isinteger(L, -2)) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Makes the table at idx hold exactly what the snapshot ref holds. */
static void fuzz_restore(lua_State *L, int idx, int ref, int skip_int)
{
    int snap;
    idx = lua_absindex(L, idx);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    snap = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, idx)) {          /* drop or put back what changed */
        if (!(skip_int && lua_isinteger(L, -2))) {
            lua_pushvalue(L, -2);
            lua_rawget(L, snap);
            if (!lua_rawequal(L, -1, -2)) {
                lua_pushvalue(L, -3);
                lua_insert(L, -2);
                lua_rawset(L, idx);     /* assigning an existing key: next() goes on */
            } else {
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    while (lua_next(L, snap)) {         /* and what was removed */
        lua_pushvalue(L, -2);
        lua_rawget(L, idx);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, idx);
        } else {
            lua_pop(L, 2);
        }
    }
    lua_pop(L, 1);
}

static void fuzz_reset(lua_State *L)
{
    lua_settop(L, 0);
    lua_pushglobaltable(L);
    fuzz_restore(L, -1, fuzz_snap_globals, 0);
    lua_getfield(L, -1, "core");
    fuzz_restore(L, -1, fuzz_snap_core, 0);
    lua_settop(L, 0);
    lua_pushvalue(L, LUA_REGISTRYINDEX);
    fuzz_restore(L, -1, fuzz_snap_registry, 1);
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
}

static lua_State *fuzz_L;

/* At exit the state is closed, so every finalizer runs and LeakSanitizer's
 * check at exit sees whatever the module malloc'd and failed to free. */
static void fuzz_close(void)
{
    if (fuzz_L != NULL)
        lua_close(fuzz_L);
    fuzz_L = NULL;
}

/* The shared state: the module as global `core`, then setup(L) (the
 * harness's own globals, and a first call of everything it uses, so the
 * module's lazily made caches exist before the snapshot). */
static lua_State *fuzz_state(lua_CFunction setup)
{
    static fuzz_heap heap;
    lua_State *L = fuzz_L;
    if (L != NULL)
        return L;
    fuzz_show = getenv("FUZZ_SHOW") != NULL && *getenv("FUZZ_SHOW") != '\0'
                && strcmp(getenv("FUZZ_SHOW"), "0") != 0;
    heap.used = 0;
    L = lua_newstate(fuzz_alloc, &heap);
    if (L == NULL)
        abort();
    luaL_requiref(L, "_G", luaopen_base, 1);
    lua_pop(L, 1);
    lua_pushcfunction(L, luaopen_bulksync_core);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK)
        fuzz_fail(L, "loading the module");
    lua_setglobal(L, "core");
    lua_pushcfunction(L, setup);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK)
        fuzz_fail(L, "harness setup");
    lua_pushglobaltable(L);
    fuzz_snap_globals = fuzz_snapshot(L, -1, 0);
    lua_getfield(L, -1, "core");
    fuzz_snap_core = fuzz_snapshot(L, -1, 0);
    lua_settop(L, 0);
    fuzz_snap_registry = fuzz_snapshot(L, LUA_REGISTRYINDEX, 1);
    lua_gc(L, LUA_GCCOLLECT, 0);
    fuzz_L = L;
    atexit(fuzz_close);
    return L;
}

/* One input: run(data, size) under pcall in the shared state; only running
 * out of the capped heap may end it with an error. */
static int fuzz_one(lua_CFunction setup, lua_CFunction run, const uint8_t *data, size_t size,
                    const char *what)
{
    lua_State *L = fuzz_state(setup);
    lua_pushcfunction(L, run);
    lua_pushlightuserdata(L, (void *)data);
    lua_pushinteger(L, (lua_Integer)size);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        if (!fuzz_is_oom(L))
            fuzz_fail(L, what);
        /* the restore may need memory: free the input's first */
        lua_settop(L, 0);
        lua_gc(L, LUA_GCCOLLECT, 0);
    }
    fuzz_reset(L);
    return 0;
}

#endif
