/*
 * fuzz_encode.c: libFuzzer harness for the validator and the encoder.
 *
 * The input's first byte picks a walk (PICK_*): core.encode and
 * core.validate for one API version, strict or not, or core.encode_value.
 * The rest is a small program that builds a Lua value on the stack:
 * strings (long, invalid UTF-8, NUL bytes, field names, enum values),
 * integers, floats from raw bits, NaN and infinities, bulksync.null,
 * tables, array marks, foreign metatables, cycles, shared tables, nesting
 * far past the depth limit, odd keys (floats, negatives, sparse,
 * non-string). One walk per input rather than all five: the fuzzer
 * reaches each through the first byte, and runs inputs that much faster.
 * Properties:
 *   - nothing raises except running out of the capped memory;
 *   - validate accepts exactly what encode accepts, with as many problems;
 *   - whatever encode writes, decode reads, and encode_value's output
 *     decodes back to an equal value.
 */
#include <stdint.h>

#include "harness.h"

#define MAX_ITEMS 48

/* The first byte: which walk the value gets. */
#define PICK_STRICT  0x01               /* strict schema walk */
#define PICK_VERSION 0x06               /* index into core.API_VERSIONS */
#define PICK_GENERIC 0x08               /* encode_value, not the schema walk */
#define MAX_LONG_STRING 0xfff

/* What one walk of the built value may visit before the input is set
 * aside: the walks are not limited yet, and a table shared at several
 * levels (t = { a = u, b = u }, u = { a = v, b = v }, ...) makes a walk
 * exponential in the number of levels; today's core would walk 2^64
 * paths. Within these budgets a table shared two ways still nests about
 * 11 levels deep, and a walk takes about a millisecond at most. Once the
 * core limits its walk, raise them. */
#define WALK_BUDGET_VALUES 4096
#define WALK_BUDGET_BYTES  (256u * 1024u)
#define WALK_MAX_DEPTH     70           /* past BS_MAX_DEPTH, where walks stop */

typedef struct prog {
    const uint8_t *p, *e;
} prog;

static unsigned next(prog *g)
{
    return g->p < g->e ? *g->p++ : 0;
}

static void take(prog *g, void *out, size_t n)
{
    size_t have = (size_t)(g->e - g->p);
    memset(out, 0, n);
    if (have > n)
        have = n;
    memcpy(out, g->p, have);
    g->p += have;
}

static const char *const names[] = {
    "name", "mode", "active", "source_connection_id", "destination_connection_id",
    "destination_configuration", "source_configuration", "default_schedule", "schedule",
    "additional_schedules", "schemas", "fields", "filters", "id", "enabled", "partition_key",
    "frequency", "hour", "minute", "day_of_week", "day_of_month", "multi", "run_after",
    "concurrency_limit", "resync_concurrency_limit", "data_cutoff_timestamp", "policies",
    "automatically_add_new_fields", "automatically_add_new_objects", "normalize_names",
    "disable_record_timestamps", "field_id", "function", "value", "organization_id",
    "", "\xff", "a.b", "[1]", NULL
};

static const char *const values[] = {
    "replicate", "snapshot", "incremental", "daily", "hourly", "manual", "weekly", "monthly",
    "continuous", "custom", "runafter", "05", "30", "monday", "all", "none", "enabled",
    "disabled", "2024-01-01T00:00:00Z", "2024-13-01T00:00:00Z", "1999-12-31T23:59:60+01:00",
    "0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a51", "0B4A6AD1-6A2B-4D8E-9A3F-2F1D2C3B4A51",
    "0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a5", "StringOneOf", "GreaterThan", "IsNull",
    "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\xff\xfe", NULL
};

static int count(const char *const *list)
{
    int n = 0;
    while (list[n])
        n++;
    return n;
}

/* Leaves exactly one more value on the stack. */
static void special_number(lua_State *L, unsigned k)
{
    switch (k % 9) {
    case 0: lua_pushnumber(L, strtod("nan", NULL)); break;
    case 1: lua_pushnumber(L, strtod("inf", NULL)); break;
    case 2: lua_pushnumber(L, -strtod("inf", NULL)); break;
    case 3: lua_pushnumber(L, -0.0); break;
    case 4: lua_pushnumber(L, 9007199254740993.0); break;
    case 5: lua_pushinteger(L, LUA_MININTEGER); break;
    case 6: lua_pushinteger(L, LUA_MAXINTEGER); break;
    case 7: lua_pushnumber(L, 1e308); break;
    default: lua_pushnumber(L, 5e-324); break;
    }
}

