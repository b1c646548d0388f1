/*
 * schema.c: the bulk-sync request body of each API version, described once
 * as data, and the walker that validates and encodes a body in one pass.
 *
 * Validation, encoding and core.schema() all read the descriptor tables
 * below; adding or changing a field is an edit to the data, never to code.
 *
 * Copyright (c) lua-bulksync developers. MIT licence (see README.md).
 */

#include <stdio.h>
#include <string.h>

#include "bulksync.h"

/* ===================== DESCRIPTORS ===================== */

enum {
    T_STRING, T_BOOLEAN, T_INTEGER, T_ENUM, T_UUID, T_DATETIME,
    T_OBJECT, T_MAP, T_LIST, T_ANY, T_STRING_OR_OBJECT
};

/* Names exported by core.schema(), indexed by the T_ values. */
static const char *const type_names[] = {
    "string", "boolean", "integer", "enum", "uuid", "date-time",
    "object", "map", "list", "any", "string_or_object"
};

#define F_REQUIRED  1u
#define F_NULLABLE  2u
#define F_KEPT      4u   /* the server keeps the value when a PUT omits it */
#define F_PART      8u   /* a schedule time part: people often give numbers */
#define F_STRICT   16u   /* nested, but strict refuses it omitted or empty: the
                          * server would enable what it does not list */

/* The seen-set of an object is a bitmask, so an object has at most this many
 * fields (the largest body has 19). */
#define MAX_FIELDS  32

typedef struct object object;

typedef struct field {
    const char         *name;     /* NULL for a list's item */
    unsigned char       type;
    unsigned char       flags;
    const char *const  *enums;    /* T_ENUM: NULL-terminated values */
    const object       *obj;      /* T_OBJECT, T_STRING_OR_OBJECT */
    const struct field *items;    /* T_LIST */
    const char         *reset;    /* JSON text of the value a PUT that omits it leaves */
    const char         *note;     /* the reset, in words for people */
    const char         *desc;
} field;

struct object {
    const char         *title;
    const field *const *fields;
    int                 nfields;
    int                 id;       /* slot of its name index (see INDEX) */
};

struct bs_version {
    const char   *name;
    const object *body;
};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---------- enums ---------- */
static const char *const e_frequency[] = {
    "manual", "continuous", "hourly", "daily", "weekly", "custom", "builder",
    "runafter", "multi", "dbtcloud", NULL
};
static const char *const e_discover[] = {
    "all", "onlyIncremental", "onlyNonIncremental", "none", NULL
};
static const char *const e_normalize[] = { "enabled", "disabled", "legacy", NULL };
static const char *const e_mode[] = { "snapshot", "replicate", NULL };
static const char *const e_selective[] = {
    "none", "incrementalFields", "nonincrementalFields", NULL
};
static const char *const e_sched_sync[] = { "normal", "refetch", "resync", "rebuild", NULL };
static const char *const e_filter_fn[] = {
    "Equality", "Inequality", "IsNull", "IsNotNull", "True", "False",
    "OnOrAfter", "OnOrBefore", "GreaterThan", "GreaterThanEqual", "LessThan",
    "LessThanEqual", "StringContains", "StringStartsWith", "StringEndsWith",
    "StringDoesNotContain", "StringDoesNotStartWith", "StringDoesNotEndWith",
    "StringOneOf", "StringNotOneOf", "Between", "ArrayContains",
    "ArrayDoesNotContain", "InTheLast", "RelativeOnOrBefore",
    "RelativeOnOrAfter", "StringLike", "StringNotLike", "StringMatchesTrimmed",
    NULL
};

/* Objects referenced before their definition (BulkSchedule is recursive). */
static const object o_default_schedule, o_additional_schedule, o_bulk_schedule,
    o_multi, o_itemized, o_schema, o_field_config, o_filter,
    o_body_2025, o_body_2024;

/* ---------- list items ---------- */
static const field i_string   = { NULL, T_STRING, 0, NULL, NULL, NULL, NULL, NULL, NULL };
static const field i_uuid     = { NULL, T_UUID, 0, NULL, NULL, NULL, NULL, NULL, NULL };
static const field i_additional_schedule =
    { NULL, T_OBJECT, 0, NULL, &o_additional_schedule, NULL, NULL, NULL, NULL };
static const field i_schema =
    { NULL, T_STRING_OR_OBJECT, 0, NULL, &o_schema, NULL, NULL, NULL, NULL };
static const field i_field_config =
    { NULL, T_STRING_OR_OBJECT, 0, NULL, &o_field_config, NULL, NULL, NULL, NULL };
static const field i_filter   = { NULL, T_OBJECT, 0, NULL, &o_filter, NULL, NULL, NULL, NULL };
static const field i_itemized = { NULL, T_OBJECT, 0, NULL, &o_itemized, NULL, NULL, NULL, NULL };

/* ---------- schedules ---------- */
static const field f_frequency =
    { "frequency", T_ENUM, F_REQUIRED, e_frequency, NULL, NULL, NULL, NULL, NULL };
static const field f_day_of_month =
    { "day_of_month", T_STRING, F_PART, NULL, NULL, NULL, NULL, NULL, "day of the month (1-31)" };
static const field f_day_of_week =
    { "day_of_week", T_STRING, F_PART, NULL, NULL, NULL, NULL, NULL, "day of the week" };
static const field f_hour =
    { "hour", T_STRING, F_PART, NULL, NULL, NULL, NULL, NULL, "hour of the day (0-23, UTC)" };
static const field f_minute =
    { "minute", T_STRING, F_PART, NULL, NULL, NULL, NULL, NULL, "minute of the hour (0-59)" };
static const field f_month =
    { "month", T_STRING, F_PART, NULL, NULL, NULL, NULL, NULL, "month of the year (1-12)" };
static const field f_schedule_id =
    { "id", T_UUID, 0, NULL, NULL, NULL, NULL, NULL, NULL };
static const field f_resync_mode =
    { "resync_mode", T_ENUM, 0, e_sched_sync, NULL, NULL, NULL, NULL, NULL };
static const field f_schedule_schemas =
    { "schemas", T_LIST, 0, NULL, NULL, &i_string, NULL, NULL,
      "schema ids this schedule applies to; empty means all" };
static const field f_selective_mode =
    { "selective_mode", T_ENUM, 0, e_selective, NULL, NULL, NULL, NULL, NULL };
static const field f_multi =
    { "multi", T_OBJECT, 0, NULL, &o_multi, NULL, NULL, NULL, NULL };
static const field f_multi_schedules =
    { "schedules", T_LIST, 0, NULL, NULL, &i_itemized, NULL, NULL, NULL };
static const field f_multi_type =
    { "type", T_STRING, 0, NULL, NULL, NULL, NULL, NULL, NULL };
static const field f_item =
    { "item", T_ENUM, F_REQUIRED, e_selective, NULL, NULL, NULL, NULL, NULL };
static const field f_item_schedule =
    { "schedule", T_OBJECT, F_REQUIRED, NULL, &o_bulk_schedule, NULL, NULL, NULL, NULL };

