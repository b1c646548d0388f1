/* STUB: replaced by the field tables and walker. */
#include "bulksync.h"
static const char *const versions[] = { "2025-09-18", "2024-02-08", NULL };
const bs_version *bs_schema_find(const char *name) { (void)name; return NULL; }
const char *const *bs_schema_versions(void) { return versions; }
void bs_schema_encode(bs_ctx *c, int idx, const bs_version *v) { (void)c; (void)idx; (void)v; }
void bs_schema_push(lua_State *L, const bs_version *v) { (void)v; lua_newtable(L); }
