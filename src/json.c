/*
 * json.c: the JSON writer shared by the schema walker and
 * core.encode_value, and the strict (RFC 8259) JSON reader behind
 * core.decode.
 *
 * Both directions scan raw pointers and copy runs of plain bytes at once:
 * they sit on the hot path of every request and response. Neither ever
 * runs Lua code (raw table access only), and the only error either may
 * raise is out-of-memory, at a moment when every byte we allocated is
 * owned by a Lua userdata.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>

#include "json.h"

#define TWO_POW_53  9007199254740992.0
#define TWO_POW_63  9223372036854775808.0

/* Exact powers of ten: every one up to 1e22 is a double without rounding. */
static const double pow10_exact[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

/* ===================== UTF-8 ===================== */

/* Byte classes shared by writer and reader: 0 is copied as is, 1 needs
 * attention (control character, '"' or '\\'), 2 starts a multi-byte
 * UTF-8 sequence (or is an invalid byte). */
#define C1 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1
#define C0 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0
#define C2 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2
static const unsigned char byte_class[256] = {
    C1, C1,                                 /* 0x00-0x1f control characters */
    0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,        /* 0x22 '"' */
    C0, C0,
    0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,        /* 0x5c '\\' */
    C0, C0,
    C2, C2, C2, C2, C2, C2, C2, C2          /* 0x80-0xff */
};
#undef C0
#undef C1
#undef C2

/* Length of the well-formed UTF-8 sequence at p (first byte >= 0x80), or
 * 0: rejects stray continuation bytes, overlong forms, surrogates, code
 * points above U+10FFFF and sequences cut short by e. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *e)
{
    unsigned c = p[0];
    size_t left = (size_t)(e - p);
    unsigned lo = 0x80, hi = 0xBF;

    if (c < 0xC2)
        return 0;
    if (c < 0xE0)
        return (left >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c < 0xF0) {
        if (c == 0xE0)
            lo = 0xA0;                      /* overlong */
        else if (c == 0xED)
            hi = 0x9F;                      /* U+D800..DFFF */
        return (left >= 3 && p[1] >= lo && p[1] <= hi
                && (p[2] & 0xC0) == 0x80) ? 3 : 0;
    }
    if (c < 0xF5) {
        if (c == 0xF0)
            lo = 0x90;                      /* overlong */
        else if (c == 0xF4)
            hi = 0x8F;                      /* above U+10FFFF */
        return (left >= 4 && p[1] >= lo && p[1] <= hi
                && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80) ? 4 : 0;
    }
    return 0;
}

/* ===================== writing strings ===================== */

/* Eight bytes at a time: true when none of them is a control character,
 * '"', '\\' or >= 0x80 (the classic "has a zero byte" bit trick). */
#define ONES 0x0101010101010101ULL
#define HAS_ZERO(v) (((v) - ONES) & ~(v))
static int word_plain(const unsigned char *p)
{
    uint64_t v, t;
    memcpy(&v, p, 8);
    t = ((v - ONES * 0x20) & ~v) | HAS_ZERO(v ^ (ONES * '"'))
        | HAS_ZERO(v ^ (ONES * '\\')) | v;
    return (t & (ONES * 0x80)) == 0;
}

/* Moves p over plain bytes and valid UTF-8 and stops at a byte of class 1
 * or at e. Returns NULL at invalid UTF-8, with *bad set to where. */
static const unsigned char *scan_text(const unsigned char *p,
                                      const unsigned char *e,
                                      const unsigned char **bad)
{
    for (;;) {
        while (e - p >= 8 && word_plain(p))
            p += 8;
        while (p < e && byte_class[*p] == 0)
            p++;
        if (p < e && byte_class[*p] == 2) {
            size_t n = utf8_seq(p, e);
            if (n == 0) {
                *bad = p;
                return NULL;
            }
            p += n;
        } else {
            return p;
        }
    }
}

/* 1-based offset of the first byte that breaks UTF-8, or 0 if s is valid. */
static size_t check_string(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + len, *bad;
    while ((p = scan_text(p, e, &bad)) != NULL && p < e)
        p++;
    return p ? 0 : (size_t)(bad - (const unsigned char *)s) + 1;
}

/* Appends s as a JSON string. Returns 0, or the 1-based offset of the
 * first invalid UTF-8 byte, in which case b is left as it was. */