static const field *const default_schedule_fields[] = {
    &f_frequency, &f_day_of_month, &f_day_of_week, &f_hour, &f_minute,
    &f_month, &f_schedule_id
};
static const field *const additional_schedule_fields[] = {
    &f_frequency, &f_day_of_month, &f_day_of_week, &f_hour, &f_minute,
    &f_month, &f_schedule_id, &f_resync_mode, &f_schedule_schemas,
    &f_selective_mode
};
static const field *const bulk_schedule_fields[] = {
    &f_frequency, &f_day_of_month, &f_day_of_week, &f_hour, &f_minute,
    &f_month, &f_multi
};
static const field *const multi_fields[] = { &f_multi_schedules, &f_multi_type };
static const field *const itemized_fields[] = { &f_item, &f_item_schedule };

/* ---------- schemas[] items ---------- */
/* The API marks no id required, but an object without one names nothing. */
static const field f_config_id =
    { "id", T_STRING, F_REQUIRED, NULL, NULL, NULL, NULL, NULL, NULL };
static const field f_config_enabled =
    { "enabled", T_BOOLEAN, F_NULLABLE, NULL, NULL, NULL, NULL, NULL, NULL };
static const field f_disable_data_cutoff =
    { "disable_data_cutoff", T_BOOLEAN, F_NULLABLE, NULL, NULL, NULL, NULL, NULL, NULL };
static const field f_schema_cutoff =
    { "data_cutoff_timestamp", T_DATETIME, F_NULLABLE, NULL, NULL, NULL, NULL, NULL, NULL };
static const field f_partition_key =
    { "partition_key", T_STRING, F_NULLABLE, NULL, NULL, NULL, NULL, NULL, NULL };
static const field f_tracking_field =
    { "tracking_field", T_STRING, F_NULLABLE, NULL, NULL, NULL, NULL, NULL, NULL };
static const field f_schema_fields =
    { "fields", T_LIST, F_STRICT, NULL, NULL, &i_field_config, NULL,
      "every field of the schema enabled", NULL };
static const field f_schema_filters =
    { "filters", T_LIST, 0, NULL, NULL, &i_filter, NULL, NULL, NULL };
static const field f_obfuscate =
    { "obfuscate", T_BOOLEAN, F_NULLABLE, NULL, NULL, NULL, NULL, NULL, NULL };
static const field f_filter_field_id =
    { "field_id", T_STRING, 0, NULL, NULL, NULL, NULL, NULL, NULL };
static const field f_filter_function =
    { "function", T_ENUM, F_REQUIRED, e_filter_fn, NULL, NULL, NULL, NULL, NULL };
static const field f_filter_value =
    { "value", T_ANY, F_NULLABLE, NULL, NULL, NULL, NULL, NULL, NULL };

static const field *const schema_fields[] = {
    &f_config_id, &f_config_enabled, &f_disable_data_cutoff, &f_schema_cutoff,
    &f_partition_key, &f_tracking_field, &f_schema_fields, &f_schema_filters
};
static const field *const field_config_fields[] = {
    &f_config_id, &f_config_enabled, &f_obfuscate
};
static const field *const filter_fields[] = {
    &f_filter_field_id, &f_filter_function, &f_filter_value
};

/* ---------- top-level body fields ----------
 * reset: JSON text of what a full-replacement PUT that omits the field
 * leaves on the sync (NULL when no body value expresses it). */
static const field f_default_schedule =
    { "default_schedule", T_OBJECT, F_REQUIRED, NULL, &o_default_schedule, NULL, NULL, NULL,
      "the sync's main schedule (times in UTC)" };
static const field f_schedule =
    { "schedule", T_OBJECT, F_REQUIRED, NULL, &o_bulk_schedule, NULL, NULL, NULL,
      "the sync's schedule (times in UTC)" };
static const field f_destination_configuration =
    { "destination_configuration", T_MAP, F_REQUIRED, NULL, NULL, NULL, NULL, NULL,
      "destination-specific settings; keys depend on the connection type" };
static const field f_destination_connection_id =
    { "destination_connection_id", T_UUID, F_REQUIRED, NULL, NULL, NULL, NULL, NULL,
      "connection rows are written to" };
static const field f_mode =
    { "mode", T_ENUM, F_REQUIRED, e_mode, NULL, NULL, NULL, NULL, NULL };
static const field f_name =
    { "name", T_STRING, F_REQUIRED, NULL, NULL, NULL, NULL, NULL,
      "human-readable name of the sync" };
static const field f_source_connection_id =
    { "source_connection_id", T_UUID, F_REQUIRED, NULL, NULL, NULL, NULL, NULL,
      "connection rows are read from" };
static const field f_active =
    { "active", T_BOOLEAN, F_NULLABLE, NULL, NULL, NULL, "false",
      "inactive: stops running on its schedule",
      "inactive syncs do not run on their schedule but can be triggered manually" };
static const field f_additional_schedules =
    { "additional_schedules", T_LIST, F_NULLABLE, NULL, NULL, &i_additional_schedule, "[]",
      "no additional schedules", "more schedules (times in UTC)" };
static const field f_add_new_fields =
    { "automatically_add_new_fields", T_ENUM, 0, e_discover, NULL, NULL, "\"all\"",
      "newly discovered fields are enabled", NULL };
static const field f_add_new_objects =
    { "automatically_add_new_objects", T_ENUM, 0, e_discover, NULL, NULL, "\"none\"",
      "newly discovered objects are not enabled", NULL };
static const field f_concurrency_limit =
    { "concurrency_limit", T_INTEGER, F_NULLABLE, NULL, NULL, NULL, "null",
      "default concurrency", "overrides the default concurrency limit" };
static const field f_data_cutoff_timestamp =
    { "data_cutoff_timestamp", T_DATETIME, F_NULLABLE, NULL, NULL, NULL, "null",
      "no cutoff", "source records older than this are excluded" };
static const field f_disable_record_timestamps =
    { "disable_record_timestamps", T_BOOLEAN, F_NULLABLE, NULL, NULL, NULL, "false",
      "record timestamps added", "true: no timestamp columns added to destination rows" };
static const field f_discover =
    { "discover", T_BOOLEAN, 0, NULL, NULL, NULL, "false", "discovery off",
      "deprecated: use automatically_add_new_objects/automatically_add_new_fields" };
static const field f_normalize_names =
    { "normalize_names", T_ENUM, 0, e_normalize, NULL, NULL, "\"enabled\"",
      "names normalized", NULL };
static const field f_organization_id =
    { "organization_id", T_UUID, F_NULLABLE | F_KEPT, NULL, NULL, NULL, NULL,
      "the caller's organization", "partner callers only" };
static const field f_policies =
    { "policies", T_LIST, F_NULLABLE, NULL, NULL, &i_uuid, "[]", "no policies",
      "permission policy ids" };
static const field f_resync_concurrency_limit =
    { "resync_concurrency_limit", T_INTEGER, F_NULLABLE, NULL, NULL, NULL, "null",
      "default resync concurrency", "overrides the default resync concurrency limit" };
static const field f_schemas =
    { "schemas", T_LIST, F_NULLABLE, NULL, NULL, &i_schema, NULL, "all schemas selected",
      "schema ids or configurations; schema changes have their own endpoints" };
static const field f_source_configuration =
    { "source_configuration", T_MAP, F_NULLABLE, NULL, NULL, NULL, "null",
      "source defaults", "source-specific settings; keys depend on the connection type" };

