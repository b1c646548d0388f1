/*
 * compat.h: the few differences between the Lua 5.1 (and LuaJIT), 5.2, 5.3
 * and 5.4 C APIs that lua-bulksync touches. Macros only, all prefixed bs_,
 * so nothing here collides with a real API name in any header set (LuaJIT
 * already declares luaL_setfuncs and friends).
 */
#ifndef BULKSYNC_COMPAT_H
#define BULKSYNC_COMPAT_H

#include "lua.h"
#include "lauxlib.h"

#if LUA_VERSION_NUM >= 502
#  define bs_rawlen(L, i)          lua_rawlen((L), (i))
#  define bs_setfuncs(L, l, n)     luaL_setfuncs((L), (l), (n))
#  define bs_getuservalue(L, i)    lua_getuservalue((L), (i))
#  define bs_setuservalue(L, i)    lua_setuservalue((L), (i))
#else
#  define bs_rawlen(L, i)          lua_objlen((L), (i))
#  define bs_getuservalue(L, i)    lua_getfenv((L), (i))
#  define bs_setuservalue(L, i)    lua_setfenv((L), (i))
/* luaL_register with a NULL name fills the table on top, as setfuncs does
 * with no upvalues; lua-bulksync never registers with upvalues on 5.1. */
#  define bs_setfuncs(L, l, n)     ((void)(n), luaL_register((L), NULL, (l)))
#endif

#if LUA_VERSION_NUM >= 503
/* Lua 5.3+ has a separate integer subtype: integers are exact to 2^63. */
#  define BS_HAVE_INTEGER 1
#  define bs_isinteger(L, i)       lua_isinteger((L), (i))
#else
/* 5.1, 5.2 and LuaJIT: every number is a double, exact only to 2^53. */
#  define BS_HAVE_INTEGER 0
#  define bs_isinteger(L, i)       0
#endif

#if LUA_VERSION_NUM >= 504
#  define bs_newudata(L, size)     lua_newuserdatauv((L), (size), 1)
#else
#  define bs_newudata(L, size)     lua_newuserdata((L), (size))
#endif

#endif /* BULKSYNC_COMPAT_H */