static size_t write_string(lua_State *L, bs_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *e = p + len, *run, *bad;
    char *o;

    if (len > ((size_t)-1 - 2) / 6)
        luaL_error(L, "not enough memory (string too long)");
    /* Worst case is every byte as \u00XX: one reserve, no checks below. */
    bs_buf_reserve(L, b, len * 6 + 2);
    o = b->data + b->len;
    *o++ = '"';
    for (;;) {
        /* Scan and copy in one pass: most strings are short and plain, and
         * a separate memcpy call costs more than the bytes. */
        while (e - p >= 8 && word_plain(p)) {
            memcpy(o, p, 8);
            o += 8;
            p += 8;
        }
        while (p < e && byte_class[*p] == 0)
            *o++ = (char)*p++;
        if (p < e && byte_class[*p] == 2) {
            run = p;
            if ((p = scan_text(run, e, &bad)) == NULL)
                return (size_t)(bad - (const unsigned char *)s) + 1;
            memcpy(o, run, (size_t)(p - run));
            o += p - run;
        }
        if (p == e)
            break;
        if (byte_class[*p] != 1)
            continue;
        *o++ = '\\';
        switch (*p) {
        case '"':  *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default:
            *o++ = 'u'; *o++ = '0'; *o++ = '0';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
            break;
        }
        p++;
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    return 0;
}

int bs_json_string(bs_walk *w, const char *s, size_t len)
{
    size_t bad;
    if (bs_too_big(w, len)) {
        bs_limit_stop(w);
        return 0;
    }
    bad = w->out ? write_string(w->L, w->out, s, len) : check_string(s, len);
    if (bad) {
        bs_report(w, BS_P_FORMAT, "is not valid UTF-8 (byte %u)", (unsigned)bad);
        return 0;
    }
    return 1;
}

/* ===================== writing numbers ===================== */

/* Writes v in decimal at o (room for 21 bytes); returns the length. */
static size_t fmt_int(char *o, long long v)
{
    char tmp[24], *t = tmp + sizeof tmp;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v
                                 : (unsigned long long)v;
    size_t n;
    do {
        *--t = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (v < 0)
        *--t = '-';
    n = (size_t)(tmp + sizeof tmp - t);
    memcpy(o, t, n);
    return n;
}

/* Writes a finite double at o (room for 40 bytes) so that strtod gives the
 * same double back; returns the length. */
static size_t fmt_float(char *o, double x)
{
    char tmp[40];
    double ax = x < 0 ? -x : x;
    size_t n, i, j;
    int prec, k, sixteen = 0;

    if (x >= -TWO_POW_63 && x < TWO_POW_63) {
        long long v = (long long)x;
        if ((double)v == x) {
            /* Integral: digits, never an exponent. -0.0 keeps its sign. */
            if (v == 0 && signbit(x)) {
                memcpy(o, "-0", 2);
                return 2;
            }
            return fmt_int(o, v);
        }
    }

    /* Fixed-point digits y / 10^k, fewest k first. y and 10^k are exact
     * doubles, so the correctly rounded y / 10^k is what a correct strtod
     * reads from that text: when it equals x the text round-trips, proven
     * without printf or strtod. This covers every value up to 16
     * significant digits in [1e-5, 2^53) but for rare ties. */
    if (ax >= 1e-5 && ax < TWO_POW_53) {
        for (k = 1; k <= 22; k++) {
            double y = x * pow10_exact[k];
            long long yi;
            if (y >= TWO_POW_53 || y <= -TWO_POW_53)
                break;
            yi = (long long)(y < 0 ? y - 0.5 : y + 0.5);
            if ((double)yi / pow10_exact[k] == x) {
                char *w = o;
                n = fmt_int(tmp, yi < 0 ? -yi : yi);
                while (n > 1 && tmp[n - 1] == '0' && k > 1) {
                    n--;                    /* trailing zeros say nothing */
                    k--;
                }
                if (yi < 0)
                    *w++ = '-';
                if (n > (size_t)k) {
                    memcpy(w, tmp, n - (size_t)k);
                    w += n - (size_t)k;
                    *w++ = '.';
                    memcpy(w, tmp + n - (size_t)k, (size_t)k);
                    w += k;
                } else {
                    *w++ = '0';
                    *w++ = '.';
                    for (i = n; i < (size_t)k; i++)
                        *w++ = '0';
                    memcpy(w, tmp, n);
                    w += n;
                }
                return (size_t)(w - o);
            }
            if (y >= 1e15 || y <= -1e15)
                sixteen = 1;            /* 16 digits did not do it */
        }
    }

    /* Otherwise the shortest of 15, 16 or 17 significant digits that
     * reads back (17 always does). */
    for (prec = sixteen ? 17 : 15; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, x);
        if (strtod(tmp, NULL) == x)
            break;
    }
    if (prec == 17)
        snprintf(tmp, sizeof tmp, "%.17g", x);
    /* printf wrote the C locale's decimal point, which may be "," or even
     * several bytes: JSON wants '.'. */
    for (i = 0, j = 0; tmp[i]; ) {
        char ch = tmp[i];
        if ((ch >= '0' && ch <= '9') || ch == '-' || ch == '+' || ch == 'e') {
            o[j++] = ch;
            i++;
        } else {
            o[j++] = '.';
            while (tmp[i] && !((tmp[i] >= '0' && tmp[i] <= '9')
                               || tmp[i] == 'e' || tmp[i] == '-'))
                i++;
        }
    }
    return j;
}

/* Writes the number at idx; 0 (nothing written) for NaN and infinities. */
static int put_number(lua_State *L, bs_buf *b, int idx)
{
    double x;

    if (bs_isinteger(L, idx)) {
        if (b) {
            bs_buf_reserve(L, b, 24);
            b->len += fmt_int(bs_buf_end(b), (long long)lua_tointeger(L, idx));
        }
        return 1;
    }
    x = (double)lua_tonumber(L, idx);
    if (x != x || x - x != 0)
        return 0;
    if (b) {
        bs_buf_reserve(L, b, 48);
        b->len += fmt_float(bs_buf_end(b), x);
    }
    return 1;
}

int bs_json_number(bs_walk *w, int idx)
{
    if (!put_number(w->L, w->out, idx)) {
        bs_report(w, BS_P_RANGE, "NaN and infinity cannot be encoded in JSON");
        return 0;
    }
    return 1;
}

/* ===================== writing any value =====================
 * The value's path is the walk's segment stack: each table level pushes
 * the key or position of the value it visits, and a problem spells it out
 * only when it is reported. Cycles are found in w->open_tables, without
 * writing to a Lua table per table. */

static void encode_any(bs_walk *w, int idx);

/* A number key as an array position; 0 if it is not a positive integer. */
static lua_Integer key_index(lua_State *L, int idx)
{
    double d;
    if (bs_isinteger(L, idx))
        return lua_tointeger(L, idx);
    d = (double)lua_tonumber(L, idx);
    if (d >= 1 && d < TWO_POW_53 && (double)(long long)d == d)
        return (lua_Integer)d;
    return 0;
}

/* Visits the value on top (writing nothing): after a problem with its key,
 * the problems nested in the value still get reported. */
static void check_only(bs_walk *w)
{
    bs_buf *saved = w->out;
    w->out = NULL;
    encode_any(w, lua_gettop(w->L));
    w->out = saved;
}

/* After a table-level problem: visit every value under a usable key. */
static void walk_values(bs_walk *w, int t)
{
    lua_State *L = w->L;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        int kt = lua_type(L, -2);
        if (kt == LUA_TSTRING) {
            size_t kl;
            const char *k = lua_tolstring(L, -2, &kl);
            if (!check_string(k, kl)) {
                bs_push_key(w, k, kl);
                check_only(w);
                bs_pop(w);
            }
        } else if (kt == LUA_TNUMBER) {
            lua_Integer i = key_index(L, -2);
            if (i > 0) {
                bs_push_index(w, i);
                check_only(w);
                bs_pop(w);
            }
        }
        lua_pop(L, 1);
        if (w->halted) {
            lua_pop(L, 1);
            return;
        }
    }
}