/* In the spec's order: required first. */
static const field *const body_2025_fields[] = {
    &f_default_schedule, &f_destination_configuration,
    &f_destination_connection_id, &f_mode, &f_name, &f_source_connection_id,
    &f_active, &f_additional_schedules, &f_add_new_fields, &f_add_new_objects,
    &f_concurrency_limit, &f_data_cutoff_timestamp,
    &f_disable_record_timestamps, &f_normalize_names, &f_organization_id,
    &f_policies, &f_resync_concurrency_limit, &f_schemas,
    &f_source_configuration
};
static const field *const body_2024_fields[] = {
    &f_destination_configuration, &f_destination_connection_id, &f_mode,
    &f_name, &f_schedule, &f_source_connection_id,
    &f_active, &f_add_new_fields, &f_add_new_objects, &f_concurrency_limit,
    &f_data_cutoff_timestamp, &f_disable_record_timestamps, &f_discover,
    &f_normalize_names, &f_organization_id, &f_policies,
    &f_resync_concurrency_limit, &f_schemas, &f_source_configuration
};

/* ---------- objects ---------- */
#define OBJECT(var, title, fields, id) \
    static const object var = { title, fields, COUNT(fields), id }
OBJECT(o_body_2025,           "UpdateBulkSyncRequest",             body_2025_fields,           1);
OBJECT(o_body_2024,           "UpdateBulkSyncRequest",             body_2024_fields,           2);
OBJECT(o_default_schedule,    "BulkSyncDefaultScheduleRequest",    default_schedule_fields,    3);
OBJECT(o_additional_schedule, "BulkSyncAdditionalScheduleRequest", additional_schedule_fields, 4);
OBJECT(o_bulk_schedule,       "BulkSchedule",                      bulk_schedule_fields,       5);
OBJECT(o_multi,               "BulkMultiScheduleConfiguration",    multi_fields,               6);
OBJECT(o_itemized,            "BulkItemizedSchedule",              itemized_fields,            7);
OBJECT(o_schema,              "SchemaConfiguration",               schema_fields,              8);
OBJECT(o_field_config,        "FieldConfiguration",                field_config_fields,        9);
OBJECT(o_filter,              "BulkFilter",                        filter_fields,              10);

/* Every object, at the position of its id. */
static const object *const all_objects[] = {
    NULL, &o_body_2025, &o_body_2024, &o_default_schedule,
    &o_additional_schedule, &o_bulk_schedule, &o_multi, &o_itemized,
    &o_schema, &o_field_config, &o_filter
};

/* Newest first. */
static const bs_version versions[] = {
    { "2025-09-18", &o_body_2025 },
    { "2024-02-08", &o_body_2024 }
};
static const char *const version_names[] = { "2025-09-18", "2024-02-08", NULL };

const bs_version *bs_schema_find(const char *name)
{
    int i;
    for (i = 0; i < COUNT(versions); i++)
        if (strcmp(versions[i].name, name) == 0)
            return &versions[i];
    return NULL;
}

const char *const *bs_schema_versions(void)
{
    return version_names;
}

/* ===================== INDEX =====================
 * Finding a key's field must cost less than encoding it: a small open-
 * addressing hash per object, keyed on the length and three bytes of the
 * name and confirmed with memcmp. It is built once per Lua state into a
 * userdata kept in the registry (the descriptors are const data), so a
 * lookup makes no Lua API call and compares at most a name or two. */

#define SLOTS 64   /* power of two, well above MAX_FIELDS */
#define QUOTED_MAX 40   /* room for "name": of the longest field name (29 bytes) */

typedef struct lookup {
    unsigned char slot[SLOTS];        /* by name hash: 1-based field position; 0 = empty */
    unsigned char len[MAX_FIELDS];    /* name lengths */
    unsigned char pslot[SLOTS];       /* the same, by address of the interned name */
    const char   *interned[MAX_FIELDS];
    /* "name": padded with NULs: written with one fixed-size copy (a copy
     * of a variable small size compiles to a slow string instruction). */
    char          quoted[MAX_FIELDS][QUOTED_MAX];
} lookup;

typedef struct index_ud {
    lookup obj[sizeof all_objects / sizeof all_objects[0]];   /* by object id */
} index_ud;

static const char index_key = 0;   /* only its address is used */

static unsigned key_hash(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    return ((unsigned)n * 7u + u[0] * 3u + u[n / 2] * 5u + u[n - 1]) & (SLOTS - 1);
}

static unsigned ptr_hash(const char *p)
{
    size_t a = (size_t)p;
    return (unsigned)(a >> 4 ^ a >> 10) & (SLOTS - 1);
}

