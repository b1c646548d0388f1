/*
 * fuzz_decode.c: libFuzzer harness for the response decoder.
 *
 * core.decode gets the raw bytes. Bad input must come back as nil and a
 * message; good input must survive the round trip: encode_value writes it
 * (a decoded value is always encodable), decode reads that back, and the
 * two values are equal, number subtypes and array marks included.
 */
#include <stdint.h>

#include "harness.h"

/* Nothing to make ahead: the decoder's string cache is made anew by each
 * input (see harness.h). */
static int setup(lua_State *L)
{
    (void)L;
    return 0;
}

static int run(lua_State *L)
{
    const char *data = (const char *)lua_touserdata(L, 1);
    size_t size = (size_t)lua_tointeger(L, 2);
    int v, v2;

    lua_settop(L, 0);
    fuzz_core(L, "decode");
    lua_pushlstring(L, data, size);
    lua_call(L, 1, 2);
    if (lua_isnil(L, 1)) {
        if (lua_type(L, 2) != LUA_TSTRING)
            fuzz_fail(L, "decode failed without a message");
        return 0;
    }
    lua_settop(L, 1);
    v = 1;
    if (fuzz_show) {
        fuzz_core(L, "encode_value");
        lua_pushvalue(L, v);
        lua_call(L, 1, 1);
        fprintf(stderr, "fuzz_decode: %s\n", lua_isstring(L, -1) ? lua_tostring(L, -1) : "(not encodable)");
        lua_pop(L, 1);
    }

    fuzz_core(L, "encode_value");
    lua_pushvalue(L, v);
    lua_call(L, 1, 2);
    if (lua_isnil(L, -2)) {
        lua_pop(L, 1);
        fuzz_fail(L, "a decoded value does not encode");
    }
    lua_pop(L, 1);                      /* the JSON at 2 */

    fuzz_core(L, "decode");
    lua_pushvalue(L, 2);
    lua_call(L, 1, 2);
    if (lua_isnil(L, -2))
        fuzz_fail(L, "the encoder wrote JSON the decoder refuses");
    lua_pop(L, 1);
    v2 = lua_gettop(L);
    if (!fuzz_equal(L, v, v2, 0, 0)) {
        lua_pushvalue(L, 2);
        fuzz_fail(L, "decode(encode(decode(x))) differs from decode(x)");
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_one(setup, run, data, size, "decode raised");
}