/* Keys are known to be exactly 1..n. */
static void encode_array(bs_walk *w, int t, int n)
{
    lua_State *L = w->L;
    int i;

    if (w->out)
        bs_buf_putc(L, w->out, '[');
    bs_push_index(w, 0);
    for (i = 1; i <= n && !w->halted; i++) {
        if (w->out && i > 1)
            bs_buf_putc(L, w->out, ',');
        lua_rawgeti(L, t, i);
        bs_set_index(w, i);
        encode_any(w, lua_gettop(L));
        lua_pop(L, 1);
    }
    bs_pop(w);
    if (w->out)
        bs_buf_putc(L, w->out, ']');
}

/* An object's keys are written in bytewise order, so the same table gives
 * the same bytes in every process whatever its hash seed or the order the
 * keys went in. Up to SMALL_KEYS keys are sorted on the C stack, their
 * keys and values held on the Lua stack (which keeps the strings alive);
 * more go to a userdata array, with a table anchoring the strings. Either
 * way nothing needs freeing if an out-of-memory error unwinds. */
#define SMALL_KEYS 16

typedef struct okey {
    const char *s;
    size_t      n;
    int         slot;      /* stack index of the key (its value is next), or
                              position in the anchor table */
} okey;

static int okey_less(const okey *a, const okey *b)
{
    size_t m = a->n < b->n ? a->n : b->n;
    int r = m ? memcmp(a->s, b->s, m) : 0;
    return r < 0 || (r == 0 && a->n < b->n);
}

static int okey_cmp(const void *a, const void *b)
{
    return okey_less((const okey *)a, (const okey *)b) ? -1
         : okey_less((const okey *)b, (const okey *)a) ? 1 : 0;
}

static void sort_keys(okey *k, size_t n)
{
    size_t i, j;
    if (n > SMALL_KEYS) {
        qsort(k, n, sizeof *k, okey_cmp);
        return;
    }
    for (i = 1; i < n; i++) {
        okey x = k[i];
        for (j = i; j > 0 && okey_less(&x, &k[j - 1]); j--)
            k[j] = k[j - 1];
        k[j] = x;
    }
}

/* A key of a table whose keys should all be strings is not one: reported
 * once per table, and the value is still checked when it has a position. */
static void odd_key(bs_walk *w, int kt, int *mixed, int *odd)
{
    lua_State *L = w->L;
    if (kt == LUA_TNUMBER) {
        lua_Integer i;
        if (!(*mixed)++)
            bs_report(w, BS_P_STRUCTURE, "mixed table (integer and string keys)");
        if ((i = key_index(L, -2)) > 0) {
            bs_push_index(w, i);
            check_only(w);
            bs_pop(w);
        }
    } else if (!(*odd)++) {
        bs_report(w, BS_P_STRUCTURE, "key of type %s (object keys must be strings)",
                  lua_typename(L, kt));
    }
}