static const index_ud *get_index(lua_State *L)
{
    index_ud *ix;
    int i, j, names;
    lua_pushlightuserdata(L, (void *)&index_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    ix = (index_ud *)lua_touserdata(L, -1);
    lua_pop(L, 1);   /* the registry keeps it alive */
    if (ix)
        return ix;
    ix = (index_ud *)bs_newudata(L, sizeof *ix);
    memset(ix, 0, sizeof *ix);
    /* Lua interns short strings (all of them on 5.1 and LuaJIT) and never
     * moves an object: with the names kept alive here, a key equal to a
     * name is that very string, and is found by its address alone. */
    lua_newtable(L);
    names = lua_gettop(L);
    for (i = 1; i < COUNT(all_objects); i++) {
        const object *o = all_objects[i];
        lookup *lk = &ix->obj[i];
        if (o->id != i || o->nfields > MAX_FIELDS)
            luaL_error(L, "bulksync: object table %s is inconsistent", o->title);
        for (j = 0; j < o->nfields; j++) {
            const char *name = o->fields[j]->name;
            size_t n = strlen(name);
            unsigned h = key_hash(name, n);
            if (n + 3 > QUOTED_MAX)
                luaL_error(L, "bulksync: field name %s is too long", name);
            lk->quoted[j][0] = '"';
            memcpy(lk->quoted[j] + 1, name, n);
            lk->quoted[j][n + 1] = '"';
            lk->quoted[j][n + 2] = ':';
            while (lk->slot[h])
                h = (h + 1) & (SLOTS - 1);
            lk->slot[h] = (unsigned char)(j + 1);
            lk->len[j] = (unsigned char)n;
            lua_pushstring(L, name);
            lk->interned[j] = lua_tostring(L, -1);
            lua_rawseti(L, names, (int)bs_rawlen(L, names) + 1);
            for (h = ptr_hash(lk->interned[j]); lk->pslot[h]; h = (h + 1) & (SLOTS - 1))
                ;
            lk->pslot[h] = (unsigned char)(j + 1);
        }
    }
    bs_setuservalue(L, names - 1);
    lua_pushlightuserdata(L, (void *)&index_key);
    lua_insert(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
    return ix;
}

/* 1-based position of the field named s in o, 0 if none. */
static int find_field(const lookup *lk, const object *o, const char *s, size_t n)
{
    unsigned h;
    int pos;
    for (h = ptr_hash(s); (pos = lk->pslot[h]) != 0; h = (h + 1) & (SLOTS - 1))
        if (lk->interned[pos - 1] == s)
            return pos;
    /* Not one of the interned names: a long string (Lua 5.2+ does not
     * intern those), or no field at all. */
    if (n == 0 || n > 255)
        return 0;
    for (h = key_hash(s, n); (pos = lk->slot[h]) != 0; h = (h + 1) & (SLOTS - 1))
        if (lk->len[pos - 1] == n && memcmp(o->fields[pos - 1]->name, s, n) == 0)
            return pos;
    return 0;
}

/* ===================== CHECKS ===================== */

static int is_hex(int ch)
{
    return (ch >= '0' && ch <= '9') || ((ch | 32) >= 'a' && (ch | 32) <= 'f');
}

static int is_uuid(const char *s, size_t n)
{
    size_t i;
    if (n != 36)
        return 0;
    for (i = 0; i < n; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!is_hex((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

/* k decimal digits at s, or -1. */
static int digits(const char *s, int k)
{
    int v = 0;
    while (k-- > 0) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s++ - '0');
    }
    return v;
}

/* RFC 3339 date-time; NULL when valid, else why not. Second 60 is refused:
 * the server parses with Go's time package, which rejects leap seconds. */
static const char *check_datetime(const char *s, size_t n)
{
    static const char mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int year, month, day, hour, min, sec, dim;
    size_t p = 19;

    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't')
        || s[13] != ':' || s[16] != ':'
        || (year = digits(s, 4)) < 0 || (month = digits(s + 5, 2)) < 0
        || (day = digits(s + 8, 2)) < 0 || (hour = digits(s + 11, 2)) < 0
        || (min = digits(s + 14, 2)) < 0 || (sec = digits(s + 17, 2)) < 0)
        return "not YYYY-MM-DDTHH:MM:SS";
    if (s[p] == '.') {
        size_t start = ++p;
        while (p < n && s[p] >= '0' && s[p] <= '9')
            p++;
        if (p == start)
            return "no digits after the decimal point";
    }
    if (p < n && (s[p] == 'Z' || s[p] == 'z')) {
        if (p + 1 != n)
            return "text after the time zone";
    } else if (p < n && (s[p] == '+' || s[p] == '-')) {
        int oh, om;
        if (p + 6 != n || s[p + 3] != ':' || (oh = digits(s + p + 1, 2)) < 0
            || (om = digits(s + p + 4, 2)) < 0)
            return "time zone offset is not Z or +HH:MM";
        if (oh > 23 || om > 59)
            return "time zone offset out of range";
    } else {
        return "no time zone (Z or +HH:MM)";
    }
    if (month < 1 || month > 12)
        return "month out of range";
    dim = mdays[month - 1];
    if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
        dim = 29;
    if (day < 1 || day > dim)
        return "day out of range for the month";
    if (hour > 23)
        return "hour out of range";
    if (min > 59)
        return "minute out of range";
    if (sec > 59)
        return "second out of range";
    return NULL;
}

/* By length, as find_field does: a Lua string may hold a NUL, and then a
 * prefix compare would stop there and read past the end of the literal. */
static int find_enum(const char *const *e, const char *s, size_t n)
{
    for (; *e; e++)
        if ((*e)[0] == s[0] && strlen(*e) == n && memcmp(*e, s, n) == 0)
            return 1;
    return 0;
}

/* Damerau-Levenshtein distance (optimal string alignment), ignoring case. */
#define DL_MAX 64
static int lower(int ch) { return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch; }

static int distance(const char *a, size_t n, const char *b, size_t m)
{
    int rows[3][DL_MAX + 1];
    int *prev2 = rows[0], *prev = rows[1], *cur = rows[2], *t;
    size_t i, j;
    if (n > DL_MAX || m > DL_MAX)
        return DL_MAX;
    for (j = 0; j <= m; j++)
        prev[j] = (int)j;
    for (i = 1; i <= n; i++) {
        cur[0] = (int)i;
        for (j = 1; j <= m; j++) {
            int cost = lower((unsigned char)a[i - 1]) != lower((unsigned char)b[j - 1]);
            int d = prev[j] + 1;
            if (cur[j - 1] + 1 < d) d = cur[j - 1] + 1;
            if (prev[j - 1] + cost < d) d = prev[j - 1] + cost;
            if (i > 1 && j > 1
                && lower((unsigned char)a[i - 1]) == lower((unsigned char)b[j - 2])
                && lower((unsigned char)a[i - 2]) == lower((unsigned char)b[j - 1])
                && prev2[j - 2] + 1 < d)
                d = prev2[j - 2] + 1;
            cur[j] = d;
        }
        t = prev2; prev2 = prev; prev = cur; cur = t;
    }
    return prev[m];
}

/* Near enough to be a typo: one or two edits on a name that is not tiny,
 * or a third of its length. */
static int near_enough(int d, size_t len)
{
    return (d <= 2 && (size_t)(2 * d) < len) || (size_t)(3 * d) <= len;
}

/* The field of o whose name is nearest to key, if near enough. */
static const field *closest(const object *o, const char *key, size_t len)
{
    const field *best = NULL;
    int bestd = DL_MAX, j;
    for (j = 0; j < o->nfields; j++) {
        const char *name = o->fields[j]->name;
        int d = distance(key, len, name, strlen(name));
        if (d < bestd) {
            bestd = d;
            best = o->fields[j];
        }
    }
    return best && near_enough(bestd, len) ? best : NULL;
}

/* The enum value nearest to s, by the same measure as closest(). */
static const char *closest_enum(const char *const *e, const char *s, size_t len)
{
    const char *best = NULL;
    int bestd = DL_MAX;
    for (; *e; e++) {
        int d = distance(s, len, *e, strlen(*e));
        if (d < bestd) {
            bestd = d;
            best = *e;
        }
    }
    return best && near_enough(bestd, len) ? best : NULL;
}

/* core.closest(name, list) -> the string of list nearest to name, by the
 * same measure, or nil: option names get the suggestions fields get. */
int bs_schema_closest(lua_State *L)
{
    size_t len, n, i;
    const char *name = luaL_checklstring(L, 1, &len);
    int best = 0, bestd = DL_MAX;
    luaL_checktype(L, 2, LUA_TTABLE);
    n = (size_t)bs_rawlen(L, 2);
    for (i = 1; i <= n; i++) {
        size_t clen;
        const char *candidate;
        int d;
        lua_rawgeti(L, 2, (int)i);
        candidate = lua_tolstring(L, -1, &clen);
        d = candidate ? distance(name, len, candidate, clen) : DL_MAX;
        lua_pop(L, 1);
        if (d < bestd) {
            bestd = d;
            best = (int)i;
        }
    }
    if (best == 0 || !near_enough(bestd, len))
        return 0;
    lua_rawgeti(L, 2, best);
    return 1;
}

static const field *field_named(const object *o, const char *key, size_t len)
{
    int j;
    for (j = 0; j < o->nfields; j++)
        if (strlen(o->fields[j]->name) == len && memcmp(o->fields[j]->name, key, len) == 0)
            return o->fields[j];
    return NULL;
}

/* ===================== WALKER =====================
 * The path of the value being walked is kept as a chain of segments (a key
 * still on the Lua stack, or a list position) and spelled out into c->path
 * only when a problem is reported: a body with thousands of schemas formats
 * no index unless something is wrong in it. */

typedef struct seg {
    const char  *key;     /* NULL: a list position */
    size_t       len;
    lua_Integer  index;
} seg;

typedef struct walk {
    bs_ctx           *c;
    lua_State        *L;
    bs_buf           *out;     /* NULL: validate only */
    const index_ud   *index;
    const bs_version *v;
    int               stop;    /* too deep: the rest would only repeat it */
    int               nseg;
    seg               segs[BS_MAX_DEPTH + 4];
} walk;

/* Walking on would add nothing useful. */
#define STOPPED(w) ((w)->stop || (w)->c->halted || (w)->c->nproblems > BS_MAX_PROBLEMS)

/* Segments are pushed at most once per nesting level, and the depth limit
 * bounds those; the guard only keeps a bug from writing past the array. */
#define SEG_CAP ((int)(sizeof ((walk *)0)->segs / sizeof (seg)))
#define PUSH_KEY(w, k, n) \
    ((w)->nseg < SEG_CAP ? ((w)->segs[(w)->nseg].key = (k), (w)->segs[(w)->nseg].len = (n), 0) : 0, \
     (w)->nseg++)
#define PUSH_INDEX(w, i) \
    ((w)->nseg < SEG_CAP ? ((w)->segs[(w)->nseg].key = NULL, (w)->segs[(w)->nseg].index = (i), 0) : 0, \
     (w)->nseg++)
#define POP_SEG(w) ((w)->nseg--)

static void sync_path(walk *w)
{
    int i, n = w->nseg < SEG_CAP ? w->nseg : SEG_CAP;
    bs_path_restore(w->c, 0);
    for (i = 0; i < n; i++) {
        if (w->segs[i].key)
            bs_path_key(w->c, w->segs[i].key, w->segs[i].len);
        else
            bs_path_index(w->c, w->segs[i].index);
    }
}

#define REPORT(w, ...) (sync_path(w), bs_report((w)->c, __VA_ARGS__))

static void walk_value(walk *w, const field *f, int i);

/* A literal's length is a constant, so its copy is a move or two, not a
 * call: booleans and nulls are many of a body's values. */
#define OUT_LIT(w, s) do { \
        bs_buf *b_ = (w)->out; \
        if (b_->cap - b_->len < sizeof(s) - 1) \
            bs_buf_reserve((w)->L, b_, sizeof(s) - 1); \
        memcpy(b_->data + b_->len, "" s, sizeof(s) - 1); \
        b_->len += sizeof(s) - 1; \
    } while (0)
/* Most writes are one byte into a buffer that already has room. */
#define OUT_CHAR(w, ch) \
    ((w)->out->len < (w)->out->cap ? (void)((w)->out->data[(w)->out->len++] = (ch)) \
                                   : bs_buf_addchar((w)->L, (w)->out, (ch)))

/* Writes "s" for text already known to need no escaping (enum values,
 * UUIDs, date-times that passed their checks). */
static void out_plain_string(walk *w, const char *s, size_t n)
{
    bs_buf *b = w->out;
    if (b->cap - b->len < n + 2)
        bs_buf_reserve(w->L, b, n + 2);
    b->data[b->len++] = '"';
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len++] = '"';
}