static void build(lua_State *L, prog *g)
{
    int nnames = count(names), nvalues = count(values);
    while (g->p < g->e) {
        unsigned op = next(g) % 26;
        int top = lua_gettop(L);
        if (top >= MAX_ITEMS && op <= 8)
            op = 19;   /* full: pop instead of push */
        switch (op) {
        case 0: {       /* short string, raw bytes */
            size_t n = next(g);
            size_t have = (size_t)(g->e - g->p);
            if (n > have)
                n = have;
            lua_pushlstring(L, (const char *)g->p, n);
            g->p += n;
            break;
        }
        case 1: {       /* a long string of one byte: up to 4 KiB, past the
                         * 256-byte start of the scratch buffer and the
                         * decoder's short-string cache; longer finds no
                         * more and costs every walk of it */
            size_t hi = next(g), lo = next(g), n = (hi << 8 | lo) & MAX_LONG_STRING, i;
            char c = (char)next(g);
            luaL_Buffer b;
            char *s = luaL_buffinitsize(L, &b, n ? n : 1);
            for (i = 0; i < n; i++)
                s[i] = c;
            luaL_pushresultsize(&b, n);
            break;
        }
        case 2: {
            int64_t v;
            take(g, &v, sizeof v);
            lua_pushinteger(L, (lua_Integer)v);
            break;
        }
        case 3: {
            double d;
            take(g, &d, sizeof d);
            lua_pushnumber(L, d);
            break;
        }
        case 4: special_number(L, next(g)); break;
        case 5: lua_pushlightuserdata(L, NULL); break;
        case 6: lua_pushboolean(L, (int)(next(g) & 1)); break;
        case 7: lua_createtable(L, 0, 0); break;
        case 8:         /* an empty table marked as an array */
            fuzz_core(L, "array");
            lua_createtable(L, 0, 0);
            lua_call(L, 1, 1);
            break;
        case 9:         /* t[k] = v with t, k, v on top */
            if (top >= 3 && lua_type(L, -3) == LUA_TTABLE && !lua_isnil(L, -2) &&
                !(lua_type(L, -2) == LUA_TNUMBER && lua_tonumber(L, -2) != lua_tonumber(L, -2)))
                lua_rawset(L, -3);
            else if (top >= 2)
                lua_pop(L, 2);
            break;
        case 10:        /* t[#t + 1] = v */
            if (top >= 2 && lua_type(L, -2) == LUA_TTABLE)
                lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
            else if (top >= 1)
                lua_pop(L, 1);
            break;
        case 11: {      /* top[name] = some table below: cycles and sharing */
            int j = top ? (int)(next(g) % (unsigned)top) + 1 : 0;
            if (top >= 1 && lua_type(L, -1) == LUA_TTABLE && lua_type(L, j) == LUA_TTABLE) {
                lua_pushstring(L, names[next(g) % (unsigned)nnames]);
                lua_pushvalue(L, j);
                lua_rawset(L, -3);
            }
            break;
        }
        case 12:
            if (top >= 1 && top < MAX_ITEMS)
                lua_pushvalue(L, (int)(next(g) % (unsigned)top) + 1);
            break;
        case 13:
            if (top < MAX_ITEMS)
                lua_pushstring(L, names[next(g) % (unsigned)nnames]);
            break;
        case 14:
            if (top < MAX_ITEMS)
                lua_pushstring(L, values[next(g) % (unsigned)nvalues]);
            break;
        case 15: {      /* wrap the top value n levels deep */
            unsigned n = next(g) % 100, k = next(g), i;
            if (top >= 1) {
                for (i = 0; i < n; i++) {
                    lua_createtable(L, 1, 1);
                    lua_insert(L, -2);
                    if (k & 1)
                        lua_rawseti(L, -2, 1);
                    else
                        lua_setfield(L, -2, names[(k + i) % (unsigned)nnames]);
                }
            }
            break;
        }
        case 16: {      /* integer keys: negative, zero, sparse, huge */
            static const lua_Integer keys[] = { 0, -1, 1, 2, 3, 5, 1000, (lua_Integer)1 << 40 };
            if (top < MAX_ITEMS)
                lua_pushinteger(L, keys[next(g) % 8]);
            break;
        }
        case 17:
            if (top < MAX_ITEMS)
                lua_pushcfunction(L, luaopen_bulksync_core);
            break;
        case 18:
            if (top < MAX_ITEMS)
                lua_pushnumber(L, (next(g) & 1) ? 1.5 : 2.0);
            break;
        case 19:
            if (top > 1)
                lua_pop(L, 1);
            break;
        case 20:        /* a foreign metatable */
            if (top >= 1 && lua_type(L, -1) == LUA_TTABLE) {
                lua_createtable(L, 0, 0);
                lua_setmetatable(L, -2);
            }
            break;
        case 21:        /* a valid body to mutate: reaches the deep schema paths */
            if (top < MAX_ITEMS) {
                lua_getglobal(L, "template");
                lua_pushinteger(L, (lua_Integer)next(g));
                lua_call(L, 1, 1);
            }
            break;
        case 22:        /* swap */
            if (top >= 2)
                lua_insert(L, -2);
            break;
        case 23:        /* a userdata */
            if (top < MAX_ITEMS)
                lua_newuserdatauv(L, 8, 0);
            break;
        case 24:        /* a string of the fuzz bytes left, as a key or a value */
            if (top < MAX_ITEMS) {
                size_t n = (size_t)(g->e - g->p) / 2;
                lua_pushlstring(L, (const char *)g->p, n);
                g->p += n;
            }
            break;
        default:        /* a table with a hole: { v, nil, v } */
            if (top >= 1 && top < MAX_ITEMS) {
                lua_createtable(L, 3, 0);
                lua_pushvalue(L, -2);
                lua_rawseti(L, -2, 1);
                lua_pushvalue(L, -2);
                lua_rawseti(L, -2, 3);
            }
            break;
        }
    }
}