/* Writes the object at t, whose first key is a string. */
static void encode_object(bs_walk *w, int t)
{
    lua_State *L = w->L;
    okey small[SMALL_KEYS], *keys = small;
    size_t n = 0, total = 0, i;
    int mixed = 0, odd = 0, base = lua_gettop(L), anchor = 0;

    /* First pass: the first keys, how many there are, and the odd ones.
     * Each of the first SMALL_KEYS string keys leaves its key and value on
     * the stack (a copy of the key goes on with the traversal). */
    lua_pushnil(L);
    while (lua_next(L, t)) {
        int kt = lua_type(L, -2);
        if (kt == LUA_TSTRING && n < SMALL_KEYS) {
            keys[n].s = lua_tolstring(L, -2, &keys[n].n);
            keys[n].slot = lua_gettop(L) - 1;
            n++;
            total++;
            lua_pushvalue(L, -2);
            continue;
        }
        if (kt == LUA_TSTRING)
            total++;
        else
            odd_key(w, kt, &mixed, &odd);
        lua_pop(L, 1);
        if (w->halted) {
            lua_settop(L, base);
            return;
        }
    }
    if (total > SMALL_KEYS) {
        /* Second pass for a large object: every key into a userdata array,
         * each string anchored in a table. A finalizer run by these
         * allocations may have changed t: whatever does not fit the count
         * is left out (the walk is already wrong about such a table). */
        lua_settop(L, base);
        keys = (okey *)lua_newuserdata(L, total * sizeof *keys);
        lua_createtable(L, (int)(total < 1u << 20 ? total : 1u << 20), 0);
        anchor = lua_gettop(L);
        n = 0;
        lua_pushnil(L);
        while (lua_next(L, t)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TSTRING || n == total)
                continue;
            lua_pushvalue(L, -1);
            lua_rawseti(L, anchor, (int)n + 1);
            keys[n].s = lua_tolstring(L, -1, &keys[n].n);
            keys[n].slot = (int)n + 1;
            n++;
        }
    }
    sort_keys(keys, n);

    if (w->out)
        bs_buf_putc(L, w->out, '{');
    for (i = 0; i < n && !w->halted; i++) {
        bs_buf *b = w->out;
        const char *k = keys[i].s;
        size_t kl = keys[i].n, bad;
        if (b && i > 0)
            bs_buf_putc(L, b, ',');
        if (bs_too_big(w, kl)) {
            bs_limit_stop(w);
            break;
        }
        bad = b ? write_string(L, b, k, kl) : check_string(k, kl);
        if (anchor) {
            lua_rawgeti(L, anchor, keys[i].slot);
            lua_rawget(L, t);
        } else {
            lua_pushvalue(L, keys[i].slot + 1);
        }
        if (bad) {
            /* Name the key readably: its odd bytes become '?'. */
            char clean[64];
            size_t j, m = kl < sizeof clean ? kl : sizeof clean;
            for (j = 0; j < m; j++) {
                unsigned char ch = (unsigned char)k[j];
                clean[j] = (char)(ch < 0x20 || ch >= 0x80 ? '?' : ch);
            }
            bs_push_key(w, clean, m);
            bs_report(w, BS_P_FORMAT, "key is not valid UTF-8 (byte %u)", (unsigned)bad);
            check_only(w);
            bs_pop(w);
        } else {
            if (b)
                bs_buf_putc(L, b, ':');
            bs_push_key(w, k, kl);
            encode_any(w, lua_gettop(L));
            bs_pop(w);
        }
        lua_pop(L, 1);
    }
    if (w->out)
        bs_buf_putc(L, w->out, '}');
    lua_settop(L, base);
}

/* A table marked as array, or one whose first key is not a string: an
 * array if its keys are exactly 1..n, else a problem. Marked arrays are
 * counted too: rawlen alone would drop what follows a hole (its border is
 * any index before a nil). */
static void encode_keyed(bs_walk *w, int t, int marked)
{
    lua_State *L = w->L;
    int n = 0, nint = 0, nstr = 0, nfrac = 0, other = LUA_TNONE;
    double max = 0;

    lua_pushnil(L);
    while (lua_next(L, t)) {
        int kt = lua_type(L, -2);
        lua_pop(L, 1);
        n++;
        if (kt == LUA_TNUMBER) {
            lua_Integer i = key_index(L, -1);
            if (i > 0) {
                nint++;
                if ((double)i > max)
                    max = (double)i;
            } else {
                nfrac++;
            }
        } else if (kt == LUA_TSTRING) {
            nstr++;
        } else if (other == LUA_TNONE) {
            other = kt;
        }
    }
    if (nint == n && max == (double)n) {
        encode_array(w, t, n);
        return;
    }
    if (other != LUA_TNONE)
        bs_report(w, BS_P_STRUCTURE, "key of type %s (object keys must be strings)",
                  lua_typename(L, other));
    if (marked && nstr == n) {
        bs_report(w, BS_P_STRUCTURE, "string keys in a table marked as an array");
    } else if (nstr > 0 && (nint > 0 || nfrac > 0)) {
        bs_report(w, BS_P_STRUCTURE, "mixed table (integer and string keys)");
    } else if (nfrac > 0) {
        bs_report(w, BS_P_STRUCTURE, "number key that is not an index 1..n "
                                     "(object keys must be strings)");
    } else if (nint == n) {
        /* n keys cannot fill 1..n+1: the first hole is at most n+1 */
        int i;
        for (i = 1; i <= n; i++) {
            int nil;
            lua_rawgeti(L, t, i);
            nil = lua_isnil(L, -1);
            lua_pop(L, 1);
            if (nil)
                break;
        }
        bs_report(w, BS_P_STRUCTURE, "sparse array (missing index %d)", i);
    }
    walk_values(w, t);
}

static unsigned open_hash(const void *p)
{
    size_t a = (size_t)p;
    return (unsigned)(a >> 4 ^ a >> 12) & (BS_OPEN_SLOTS - 1);
}