/* The JSON writer reports at c->path, spelled out only when it did. */
static void repath(walk *w, int before)
{
    bs_ctx *c = w->c;
    int i;
    sync_path(w);
    for (i = before + 1; i <= c->nproblems && i <= BS_MAX_PROBLEMS; i++) {
        lua_rawgeti(w->L, c->problems, i);
        lua_pushlstring(w->L, c->path, c->pathlen);
        lua_setfield(w->L, -2, "path");
        lua_pop(w->L, 1);
    }
}

/* A limit stopped the walk: reported once, at the value that passed it. */
static void limit_stop(walk *w)
{
    char msg[160];
    if (w->c->limit_reported)
        return;
    w->c->limit_reported = 1;
    REPORT(w, "%s", bs_limit_text(w->c, msg, sizeof msg));
}

/* A JSON string of any text: the JSON writer checks UTF-8 and escapes. */
static void out_string(walk *w, const char *s, size_t n)
{
    int before = w->c->nproblems;
    if (w->out && BS_BIG(w->c, n)) {
        limit_stop(w);
        return;
    }
    if (!bs_json_string(w->c, s, n) && w->c->nproblems != before)
        repath(w, before);
}

/* Any value (filter values, free-form maps). Problems inside a table get
 * paths built on c->path, which is not spelled out yet: rare, so rather
 * than spelling it out for every value, drop what was reported and walk
 * that value once more with the path in place (no output: there are
 * problems, so the JSON is thrown away anyway). */
static void out_value(walk *w, int i)
{
    bs_ctx *c = w->c;
    bs_buf *out = c->out;
    int before = c->nproblems, k;
    if (bs_json_value(c, i) || c->nproblems == before)
        return;
    /* After a limit, walking again would only pass it again: the problems
     * are placed at this field. */
    if (lua_type(w->L, i) != LUA_TTABLE || c->halted) {
        repath(w, before);
        return;
    }
    for (k = before + 1; k <= c->nproblems && k <= BS_MAX_PROBLEMS; k++) {
        lua_pushnil(w->L);
        lua_rawseti(w->L, c->problems, k);
    }
    c->nproblems = before;
    sync_path(w);
    c->out = NULL;
    bs_json_value(c, i);
    c->out = out;
}

static const char *table_kind(lua_State *L, int i)
{
    int has_one;
    if (bs_is_array_marked(L, i))
        return "list";
    lua_rawgeti(L, i, 1);
    has_one = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (has_one)
        return "list";
    lua_pushnil(L);
    if (!lua_next(L, i))
        return "empty table";
    lua_pop(L, 2);
    return "object";
}

/* What was given, in a word. */
static const char *got_type(lua_State *L, int i)
{
    switch (lua_type(L, i)) {
    case LUA_TLIGHTUSERDATA:
        return lua_touserdata(L, i) == NULL ? "null" : "light userdata";
    case LUA_TTABLE:
        return table_kind(L, i);
    default:
        return lua_typename(L, lua_type(L, i));
    }
}

/* What f expects, in words. */
static const char *expected(const field *f, char *buf, size_t size)
{
    const char *const *e;
    size_t n;
    switch (f->type) {
    case T_STRING:   return "a string";
    case T_BOOLEAN:  return "a boolean";
    case T_INTEGER:  return "an integer";
    case T_UUID:     return "a UUID (8-4-4-4-12 hex digits)";
    case T_DATETIME: return "an RFC 3339 date-time such as \"2024-01-31T23:59:59Z\"";
    case T_OBJECT:
    case T_MAP:      return "an object";
    case T_LIST:     return "a list";
    case T_STRING_OR_OBJECT: return "a string or an object";
    case T_ENUM:
        n = (size_t)snprintf(buf, size, "one of:");
        for (e = f->enums; *e && n < size; e++)
            n += (size_t)snprintf(buf + n, size - n, "%s %s", e == f->enums ? "" : ",", *e);
        return buf;
    default:         return "any value";
    }
}

