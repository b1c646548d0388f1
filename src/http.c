/* STUB: replaced by the libcurl client. */
#include "bulksync.h"
void bs_http_register(lua_State *L) { luaL_newmetatable(L, BS_HTTP_MT); lua_pop(L, 1); }
int bs_http_new(lua_State *L) { return luaL_error(L, "not yet"); }
