/*
 * walk.c: the walk context shared by the validator, the encoder and the
 * JSON writer: path segments, problem reporting and the limits of one walk.
 *
 * Copyright (c) lua-bulksync developers. MIT licence (see README.md).
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "walk.h"

#define BS_P_NAME_(name, text) text,
const char *const bs_problem_names[BS_P_COUNT] = { BS_PROBLEM_CODES(BS_P_NAME_) };
#undef BS_P_NAME_

void bs_walk_init(bs_walk *w, lua_State *L, bs_buf *out)
{
    memset(w, 0, sizeof *w);
    w->L = L;
    w->out = out;
    w->max_values = (size_t)BS_DEFAULT_MAX_VALUES;
    w->max_bytes = (size_t)BS_DEFAULT_MAX_BYTES;
    w->next_check = 1;   /* the first value sets the real one */
    w->limit_nseg = -1;
    if (out)
        bs_buf_reset(out);
    /* A valid body reports nothing: the list is made by the first report. */
    lua_pushnil(L);
    w->problems = lua_gettop(L);
}

/* ===================== paths ===================== */

static size_t path_add(char *buf, size_t n, const char *s, size_t len)
{
    if (n + len >= BS_PATH_MAX - 4) {
        /* A path this long is already unreadable: mark it cut. */
        if (n < BS_PATH_MAX - 4) {
            memcpy(buf + n, "...", 3);
            n += 3;
        }
        return n;
    }
    memcpy(buf + n, s, len);
    return n + len;
}

size_t bs_path_spell(const bs_walk *w, char *buf)
{
    int i, nseg = w->nseg < BS_SEG_MAX ? w->nseg : BS_SEG_MAX;
    size_t n = 0;
    for (i = 0; i < nseg; i++) {
        const bs_seg *s = &w->seg[i];
        if (s->key) {
            if (n > 0)
                n = path_add(buf, n, ".", 1);
            n = path_add(buf, n, s->key, s->len);
        } else {
            char tmp[32];
            int k = snprintf(tmp, sizeof tmp, "[%ld]", (long)s->index);
            n = path_add(buf, n, tmp, (size_t)k);
        }
    }
    buf[n] = '\0';
    return n;
}

/* ===================== problems ===================== */

void bs_report(bs_walk *w, bs_problem code, const char *fmt, ...)
{
    lua_State *L = w->L;
    char msg[512], path[BS_PATH_MAX];
    size_t plen;
    va_list ap;

    w->nproblems++;
    if (w->nproblems > BS_MAX_PROBLEMS) {
        w->stop |= BS_STOP_FULL;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    plen = bs_path_spell(w, path);

    if (lua_isnil(L, w->problems)) {
        lua_newtable(L);
        lua_replace(L, w->problems);
    }
    lua_createtable(L, 0, 3);
    lua_pushlstring(L, path, plen);
    lua_setfield(L, -2, "path");
    lua_pushstring(L, msg);
    lua_setfield(L, -2, "problem");
    lua_pushstring(L, bs_problem_names[code]);
    lua_setfield(L, -2, "code");
    lua_rawseti(L, w->problems, w->nproblems);
}

void bs_report_rollback(bs_walk *w, int keep)
{
    int k;
    for (k = keep + 1; k <= w->nproblems && k <= BS_MAX_PROBLEMS; k++) {
        lua_pushnil(w->L);
        lua_rawseti(w->L, w->problems, k);
    }
    w->nproblems = keep;
    if (keep <= BS_MAX_PROBLEMS)
        w->stop &= ~BS_STOP_FULL;
}

/* ===================== limits ===================== */

double bs_limit_ceiling(double want)
{
    double most = (double)((size_t)-1 / 4);
    return want < most ? want : most;
}

static size_t read_limit(lua_State *L, int idx, const char *name, size_t def, double hi)
{
    double v;
    lua_getfield(L, idx, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return def;
    }
    v = lua_type(L, -1) == LUA_TNUMBER ? (double)lua_tonumber(L, -1) : -1;
    lua_pop(L, 1);
    if (!(v >= 1 && v <= hi) || v != (double)(size_t)v) {
        lua_pushfstring(L, "limits.%s must be a whole number from 1 to %f", name, (lua_Number)hi);
        luaL_argerror(L, idx, lua_tostring(L, -1));
    }
    return (size_t)v;
}

void bs_walk_limits(bs_walk *w, int idx)
{
    lua_State *L = w->L;
    if (lua_isnoneornil(L, idx))
        return;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
        lua_pop(L, 1);
        /* The key is not echoed: it is the caller's text, maybe anything. */
        if (strcmp(k, "max_values") != 0 && strcmp(k, "max_bytes") != 0)
            luaL_argerror(L, idx, "limits may only hold max_values and max_bytes");
    }
    w->max_values = read_limit(L, idx, "max_values", w->max_values,
                               bs_limit_ceiling(BS_CEILING_MAX_VALUES));
    w->max_bytes = read_limit(L, idx, "max_bytes", w->max_bytes,
                              bs_limit_ceiling(BS_CEILING_MAX_BYTES));
}

int bs_limit_reached(bs_walk *w, size_t extra)
{
    if (w->halted)
        return 1;
    if (w->nvalues > w->max_values)
        w->halted = BS_LIMIT_VALUES;
    else if (w->out && (w->out->len > w->max_bytes || extra > w->max_bytes - w->out->len))
        w->halted = BS_LIMIT_BYTES;
    if (w->halted) {
        w->stop |= BS_STOP_LIMIT;
        w->next_check = 0;   /* every later visit comes here and stops */
        return 1;
    }
    w->next_check = w->max_values - w->nvalues < BS_CHECK_EVERY
                  ? w->max_values + 1 : w->nvalues + BS_CHECK_EVERY;
    return 0;
}

void bs_limit_stop(bs_walk *w)
{
    int nseg = w->nseg;
    if (w->limit_reported)
        return;
    w->limit_reported = 1;
    if (w->limit_nseg >= 0 && w->limit_nseg < nseg)
        w->nseg = w->limit_nseg;
    if (w->halted == BS_LIMIT_BYTES)
        bs_report(w, BS_P_LIMIT, "body is too large: more than %lu bytes of JSON (raise with max_bytes)",
                  (unsigned long)w->max_bytes);
    else
        bs_report(w, BS_P_LIMIT, "body is too large: more than %lu values visited (raise with max_values)",
                  (unsigned long)w->max_values);
    w->nseg = nseg;
}

int bs_is_array_marked(lua_State *L, int idx)
{
    int marked;
    if (!lua_getmetatable(L, idx))
        return 0;
    luaL_getmetatable(L, BS_ARRAY_MT);
    marked = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return marked;
}