static void wrong_type(walk *w, const field *f, int i)
{
    char buf[512];
    if (f->type == T_STRING && (f->flags & F_PART))
        REPORT(w, "must be a string (schedule parts are strings, e.g. \"05\"), got %s",
               got_type(w->L, i));
    else
        REPORT(w, "must be %s, got %s", expected(f, buf, sizeof buf), got_type(w->L, i));
}

/* A string of the right type whose text is wrong. The text itself is never
 * quoted: a secret pasted into the wrong field would end up in a message or
 * a log. Its size says enough to find it, and for an enum the nearest value
 * (quoting the schema, not the input) says what was probably meant. */
static void wrong_text(walk *w, const field *f, const char *s, size_t n, const char *why)
{
    char buf[512], hint[96];
    const char *near = f->type == T_ENUM ? closest_enum(f->enums, s, n) : NULL;
    hint[0] = '\0';
    if (near)
        snprintf(hint, sizeof hint, "; did you mean `%s`?", near);
    REPORT(w, "must be %s, got a string of %lu byte%s%s%s%s%s", expected(f, buf, sizeof buf),
           (unsigned long)n, n == 1 ? "" : "s",
           why ? " (" : "", why ? why : "", why ? ")" : "", hint);
}

static int enter(walk *w)
{
    if (w->c->depth >= BS_MAX_DEPTH) {
        REPORT(w, "nested deeper than %d levels (does a table contain itself?)", BS_MAX_DEPTH);
        w->stop = 1;
        return 0;
    }
    w->c->depth++;
    return 1;
}

static void unknown_field(walk *w, const object *o, const char *key, size_t len, int root)
{
    const field *f;
    int i;
    if (root) {
        /* Names the other versions have, from their own tables. */
        for (i = 0; i < COUNT(versions); i++)
            if (&versions[i] != w->v && field_named(versions[i].body, key, len)) {
                REPORT(w, "`%s` belongs to API version %s, not %s",
                       w->c->path, versions[i].name, w->v->name);
                return;
            }
    }
    if ((f = closest(o, key, len)) != NULL) {
        REPORT(w, "unknown field; did you mean `%s`?", f->name);
        return;
    }
    if (root) {
        for (i = 0; i < COUNT(versions); i++)
            if (&versions[i] != w->v && (f = closest(versions[i].body, key, len)) != NULL) {
                REPORT(w, "unknown field; did you mean `%s`? It belongs to API version %s, not %s",
                       f->name, versions[i].name, w->v->name);
                return;
            }
    }
    REPORT(w, "unknown field");
}

/* The table at t should be an object: it is a list, or has a key (at kidx,
 * or none) that is not a string. */
static void not_an_object(walk *w, int t, int kidx, int root)
{
    char got[64];
    const char *kind = table_kind(w->L, t);
    if (kind[0] != 'l' && kidx)
        snprintf(got, sizeof got, "a table with a %s key", luaL_typename(w->L, kidx));
    else
        snprintf(got, sizeof got, "%s", kind);
    if (root)
        REPORT(w, "body must be a table with string keys, got %s", got);
    else
        REPORT(w, "must be an object, got %s", got);
}

/* Required fields, and with strict, every optional top-level field that a
 * full replacement would reset. */
static void check_missing(walk *w, const object *o, unsigned long seen, int root)
{
    int j;
    for (j = 0; j < o->nfields; j++) {
        const field *f = o->fields[j];
        if (seen & (1UL << j))
            continue;
        if (f->flags & F_REQUIRED) {
            PUSH_KEY(w, f->name, strlen(f->name));
            REPORT(w, "is required");
            POP_SEG(w);
        } else if (root && w->c->strict && !(f->flags & F_KEPT)) {
            PUSH_KEY(w, f->name, strlen(f->name));
            REPORT(w, "omitted: a full replacement resets it (%s); send it, or bulksync.null where nullable",
                   f->note ? f->note : "server default");
            POP_SEG(w);
        } else if (w->c->strict && (f->flags & F_STRICT)) {
            PUSH_KEY(w, f->name, strlen(f->name));
            REPORT(w, "omitted: the server would leave %s; send it (strict)", f->note);
            POP_SEG(w);
        }
    }
}

/* One lua_next pass finds each key's field in the object's lookup and
 * parks the value in that field's stack slot; then the fields are checked
 * and written in the schema's order, so the bytes never depend on a
 * process's hash order. */
static void walk_object(walk *w, const object *o, int t, int root)
{
    lua_State *L = w->L;
    const lookup *lk = &w->index->obj[o->id];
    unsigned long seen = 0;
    int first = 1, whole = 1, empty = 1, base, j;

    if (!enter(w))
        return;
    if (!lua_checkstack(L, o->nfields + 8)) {
        REPORT(w, "no room on the Lua stack to walk the body");
        w->stop = 1;
        w->c->depth--;
        return;
    }
    base = lua_gettop(L);
    lua_settop(L, base + o->nfields);   /* slot base + pos: the value of field pos */
    lua_pushnil(L);
    while (lua_next(L, t)) {
        const char *key;
        size_t klen;
        int pos;
        empty = 0;
        if (lua_type(L, -2) != LUA_TSTRING) {
            not_an_object(w, t, lua_gettop(L) - 1, root);
            whole = 0;
            break;
        }
        key = lua_tolstring(L, -2, &klen);
        pos = find_field(lk, o, key, klen);
        if (pos != 0) {
            seen |= 1UL << (pos - 1);
            lua_replace(L, base + pos);
            continue;
        }
        PUSH_KEY(w, key, klen);
        unknown_field(w, o, key, klen, root);
        POP_SEG(w);
        lua_pop(L, 1);
        if (STOPPED(w)) {
            whole = 0;
            break;
        }
    }
    lua_settop(L, base + o->nfields);
    if (w->out)
        OUT_CHAR(w, '{');
    for (j = 0; j < o->nfields && !STOPPED(w); j++) {
        const field *f = o->fields[j];
        size_t n = lk->len[j];
        if (!(seen & (1UL << j)))
            continue;
        if (w->out) {
            bs_buf *b = w->out;
            if (b->cap - b->len < QUOTED_MAX + 1)
                bs_buf_reserve(L, b, QUOTED_MAX + 1);
            if (!first)
                b->data[b->len++] = ',';
            memcpy(b->data + b->len, lk->quoted[j], QUOTED_MAX);
            b->len += n + 3;
            first = 0;
        }
        PUSH_KEY(w, f->name, n);
        walk_value(w, f, base + 1 + j);
        POP_SEG(w);
    }
    if (STOPPED(w))
        whole = 0;
    lua_settop(L, base);
    /* Only an empty table can be an array-marked one here: a marked list
     * with items has number keys. */
    if (empty && bs_is_array_marked(L, t)) {
        not_an_object(w, t, 0, root);
        whole = 0;
    }
    if (w->out)
        OUT_CHAR(w, '}');
    if (whole)
        check_missing(w, o, seen, root);
    w->c->depth--;
}

static int table_is_empty(lua_State *L, int t)
{
    lua_pushnil(L);
    if (lua_next(L, t)) {
        lua_pop(L, 2);
        return 0;
    }
    return 1;
}

/* strict: a bare id stands for an object without the fields that strict
 * wants sent (a schema given by id alone gets every field enabled). */
