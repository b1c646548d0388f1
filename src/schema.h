/*
 * schema.h: the API versions' body descriptors and the walker that
 * validates and encodes a body against them.
 */
#ifndef BULKSYNC_SCHEMA_H
#define BULKSYNC_SCHEMA_H

#include "walk.h"

typedef struct bs_version bs_version;

/* The request bodies each version describes (core.BODY_KINDS, in this
 * order): the sync update, activate, start of an execution, one schema's
 * replacement, a patch of several schemas, and a schedule. */
#define BS_BODY_KINDS(X) \
    X(SYNC,     "sync")     \
    X(ACTIVATE, "activate") \
    X(START,    "start")    \
    X(SCHEMA,   "schema")   \
    X(SCHEMAS,  "schemas")  \
    X(SCHEDULE, "schedule")

#define BS_BODY_ENUM_(id, name) BS_BODY_##id,
typedef enum bs_body_kind { BS_BODY_KINDS(BS_BODY_ENUM_) BS_BODY_COUNT } bs_body_kind;
#undef BS_BODY_ENUM_

BS_INTERNAL const bs_version  *bs_schema_find(const char *name);  /* NULL if unsupported */
BS_INTERNAL const char *const *bs_schema_versions(void);          /* NULL-terminated, newest first */
BS_INTERNAL const char *const *bs_schema_kinds(void);             /* NULL-terminated, by bs_body_kind */
BS_INTERNAL int                bs_schema_kind(const char *name);  /* a bs_body_kind, or -1 */
/* Validates the body of that kind at idx against v and, when w->out is
 * set, writes its JSON. */
BS_INTERNAL void bs_schema_encode(bs_walk *w, int idx, const bs_version *v, bs_body_kind kind);
/* Pushes the field table of v's body of that kind as Lua data (for
 * diffing, to_update and docs). */
BS_INTERNAL void bs_schema_push(lua_State *L, const bs_version *v, bs_body_kind kind);
/* core.closest(name, list) -> nearest | nil */
BS_INTERNAL int  bs_schema_closest(lua_State *L);

#endif /* BULKSYNC_SCHEMA_H */
