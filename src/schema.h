/*
 * schema.h: the API versions' body descriptors and the walker that
 * validates and encodes a body against them.
 */
#ifndef BULKSYNC_SCHEMA_H
#define BULKSYNC_SCHEMA_H

#include "walk.h"

typedef struct bs_version bs_version;

BS_INTERNAL const bs_version  *bs_schema_find(const char *name);  /* NULL if unsupported */
BS_INTERNAL const char *const *bs_schema_versions(void);          /* NULL-terminated, newest first */
/* Validates the body at idx against v and, when w->out is set, writes its JSON. */
BS_INTERNAL void bs_schema_encode(bs_walk *w, int idx, const bs_version *v);
/* Pushes v's field table as Lua data (for diffing, to_update and docs). */
BS_INTERNAL void bs_schema_push(lua_State *L, const bs_version *v);
/* core.closest(name, list) -> nearest | nil */
BS_INTERNAL int  bs_schema_closest(lua_State *L);

#endif /* BULKSYNC_SCHEMA_H */