static void refuse_bare_id(walk *w, const object *o)
{
    int j;
    for (j = 0; j < o->nfields; j++) {
        const field *f = o->fields[j];
        if (f->flags & F_STRICT) {
            PUSH_KEY(w, f->name, strlen(f->name));
            REPORT(w, "omitted: an id alone leaves %s; give an object with its %s (strict)",
                   f->note, f->name);
            POP_SEG(w);
        }
    }
}

/* A list key: an integer >= 1 (5.1 and LuaJIT: an integral double). */
static int list_key(lua_State *L, int i, lua_Integer *k)
{
    lua_Number d;
    if (lua_type(L, i) != LUA_TNUMBER)
        return 0;
    if (bs_isinteger(L, i)) {
        *k = lua_tointeger(L, i);
        return *k >= 1;
    }
    d = lua_tonumber(L, i);
    if (!(d >= 1 && d <= 9007199254740992.0) || d != (lua_Number)(lua_Integer)d)
        return 0;
    *k = (lua_Integer)d;
    return 1;
}

/* Forgets the problems reported since `before` (their walk is redone). */
static void drop_problems(walk *w, int before)
{
    bs_ctx *c = w->c;
    int k;
    for (k = before + 1; k <= c->nproblems && k <= BS_MAX_PROBLEMS; k++) {
        lua_pushnil(w->L);
        lua_rawseti(w->L, c->problems, k);
    }
    c->nproblems = before;
}

/* A list whose keys are not 1, 2, 3 ... in traversal order: one lua_next
 * pass checks them (a sequence 1..n, no holes), then items go in index
 * order. */
static void walk_list_slow(walk *w, const field *f, int t, int base)
{
    lua_State *L = w->L;
    lua_Integer n = 0, max = 0, k;

    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_settop(L, base + 1);
        if (!list_key(L, base + 1, &k)) {
            if (lua_type(L, base + 1) == LUA_TSTRING)
                REPORT(w, "must be a list, got object");
            else
                REPORT(w, "must be a list, got a table with a %s key", luaL_typename(L, base + 1));
            lua_settop(L, base);
            return;
        }
        n++;
        if (k > max)
            max = k;
    }
    if (max != n) {
        REPORT(w, "must be a list, got a table with holes (%ld items, highest index %ld)",
               (long)n, (long)max);
        return;
    }
    if (w->out)
        OUT_CHAR(w, '[');
    for (k = 1; k <= n && !STOPPED(w); k++) {
        if (w->out && k > 1)
            OUT_CHAR(w, ',');
        lua_rawgeti(L, t, (int)k);
        PUSH_INDEX(w, k);
        walk_value(w, f->items, base + 1);
        POP_SEG(w);
        lua_settop(L, base);
    }
    if (w->out)
        OUT_CHAR(w, ']');
}

/* Lua traverses a sequence's array part in order, so the usual list is
 * walked in one lua_next pass, each item as its key arrives. A key out of
 * that order (hash part, hole, not a position) sends the list to the
 * checked path, after forgetting what its first items wrote and reported. */
static void walk_list(walk *w, const field *f, int t)
{
    lua_State *L = w->L;
    lua_Integer expect = 1, k;
    size_t mark = w->out ? w->out->len : 0;
    int before = w->c->nproblems, base;

    if (!enter(w))
        return;
    base = lua_gettop(L);
    if (w->out)
        OUT_CHAR(w, '[');
    lua_pushnil(L);
    while (lua_next(L, t)) {
        /* Where Lua has integers a float key is never integral (tables
         * normalise those), so the usual key takes two calls, not three. */
        if (BS_HAVE_INTEGER ? !(bs_isinteger(L, base + 1) && lua_tointeger(L, base + 1) == expect)
                            : (!list_key(L, base + 1, &k) || k != expect)) {
            lua_settop(L, base);
            drop_problems(w, before);
            if (w->out)
                w->out->len = mark;
            walk_list_slow(w, f, t, base);
            w->c->depth--;
            return;
        }
        if (w->out && expect > 1)
            OUT_CHAR(w, ',');
        PUSH_INDEX(w, expect);
        walk_value(w, f->items, base + 2);
        POP_SEG(w);
        expect++;
        lua_settop(L, base + 1);
        if (STOPPED(w))
            break;
    }
    lua_settop(L, base);
    if (w->out)
        OUT_CHAR(w, ']');
    w->c->depth--;
}

static void walk_integer(walk *w, const field *f, int i)
{
    lua_State *L = w->L;
    char tmp[32];
    lua_Number d;
    int n;

    if (lua_type(L, i) != LUA_TNUMBER) {
        wrong_type(w, f, i);
        return;
    }
    if (bs_isinteger(L, i)) {
        if (w->out)
            bs_json_number(w->c, i);   /* exact for an integer, never fails */
        return;
    }
    d = lua_tonumber(L, i);
    /* Where Lua has integers the API's int64 is the limit; elsewhere a
     * double is exact only to 2^53. */
    if (!(d >= (BS_HAVE_INTEGER ? -9223372036854775808.0 : -9007199254740992.0)
          && (BS_HAVE_INTEGER ? d < 9223372036854775808.0 : d <= 9007199254740992.0))) {
        if (d != d)
            REPORT(w, "must be an integer, got nan");
        else
            REPORT(w, "must be an integer between %s, got %.14g",
                   BS_HAVE_INTEGER ? "-2^63 and 2^63-1" : "-2^53 and 2^53", (double)d);
        return;
    }
    if (d != (lua_Number)(long long)d) {
        REPORT(w, "must be an integer, got %.14g", (double)d);
        return;
    }
    if (w->out) {
        n = snprintf(tmp, sizeof tmp, "%lld", (long long)d);
        bs_buf_add(L, w->out, tmp, (size_t)n);
    }
}

static void walk_map(walk *w, const field *f, int i)
{
    lua_State *L = w->L;
    const char *kind;
    if (lua_type(L, i) != LUA_TTABLE) {
        wrong_type(w, f, i);
        return;
    }
    kind = table_kind(L, i);
    if (kind[0] == 'l') {
        REPORT(w, "must be an object, got list");
    } else if (kind[0] == 'e') {
        /* An empty table is an empty object here, whatever the generic
         * writer would guess. */
        if (w->out)
            OUT_LIT(w, "{}");
    } else {
        out_value(w, i);
    }
}