/* Bodies that pass, for both API versions, to start mutations from. */
static const char template_code[] =
    "local core = core\n"
    "local function body(n)\n"
    "  local b = { name = 'n', mode = 'replicate', active = true,\n"
    "    source_connection_id = '0b4a6ad1-6a2b-4d8e-9a3f-2f1d2c3b4a51',\n"
    "    destination_connection_id = '9c2e8b4f-2222-4d3e-9f0a-1b2c3d4e5f60',\n"
    "    destination_configuration = { schema = 's', list = { 1, 2.5, 'x', core.null } },\n"
    "    concurrency_limit = 4, policies = core.array{},\n"
    "    schemas = { 'public.users', { id = 'public.orders', enabled = true,\n"
    "      fields = { { id = 'total', enabled = true } },\n"
    "      filters = { { field_id = 'total', ['function'] = 'GreaterThan', value = 10 } } } } }\n"
    "  if n % 2 == 0 then\n"
    "    b.default_schedule = { frequency = 'daily', hour = '05', minute = '00' }\n"
    "    b.additional_schedules = { { frequency = 'hourly', minute = '15' } }\n"
    "  else\n"
    "    b.schedule = { frequency = 'weekly', day_of_week = 'monday', hour = '01', minute = '02' }\n"
    "  end\n"
    "  return b\n"
    "end\n"
    "template = body\n";

/* Runs encode and validate with the same arguments; checks they agree. */
static void check_schema_walk(lua_State *L, int root, const char *version, int strict)
{
    int ok_encode, ok_validate;
    lua_Integer n_encode = 0, n_validate = 0;

    fuzz_core(L, "encode");
    lua_pushvalue(L, root);
    lua_pushstring(L, version);
    lua_pushboolean(L, strict);
    lua_call(L, 3, 3);
    ok_encode = lua_type(L, -3) == LUA_TSTRING;
    if (!ok_encode) {
        if (!lua_istable(L, -2))
            fuzz_fail(L, "encode failed without problems");
        n_encode = lua_tointeger(L, -1);
    } else {
        /* what encode writes, decode must read */
        fuzz_core(L, "decode");
        lua_pushvalue(L, -4);
        lua_call(L, 1, 2);
        if (lua_isnil(L, -2))
            fuzz_fail(L, "encode wrote JSON the decoder refuses");
        lua_pop(L, 2);
    }
    lua_pop(L, 3);

    fuzz_core(L, "validate");
    lua_pushvalue(L, root);
    lua_pushstring(L, version);
    lua_pushboolean(L, strict);
    lua_call(L, 3, 3);
    ok_validate = lua_toboolean(L, -3);
    if (!ok_validate)
        n_validate = lua_tointeger(L, -1);
    lua_pop(L, 3);
    if (ok_encode != ok_validate || n_encode != n_validate) {
        lua_pushfstring(L, "encode %s (%d problems), validate %s (%d problems), version %s strict %d",
                        ok_encode ? "ok" : "failed", (int)n_encode, ok_validate ? "ok" : "failed",
                        (int)n_validate, version, strict);
        fuzz_fail(L, "encode and validate disagree");
    }
}