static void encode_table(bs_walk *w, int t)
{
    lua_State *L = w->L;
    const void *self = lua_topointer(L, t);
    unsigned slot;

    /* The depth limit keeps the set at most half full. Slots are emptied
     * in the reverse order of filling: no later entry probed past one. */
    for (slot = open_hash(self); w->open_tables[slot]; slot = (slot + 1) & (BS_OPEN_SLOTS - 1)) {
        if (w->open_tables[slot] == self) {
            bs_report(w, BS_P_STRUCTURE, "cycle (table contains itself)");
            return;
        }
    }
    if (w->depth + 1 > BS_MAX_DEPTH) {
        bs_report(w, BS_P_STRUCTURE, "nested deeper than %d levels", BS_MAX_DEPTH);
        return;
    }
    if (!lua_checkstack(L, 2 * SMALL_KEYS + 8)) {
        bs_report(w, BS_P_STRUCTURE, "nested too deeply for the Lua stack");
        return;
    }
    w->depth++;
    w->open_tables[slot] = self;
    if (bs_is_array_marked(L, t)) {
        encode_keyed(w, t, 1);
    } else {
        lua_pushnil(L);
        if (!lua_next(L, t)) {
            if (w->out)
                bs_buf_addlit(L, w->out, "{}");
        } else if (lua_type(L, -2) == LUA_TSTRING) {
            lua_pop(L, 2);
            encode_object(w, t);
        } else {
            lua_pop(L, 2);
            encode_keyed(w, t, 0);
        }
    }
    w->open_tables[slot] = NULL;
    w->depth--;
}

/* idx is absolute; the value's path is the walk's current one. */
static void encode_any(bs_walk *w, int idx)
{
    lua_State *L = w->L;
    bs_buf *b = w->out;

    if (bs_count(w)) {
        bs_limit_stop(w);
        return;
    }
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        bs_json_string(w, s, len);
        return;
    }
    case LUA_TNUMBER:
        bs_json_number(w, idx);
        return;
    case LUA_TBOOLEAN:
        if (b) {
            if (lua_toboolean(L, idx))
                bs_buf_addlit(L, b, "true");
            else
                bs_buf_addlit(L, b, "false");
        }
        return;
    case LUA_TTABLE:
        encode_table(w, idx);
        return;
    case LUA_TLIGHTUSERDATA:
    case LUA_TNIL:
        /* bulksync.null; nil only reaches here as the root value, which
         * cjson writes as null too */
        if (lua_touserdata(L, idx) != NULL)
            break;
        if (b)
            bs_buf_addlit(L, b, "null");
        return;
    default:
        break;
    }
    bs_report(w, BS_P_TYPE, "cannot encode a %s as JSON", luaL_typename(L, idx));
}

int bs_json_value(bs_walk *w, int idx)
{
    int before = w->nproblems;
    if (idx < 0 && idx > LUA_REGISTRYINDEX)
        idx = lua_gettop(w->L) + idx + 1;
    encode_any(w, idx);
    return w->nproblems == before;
}

/* ===================== reading ===================== */

/* Interning a string costs a hash over all its bytes and a table probe;
 * responses repeat their short strings (keys, enum values, ids) across
 * calls and within a list. A direct-mapped cache per Lua state remembers
 * the last short strings pushed: a hit is a memcmp and a lua_rawgeti.
 * The strings live in the userdata's uservalue table, so each pointer
 * stays valid while its slot holds it (Lua never moves a string). */
#define SC_SLOTS   1024
#define SC_MAXLEN  40   /* Lua 5.4's longest interned string */

typedef struct strcache {
    const char    *s[SC_SLOTS];
    unsigned char  n[SC_SLOTS];   /* 0: empty slot */
} strcache;

static const char strcache_key = 0;   /* only its address is used */

typedef struct dec {
    lua_State           *L;
    const unsigned char *s, *p, *e;
    bs_buf              *tmp;    /* scratch for escaped strings, or NULL */
    strcache            *sc;
    int                  sct;    /* stack index of sc's string table */
    int                  mt;     /* stack index of the array marker */
    int                  depth;
    char                *err;
    size_t               errlen;
} dec;

static int dec_fail(dec *d, const unsigned char *at, const char *fmt, ...)
{
    char msg[120];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (d->errlen > 0)
        snprintf(d->err, d->errlen, "%s at byte %lu", msg,
                 (unsigned long)(at - d->s) + 1);
    return 0;
}

static int dec_unexpected(dec *d, const unsigned char *at)
{
    if (at >= d->e)
        return dec_fail(d, at, "unexpected end of input");
    if (*at >= 0x20 && *at < 0x7f)
        return dec_fail(d, at, "unexpected character '%c'", *at);
    return dec_fail(d, at, "unexpected byte 0x%02X", *at);
}