static void walk_value(walk *w, const field *f, int i)
{
    lua_State *L = w->L;
    int t = lua_type(L, i);
    const char *s, *why;
    size_t len;

    if (BS_COUNT(w->c)) {
        limit_stop(w);
        return;
    }
    switch (f->type) {
    case T_STRING:
        if (t != LUA_TSTRING)
            break;
        s = lua_tolstring(L, i, &len);
        out_string(w, s, len);
        return;
    case T_BOOLEAN:
        if (t != LUA_TBOOLEAN)
            break;
        if (w->out) {
            if (lua_toboolean(L, i))
                OUT_LIT(w, "true");
            else
                OUT_LIT(w, "false");
        }
        return;
    case T_INTEGER:
        if (t != LUA_TNUMBER)
            break;
        walk_integer(w, f, i);
        return;
    case T_ENUM:
    case T_UUID:
    case T_DATETIME:
        if (t != LUA_TSTRING)
            break;
        s = lua_tolstring(L, i, &len);
        if (f->type == T_ENUM)
            why = (len > 0 && find_enum(f->enums, s, len)) ? NULL : "";
        else if (f->type == T_UUID)
            why = is_uuid(s, len) ? NULL : "";
        else
            why = check_datetime(s, len);
        if (why)
            wrong_text(w, f, s, len, why[0] ? why : NULL);
        else if (w->out)
            out_plain_string(w, s, len);
        return;
    case T_OBJECT:
        if (t != LUA_TTABLE)
            break;
        walk_object(w, f->obj, i, 0);
        return;
    case T_MAP:
        if (t != LUA_TTABLE)
            break;
        walk_map(w, f, i);
        return;
    case T_LIST:
        if (t != LUA_TTABLE)
            break;
        if ((f->flags & F_STRICT) && w->c->strict && table_is_empty(L, i))
            REPORT(w, "is empty: the server would leave %s; list them (strict)", f->note);
        walk_list(w, f, i);
        return;
    case T_STRING_OR_OBJECT:
        if (t == LUA_TSTRING) {
            if (w->c->strict)
                refuse_bare_id(w, f->obj);
            s = lua_tolstring(L, i, &len);
            out_string(w, s, len);
            return;
        }
        if (t != LUA_TTABLE)
            break;
        walk_object(w, f->obj, i, 0);
        return;
    default:
        if (t == LUA_TLIGHTUSERDATA && lua_touserdata(L, i) == NULL)
            break;
        out_value(w, i);
        return;
    }
    /* Not the expected Lua type: null, or a mistake. */
    if (t == LUA_TLIGHTUSERDATA && lua_touserdata(L, i) == NULL) {
        if (f->flags & F_NULLABLE) {
            if (w->out)
                OUT_LIT(w, "null");
        } else {
            char buf[512];
            REPORT(w, "cannot be null (must be %s)", expected(f, buf, sizeof buf));
        }
        return;
    }
    wrong_type(w, f, i);
}

void bs_schema_encode(bs_ctx *c, int idx, const bs_version *v)
{
    lua_State *L = c->L;
    int top = lua_gettop(L);
    walk w;

    if (idx < 0 && idx > LUA_REGISTRYINDEX)
        idx = top + idx + 1;
    if (lua_type(L, idx) != LUA_TTABLE) {
        bs_report(c, "body must be a table, got %s", got_type(L, idx));
        return;
    }
    /* Each nesting level holds a key and a value (and briefly one more):
     * check the room for the deepest walk once, not at every level. */
    if (!lua_checkstack(L, 4 * BS_MAX_DEPTH + 16)) {
        bs_report(c, "no room on the Lua stack to walk the body");
        return;
    }
    w.c = c;
    w.L = L;
    w.out = c->out;
    w.index = get_index(L);
    w.v = v;
    w.stop = 0;
    w.nseg = 0;
    walk_object(&w, v->body, idx, 1);
    lua_settop(L, top);
}

/* ===================== EXPORT =====================
 * core.schema(version): the same descriptors as Lua data, in the format of
 * the schema export contract. An object's fields/by_name tables are made
 * once per call and shared by every field of that type, so the recursive
 * BulkSchedule refers back to itself instead of recursing forever. */

static void push_field(lua_State *L, const field *f, int memo);

/* Pushes the fields and by_name tables of o. */
static void push_object(lua_State *L, const object *o, int memo)
{
    int j, pair, fields, by_name;

    lua_pushlightuserdata(L, (void *)o);
    lua_rawget(L, memo);
    if (lua_istable(L, -1)) {
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        lua_remove(L, -3);
        return;
    }
    lua_pop(L, 1);
    lua_createtable(L, 2, 0);
    pair = lua_gettop(L);
    lua_createtable(L, o->nfields, 0);
    fields = pair + 1;
    lua_createtable(L, 0, o->nfields);
    by_name = pair + 2;
    lua_pushvalue(L, fields);
    lua_rawseti(L, pair, 1);
    lua_pushvalue(L, by_name);
    lua_rawseti(L, pair, 2);
    lua_pushlightuserdata(L, (void *)o);
    lua_pushvalue(L, pair);
    lua_rawset(L, memo);    /* before the fields: a recursive use finds it */
    for (j = 0; j < o->nfields; j++) {
        push_field(L, o->fields[j], memo);
        lua_pushvalue(L, -1);
        lua_setfield(L, by_name, o->fields[j]->name);
        lua_rawseti(L, fields, j + 1);
    }
    lua_remove(L, pair);
}

static void push_field(lua_State *L, const field *f, int memo)
{
    char err[160];
    int i;

    luaL_checkstack(L, 8, "schema nested too deeply");
    lua_createtable(L, 0, 8);
    if (f->name) {
        lua_pushstring(L, f->name);
        lua_setfield(L, -2, "name");
    }
    lua_pushstring(L, type_names[f->type]);
    lua_setfield(L, -2, "type");
    lua_pushboolean(L, (f->flags & F_REQUIRED) != 0);
    lua_setfield(L, -2, "required");
    lua_pushboolean(L, (f->flags & F_NULLABLE) != 0);
    lua_setfield(L, -2, "nullable");
    if (f->enums) {
        lua_newtable(L);
        for (i = 0; f->enums[i]; i++) {
            lua_pushstring(L, f->enums[i]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, -2, "enum");
    }
    if (f->obj) {
        push_object(L, f->obj, memo);
        lua_setfield(L, -3, "by_name");
        lua_setfield(L, -2, "fields");
        lua_pushstring(L, f->obj->title);
        lua_setfield(L, -2, "title");
    }
    if (f->items) {
        push_field(L, f->items, memo);
        lua_setfield(L, -2, "items");
    }
    if (f->reset && bs_json_decode(L, f->reset, strlen(f->reset), err, sizeof err))
        lua_setfield(L, -2, "reset");
    if (f->note) {
        lua_pushstring(L, f->note);
        lua_setfield(L, -2, "reset_note");
    }
    if (f->flags & F_KEPT) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "kept");
    }
    if (f->desc) {
        lua_pushstring(L, f->desc);
        lua_setfield(L, -2, "description");
    }
}

void bs_schema_push(lua_State *L, const bs_version *v)
{
    int top, memo, i, j;

    luaL_checkstack(L, 16, "schema export");
    lua_createtable(L, 0, 4);
    top = lua_gettop(L);
    lua_newtable(L);
    memo = top + 1;
    lua_pushstring(L, v->name);
    lua_setfield(L, top, "version");
    push_object(L, v->body, memo);
    lua_setfield(L, top, "by_name");
    lua_setfield(L, top, "fields");

    lua_newtable(L);
    for (i = 0; i < COUNT(versions); i++) {
        const object *o = versions[i].body;
        if (&versions[i] == v)
            continue;
        for (j = 0; j < o->nfields; j++) {
            const char *name = o->fields[j]->name;
            if (!field_named(v->body, name, strlen(name))) {
                lua_pushstring(L, versions[i].name);
                lua_setfield(L, -2, name);
            }
        }
    }
    lua_setfield(L, top, "other_version");
    lua_settop(L, top);
}