typedef struct walk_budget {
    long values, bytes;
} walk_budget;

/* Counts what a walk of the value at idx visits as if every table were a
 * tree (no sharing and no cycle noticed), down to WALK_MAX_DEPTH, keys
 * and metatables aside; 0 once a budget is spent. */
static int within_budget(lua_State *L, int idx, int depth, walk_budget *b)
{
    size_t n = 0;
    int ok = 1;
    if (--b->values < 0)
        return 0;
    if (lua_type(L, idx) == LUA_TSTRING) {
        lua_tolstring(L, idx, &n);
        b->bytes -= (long)n;
        return b->bytes >= 0;
    }
    if (lua_type(L, idx) != LUA_TTABLE || depth >= WALK_MAX_DEPTH)
        return 1;
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (ok && lua_next(L, idx)) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            lua_tolstring(L, -2, &n);
            b->bytes -= (long)n;
        }
        ok = b->bytes >= 0 && within_budget(L, -1, depth + 1, b);
        lua_pop(L, 1);
    }
    if (!ok)
        lua_pop(L, 1);
    return ok;
}

static int setup(lua_State *L)
{
    if (luaL_loadstring(L, template_code) != LUA_OK)
        fuzz_fail(L, "template");
    lua_call(L, 0, 0);
    /* One valid body through the schema walk: the schema index it makes
     * once per state is then part of the snapshot. (Not through decode:
     * its string cache is made anew by each input, see harness.h.) */
    lua_getglobal(L, "template");
    lua_pushinteger(L, 0);
    lua_call(L, 1, 1);
    fuzz_core(L, "encode");
    lua_pushvalue(L, 1);
    fuzz_core(L, "API_VERSIONS");
    lua_rawgeti(L, -1, 1);
    lua_remove(L, -2);
    lua_call(L, 2, 1);
    if (!lua_isstring(L, -1))
        fuzz_fail(L, "the template does not encode");
    lua_settop(L, 0);
    return 0;
}

static int run(lua_State *L)
{
    prog g;
    walk_budget budget;
    unsigned pick;
    int root;

    g.p = (const uint8_t *)lua_touserdata(L, 1);
    g.e = g.p + (size_t)lua_tointeger(L, 2);
    pick = next(&g);
    lua_settop(L, 0);
    if (!lua_checkstack(L, MAX_ITEMS + 2 * WALK_MAX_DEPTH + 64))   /* within_budget: 2 a level */
        return 0;
    build(L, &g);
    if (lua_gettop(L) == 0)
        lua_pushnil(L);
    root = lua_gettop(L);
    budget.values = WALK_BUDGET_VALUES;
    budget.bytes = (long)WALK_BUDGET_BYTES;
    if (!within_budget(L, root, 0, &budget)) {
        if (fuzz_show)
            fprintf(stderr, "fuzz_encode: the value is past the walk budget: not run\n");
        return 0;
    }
    if (fuzz_show) {
        fuzz_core(L, "encode_value");
        lua_pushvalue(L, root);
        lua_call(L, 1, 1);
        fprintf(stderr, "fuzz_encode: %s\n", lua_isstring(L, -1) ? lua_tostring(L, -1) : "(not encodable)");
        lua_pop(L, 1);
    }

    if (!(pick & PICK_GENERIC)) {
        fuzz_core(L, "API_VERSIONS");
        lua_rawgeti(L, -1, (lua_Integer)(((pick & PICK_VERSION) >> 1) % lua_rawlen(L, -1)) + 1);
        check_schema_walk(L, root, lua_tostring(L, -1), (int)(pick & PICK_STRICT));
        return 0;
    }

    /* The generic writer: its output must read back as an equal value. */
    fuzz_core(L, "encode_value");
    lua_pushvalue(L, root);
    lua_call(L, 1, 2);
    if (lua_type(L, -2) == LUA_TSTRING) {
        int json = lua_gettop(L) - 1;
        fuzz_core(L, "decode");
        lua_pushvalue(L, json);
        lua_call(L, 1, 2);
        if (lua_isnil(L, -2))
            fuzz_fail(L, "encode_value wrote JSON the decoder refuses");
        lua_pop(L, 1);
        if (!fuzz_equal(L, root, -1, 0, 1)) {
            lua_pushvalue(L, json);
            fuzz_fail(L, "decode(encode_value(v)) differs from v");
        }
    } else if (!lua_istable(L, -1)) {
        fuzz_fail(L, "encode_value failed without problems");
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_one(setup, run, data, size, "raised");
}