static const unsigned char *skip_ws(const unsigned char *p, const unsigned char *e)
{
    while (p < e && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static int parse_value(dec *d);

static int hex4(const unsigned char *p, const unsigned char *e)
{
    int i, v = 0;
    if (e - p < 4)
        return -1;
    for (i = 0; i < 4; i++) {
        unsigned ch = p[i];
        v <<= 4;
        if (ch >= '0' && ch <= '9')
            v |= (int)(ch - '0');
        else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
            v |= (int)((ch | 0x20) - 'a' + 10);
        else
            return -1;
    }
    return v;
}

/* Decodes the escape at *pp (a backslash) into b and moves *pp past it. */
static int unescape(dec *d, const unsigned char **pp, bs_buf *b)
{
    const unsigned char *bs = *pp, *p = bs + 1, *e = d->e;
    unsigned long cp;
    int hi, lo;
    char *o;

    if (p == e)
        return dec_unexpected(d, p);
    switch (*p) {
    case '"':  case '\\': case '/':
        bs_buf_putc(d->L, b, (char)*p); break;
    case 'b': bs_buf_putc(d->L, b, (char)'\b'); break;
    case 'f': bs_buf_putc(d->L, b, (char)'\f'); break;
    case 'n': bs_buf_putc(d->L, b, (char)'\n'); break;
    case 'r': bs_buf_putc(d->L, b, (char)'\r'); break;
    case 't': bs_buf_putc(d->L, b, (char)'\t'); break;
    case 'u':
        if ((hi = hex4(p + 1, e)) < 0)
            return dec_fail(d, bs, "bad \\u escape");
        p += 4;
        cp = (unsigned long)hi;
        if (hi >= 0xDC00 && hi <= 0xDFFF)
            return dec_fail(d, bs, "lone surrogate \\u%04X", hi);
        if (hi >= 0xD800 && hi <= 0xDBFF) {
            if (e - p < 3 || p[1] != '\\' || p[2] != 'u'
                || (lo = hex4(p + 3, e)) < 0 || lo < 0xDC00 || lo > 0xDFFF)
                return dec_fail(d, bs, "lone surrogate \\u%04X", hi);
            p += 6;
            cp = 0x10000 + (((unsigned long)hi - 0xD800) << 10)
                 + ((unsigned long)lo - 0xDC00);
        }
        bs_buf_reserve(d->L, b, 4);
        o = b->data + b->len;
        if (cp < 0x80) {
            *o++ = (char)cp;
        } else if (cp < 0x800) {
            *o++ = (char)(0xC0 | (cp >> 6));
            *o++ = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            *o++ = (char)(0xE0 | (cp >> 12));
            *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
            *o++ = (char)(0x80 | (cp & 0x3F));
        } else {
            *o++ = (char)(0xF0 | (cp >> 18));
            *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
            *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
            *o++ = (char)(0x80 | (cp & 0x3F));
        }
        b->len = (size_t)(o - b->data);
        break;
    default:
        return dec_fail(d, bs, "invalid escape '\\%c'",
                        (*p >= 0x20 && *p < 0x7f) ? *p : '?');
    }
    *pp = p + 1;
    return 1;
}

static void push_text(dec *d, const unsigned char *p, size_t n)
{
    strcache *c = d->sc;
    unsigned h;
    if (n == 0 || n > SC_MAXLEN) {
        lua_pushlstring(d->L, (const char *)p, n);
        return;
    }
    h = (unsigned)n * 0x9E37u ^ p[0] ^ (unsigned)p[n / 4] << 2 ^ (unsigned)p[n / 2] << 4
        ^ (unsigned)p[n - 1 - n / 4] << 6 ^ (unsigned)p[n - 2 + (n < 2)] << 3
        ^ (unsigned)p[n - 1] << 8;
    h = (h ^ h >> 10) & (SC_SLOTS - 1);
    if (c->n[h] == n && memcmp(c->s[h], p, n) == 0) {
        lua_rawgeti(d->L, d->sct, (int)h + 1);
        return;
    }
    lua_pushlstring(d->L, (const char *)p, n);
    lua_pushvalue(d->L, -1);
    lua_rawseti(d->L, d->sct, (int)h + 1);
    c->s[h] = lua_tostring(d->L, -1);
    c->n[h] = (unsigned char)n;
}

/* Pushes the string table of this Lua state's cache; returns the cache. */
static strcache *get_strcache(lua_State *L)
{
    strcache *c;
    lua_pushlightuserdata(L, (void *)&strcache_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    c = (strcache *)lua_touserdata(L, -1);
    if (c == NULL) {
        lua_pop(L, 1);
        c = (strcache *)bs_newudata(L, sizeof *c);
        memset(c, 0, sizeof *c);
        lua_createtable(L, SC_SLOTS, 0);
        bs_setuservalue(L, -2);
        lua_pushlightuserdata(L, (void *)&strcache_key);
        lua_pushvalue(L, -2);
        lua_rawset(L, LUA_REGISTRYINDEX);
    }
    bs_getuservalue(L, -1);
    lua_remove(L, -2);
    return c;
}

/* d->p is at the opening quote; pushes the string. */
static int parse_string(dec *d)
{
    const unsigned char *start = d->p + 1, *p, *bad = NULL, *run;
    bs_buf *b;

    p = scan_text(start, d->e, &bad);
    if (p == NULL)
        return dec_fail(d, bad, "invalid UTF-8 in string");
    if (p < d->e && *p == '"') {
        /* no escapes: straight from the input */
        push_text(d, start, (size_t)(p - start));
        d->p = p + 1;
        return 1;
    }
    b = d->tmp;   /* set whenever the text holds a backslash */
    if (b)
        bs_buf_reset(b);
    for (;;) {
        if (p == d->e)
            return dec_unexpected(d, p);
        if (*p == '"')
            break;
        if (*p != '\\')
            return dec_fail(d, p, "unescaped control character 0x%02X in string", *p);
        if (p > start)
            bs_buf_add(d->L, b, (const char *)start, (size_t)(p - start));
        if (!unescape(d, &p, b))
            return 0;
        run = p;
        p = scan_text(run, d->e, &bad);
        if (p == NULL)
            return dec_fail(d, bad, "invalid UTF-8 in string");
        start = run;
    }
    if (p > start)
        bs_buf_add(d->L, b, (const char *)start, (size_t)(p - start));
    push_text(d, (const unsigned char *)b->data, b->len);
    d->p = p + 1;
    return 1;
}

#define IS_DIGIT(ch) ((unsigned)(ch) - '0' < 10u)

/* strtod for a validated token of n bytes, whatever the C locale says the
 * decimal point is. Copies the token: the input need not end in '\0'. */
static int token_strtod(const unsigned char *tok, size_t n, double *out)
{
    char local[80], *buf = local, *w;
    const char *dp = localeconv()->decimal_point;
    size_t dplen = strlen(dp), i;

    if (n + dplen + 1 > sizeof local) {
        /* nothing between malloc and free can raise */
        buf = (char *)malloc(n + dplen + 1);
        if (buf == NULL)
            return 0;
    }
    for (i = 0, w = buf; i < n; i++) {
        if (tok[i] == '.') {
            memcpy(w, dp, dplen);
            w += dplen;
        } else {
            *w++ = (char)tok[i];
        }
    }
    *w = '\0';
    /* cppcheck-suppress uninitvar ; buf is local or the copy just written */
    *out = strtod(buf, NULL);
    if (buf != local)
        free(buf);
    return 1;
}

static int parse_number(dec *d)
{
    lua_State *L = d->L;
    const unsigned char *p = d->p, *e = d->e, *start = p;
    unsigned long long m = 0;
    int neg = 0, isint = 1, nd = 0;
    long e10 = 0;
    double x;

    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (p == e || !IS_DIGIT(*p))
        return dec_unexpected(d, p);
    if (*p == '0') {
        p++;
        nd = 1;
        if (p < e && IS_DIGIT(*p))
            return dec_fail(d, p - 1, "number with a leading zero");
    } else {
        for (; p < e && IS_DIGIT(*p); p++, nd++)
            if (nd < 19)
                m = m * 10 + (unsigned)(*p - '0');
    }
    if (p < e && *p == '.') {
        isint = 0;
        p++;
        if (p == e || !IS_DIGIT(*p))
            return dec_unexpected(d, p);
        for (; p < e && IS_DIGIT(*p); p++, nd++)
            if (nd < 19) {
                m = m * 10 + (unsigned)(*p - '0');
                e10--;
            }
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        long ex = 0;
        int eneg = 0;
        isint = 0;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p == e || !IS_DIGIT(*p))
            return dec_unexpected(d, p);
        for (; p < e && IS_DIGIT(*p); p++)
            if (ex < 100000)
                ex = ex * 10 + (*p - '0');
        e10 += eneg ? -ex : ex;
    }
    d->p = p;

    if (isint && nd <= 19 && BS_HAVE_INTEGER) {
        if (!neg && m <= 9223372036854775807ULL) {
            lua_pushinteger(L, (lua_Integer)m);
            return 1;
        }
        /* cppcheck-suppress incorrectLogicOperator ; 2^63 fits the unsigned m */
        if (neg && m > 0 && m <= 9223372036854775808ULL) {
            /* -2^63 has no positive twin: negate in unsigned, then shift */
            lua_pushinteger(L, (lua_Integer)(-(long long)(m - 1) - 1));
            return 1;
        }
        /* "-0" falls through: it stays -0.0, the only zero with a sign */
    }
    if (nd <= 19 && m <= 9007199254740992ULL && e10 >= -22 && e10 <= 22) {
        /* m and 10^|e10| are exact doubles, so one correctly rounded
         * operation gives what a correct strtod would. */
        x = (double)m;
        x = e10 < 0 ? x / pow10_exact[-e10] : x * pow10_exact[e10];
    } else if (!token_strtod(start + neg, (size_t)(p - start - neg), &x)) {
        return dec_fail(d, start, "out of memory reading a number");
    }
    if (x - x != 0)
        return dec_fail(d, start, "number out of range");
    lua_pushnumber(L, (lua_Number)(neg ? -x : x));
    return 1;
}

static int parse_literal(dec *d, const char *word, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (d->p + i >= d->e || d->p[i] != (unsigned char)word[i])
            return dec_unexpected(d, d->p + i);
    d->p += n;
    return 1;
}

/* Containers collect their first few items on the Lua stack and create
 * the table once its size is known: no rehash while it fills, which is
 * most of the cost of reading small objects. Longer ones spill into a
 * table early and fill it directly. */
#define DEC_CHUNK 32

static int enter(dec *d)
{
    if (++d->depth > BS_MAX_DEPTH)
        return dec_fail(d, d->p, "nesting deeper than %d levels", BS_MAX_DEPTH);
    if (!lua_checkstack(d->L, 2 * DEC_CHUNK + 8))
        return dec_fail(d, d->p, "nesting too deep for the Lua stack");
    return 1;
}

/* Moves the n items above base into a new table of narr/nrec slots that
 * ends up at base + 1. Arrays: items are values 1..n. Objects: n pairs. */
static void collect(lua_State *L, int base, int n, int is_array, int spare)
{
    int i;
    if (is_array) {
        lua_createtable(L, n + spare, 0);
        lua_insert(L, base + 1);
        for (i = n; i >= 1; i--)
            lua_rawseti(L, base + 1, i);     /* pops item i */
    } else {
        lua_createtable(L, 0, n + spare);
        for (i = 0; i < n; i++) {
            /* in order, so a repeated key keeps its last value */
            lua_pushvalue(L, base + 2 * i + 1);
            lua_pushvalue(L, base + 2 * i + 2);
            lua_rawset(L, -3);
        }
        lua_replace(L, base + 1);
        lua_settop(L, base + 1);
    }
}

static int parse_array(dec *d)
{
    lua_State *L = d->L;
    int base = lua_gettop(L), n = 0, direct = 0;

    if (!enter(d))
        return 0;
    d->p = skip_ws(d->p + 1, d->e);
    if (d->p < d->e && *d->p == ']') {
        d->p++;
        lua_createtable(L, 0, 0);
    } else {
        for (;;) {
            if (!parse_value(d))
                return 0;
            n++;
            if (direct) {
                lua_rawseti(L, -2, n);
            } else if (n == DEC_CHUNK) {
                collect(L, base, n, 1, DEC_CHUNK);
                direct = 1;
            }
            d->p = skip_ws(d->p, d->e);
            if (d->p < d->e && *d->p == ',') {
                d->p = skip_ws(d->p + 1, d->e);
            } else if (d->p < d->e && *d->p == ']') {
                d->p++;
                break;
            } else {
                return dec_unexpected(d, d->p);
            }
        }
        if (!direct)
            collect(L, base, n, 1, 0);
    }
    lua_pushvalue(L, d->mt);
    lua_setmetatable(L, -2);
    d->depth--;
    return 1;
}

static int parse_object(dec *d)
{
    lua_State *L = d->L;
    int base = lua_gettop(L), n = 0, direct = 0;

    if (!enter(d))
        return 0;
    d->p = skip_ws(d->p + 1, d->e);
    if (d->p < d->e && *d->p == '}') {
        d->p++;
        lua_createtable(L, 0, 0);
        d->depth--;
        return 1;
    }
    for (;;) {
        if (d->p == d->e || *d->p != '"')
            return dec_unexpected(d, d->p);
        if (!parse_string(d))
            return 0;
        d->p = skip_ws(d->p, d->e);
        if (d->p == d->e || *d->p != ':')
            return dec_unexpected(d, d->p);
        d->p = skip_ws(d->p + 1, d->e);
        if (!parse_value(d))
            return 0;
        n++;
        if (direct) {
            lua_rawset(L, -3);     /* a repeated key: the last one wins */
        } else if (n == DEC_CHUNK) {
            collect(L, base, n, 0, DEC_CHUNK);
            direct = 1;
        }
        d->p = skip_ws(d->p, d->e);
        if (d->p < d->e && *d->p == ',') {
            d->p = skip_ws(d->p + 1, d->e);
        } else if (d->p < d->e && *d->p == '}') {
            d->p++;
            break;
        } else {
            return dec_unexpected(d, d->p);
        }
    }
    if (!direct)
        collect(L, base, n, 0, 0);
    d->depth--;
    return 1;
}

/* d->p is at the first byte of the value (whitespace skipped). */
static int parse_value(dec *d)
{
    if (d->p == d->e)
        return dec_unexpected(d, d->p);
    switch (*d->p) {
    case '"':
        return parse_string(d);
    case '{':
        return parse_object(d);
    case '[':
        return parse_array(d);
    case 't':
        if (!parse_literal(d, "true", 4))
            return 0;
        lua_pushboolean(d->L, 1);
        return 1;
    case 'f':
        if (!parse_literal(d, "false", 5))
            return 0;
        lua_pushboolean(d->L, 0);
        return 1;
    case 'n':
        if (!parse_literal(d, "null", 4))
            return 0;
        lua_pushlightuserdata(d->L, NULL);
        return 1;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return parse_number(d);
    default:
        return dec_unexpected(d, d->p);
    }
}

int bs_json_decode(lua_State *L, const char *s, size_t len, char *err, size_t errlen)
{
    dec d = { 0 };
    int top = lua_gettop(L), ok;

    d.L = L;
    d.s = d.p = (const unsigned char *)s;
    d.e = d.s + len;
    d.tmp = NULL;
    d.depth = 0;
    d.err = err;
    d.errlen = errlen;
    if (errlen > 0)
        err[0] = '\0';
    if (!lua_checkstack(L, 8)) {
        d.p = d.s;
        return dec_fail(&d, d.s, "Lua stack exhausted");
    }
    luaL_getmetatable(L, BS_ARRAY_MT);
    d.mt = lua_gettop(L);
    d.sc = get_strcache(L);
    d.sct = lua_gettop(L);
    /* Only escaped strings need scratch memory; most texts have none. */
    if (len > 0 && memchr(s, '\\', len) != NULL)
        d.tmp = bs_buf_push(L);

    d.p = skip_ws(d.p, d.e);
    ok = parse_value(&d);
    if (ok) {
        d.p = skip_ws(d.p, d.e);
        if (d.p != d.e)
            ok = dec_unexpected(&d, d.p);
    }
    if (d.tmp)
        bs_buf_free(d.tmp);   /* now, rather than at the next collection */
    if (!ok) {
        lua_settop(L, top);
        return 0;
    }
    lua_replace(L, top + 1);
    lua_settop(L, top + 1);
    return 1;
}
