/*
 * schema.c: the request bodies of each API version (the sync update,
 * activate, start, schema, schemas, schedule), described once as data, and the walker that validates
 * and encodes a body in one pass.
 *
 * Validation, encoding and core.schema() all read the descriptor tables
 * below; adding or changing a field is an edit to the data, never to code.
 *
 * Copyright (c) lua-bulksync developers. MIT licence (see README.md).
 */

#include <stdio.h>
#include <string.h>

#include "schema.h"
#include "json.h"

/* ===================== DESCRIPTORS ===================== */

/* Field types and the names core.schema() exports for them. */
#define FIELD_TYPES(X) \
    X(T_STRING,           "string")   \
    X(T_BOOLEAN,          "boolean")  \
    X(T_INTEGER,          "integer")  \
    X(T_ENUM,             "enum")     \
    X(T_UUID,             "uuid")     \
    X(T_DATETIME,         "date-time") \
    X(T_OBJECT,           "object")   \
    X(T_MAP,              "map")      \
    X(T_LIST,             "list")     \
    X(T_ANY,              "any")      \
    X(T_STRING_OR_OBJECT, "string_or_object")

#define TYPE_ENUM_(id, name) id,
#define TYPE_NAME_(id, name) name,
enum { FIELD_TYPES(TYPE_ENUM_) T_COUNT };
static const char *const type_names[T_COUNT] = { FIELD_TYPES(TYPE_NAME_) };

#define F_REQUIRED  1u
#define F_NULLABLE  2u
#define F_KEPT      4u   /* the server keeps the value when a PUT omits it */
#define F_PART      8u   /* a schedule time part: people often give numbers */
#define F_STRICT   16u   /* nested, but strict refuses it omitted or empty: the
                          * server would enable what it does not list */
#define F_SECRET   32u   /* identifies the caller: plans print it masked */

/* The seen-set of an object is a bitmask, so an object has at most this many
 * fields (the largest body has 19). */
#define MAX_FIELDS  32
/* Stack slots asked for beyond what one object needs, when it asks. */
#define STACK_STEP  128

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
    const char         *response_name;   /* spelt so in the schema endpoints' answers */
    /* A field of the same object that may not be sent with this one when
     * both are engaged (present, neither false nor null). Declared on one
     * of the two; the later of them in the object's order gets the problem. */
    const struct field *exclusive;
} field;

/* A body that replaces the whole resource: strict refuses its omitted
 * optional fields, which the replacement would reset. */
#define O_REPLACE   1u

struct object {
    const char         *title;
    const field *const *fields;
    int                 nfields;
    int                 id;       /* slot of its name index (see INDEX) */
    unsigned            flags;    /* O_REPLACE */
};

struct bs_version {
    const char   *name;
    const object *body[BS_BODY_COUNT];   /* by bs_body_kind */
};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Every object: its variable, title, field list and flags. The ids, the
 * index slots and all_objects[] follow from this one list. */
#define OBJECTS(X) \
    X(o_body_2025,           "UpdateBulkSyncRequest",             body_2025_fields,           O_REPLACE) \
    X(o_body_2024,           "UpdateBulkSyncRequest",             body_2024_fields,           O_REPLACE) \
    X(o_default_schedule,    "BulkSyncDefaultScheduleRequest",    default_schedule_fields,    0) \
    X(o_additional_schedule, "BulkSyncAdditionalScheduleRequest", additional_schedule_fields, 0) \
    X(o_bulk_schedule,       "BulkSchedule",                      bulk_schedule_fields,       0) \
    X(o_multi,               "BulkMultiScheduleConfiguration",    multi_fields,               0) \
    X(o_itemized,            "BulkItemizedSchedule",              itemized_fields,            0) \
    X(o_schema,              "SchemaConfiguration",               schema_fields,              0) \
    X(o_field_config,        "FieldConfiguration",                field_config_fields,        0) \
    X(o_filter,              "BulkFilter",                        filter_fields,              0) \
    X(o_activate,            "ActivateSyncInput",                 activate_fields,            0) \
    X(o_start_2025,          "StartBulkSyncRequest",              start_2025_fields,          0) \
    X(o_start_2024,          "StartBulkSyncRequest",              start_2024_fields,          0) \
    X(o_update_schema,       "UpdateBulkSchema",                  update_schema_fields,       O_REPLACE) \
    X(o_update_field,        "UpdateBulkField",                   update_field_fields,        0) \
    X(o_patch_schemas,       "UpdateBulkSyncSchemasRequest",      patch_schemas_fields,       0) \
    X(o_bulk_schema,         "BulkSchema",                        bulk_schema_fields,         0) \
    X(o_bulk_field,          "BulkField",                         bulk_field_fields,          0) \
    X(o_schedule_request,    "CreateScheduleRequest",             schedule_request_fields,    0) \
    X(o_schedule_api,        "BulkSyncScheduleAPI",               schedule_api_fields,        0)

/* The API versions, newest first: the first is the default. Each names
 * its body of every kind (bs_body_kind, schema.h): sync, activate, start,
 * schema, schemas, schedule. */
#define API_VERSIONS(X) \
    X("2025-09-18", o_body_2025, o_activate, o_start_2025, o_update_schema, o_patch_schemas, o_schedule_request) \
    X("2024-02-08", o_body_2024, o_activate, o_start_2024, o_update_schema, o_patch_schemas, o_schedule_request)

#define OBJ_ID_(var, title, fields, flags) ID_##var,
enum { ID_NONE, OBJECTS(OBJ_ID_) OBJECT_COUNT };
#undef OBJ_ID_

/* Declared before their definitions: BulkSchedule refers to itself. */
#define OBJ_DECL_(var, title, fields, flags) static const object var;
OBJECTS(OBJ_DECL_)
#undef OBJ_DECL_

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

/* ---------- list items ---------- */
static const field i_string = { .type = T_STRING };
static const field i_uuid = { .type = T_UUID };
static const field i_additional_schedule = { .type = T_OBJECT, .obj = &o_additional_schedule };
static const field i_schema = { .type = T_STRING_OR_OBJECT, .obj = &o_schema };
static const field i_field_config = { .type = T_STRING_OR_OBJECT, .obj = &o_field_config };
static const field i_filter = { .type = T_OBJECT, .obj = &o_filter };
static const field i_itemized = { .type = T_OBJECT, .obj = &o_itemized };
static const field i_update_field = { .type = T_OBJECT, .obj = &o_update_field };
static const field i_bulk_schema = { .type = T_OBJECT, .obj = &o_bulk_schema };
static const field i_bulk_field = { .type = T_OBJECT, .obj = &o_bulk_field };

/* ---------- schedules ---------- */
static const field f_frequency = {
    .name = "frequency", .type = T_ENUM, .flags = F_REQUIRED, .enums = e_frequency };
static const field f_day_of_month = {
    .name = "day_of_month", .type = T_STRING, .flags = F_PART,
    .desc = "day of the month (1-31)" };
static const field f_day_of_week = {
    .name = "day_of_week", .type = T_STRING, .flags = F_PART, .desc = "day of the week" };
static const field f_hour = {
    .name = "hour", .type = T_STRING, .flags = F_PART, .desc = "hour of the day (0-23, UTC)" };
static const field f_minute = {
    .name = "minute", .type = T_STRING, .flags = F_PART, .desc = "minute of the hour (0-59)" };
static const field f_month = {
    .name = "month", .type = T_STRING, .flags = F_PART, .desc = "month of the year (1-12)" };
static const field f_schedule_id = { .name = "id", .type = T_UUID };
static const field f_resync_mode = { .name = "resync_mode", .type = T_ENUM, .enums = e_sched_sync };
static const field f_schedule_schemas = {
    .name = "schemas", .type = T_LIST, .items = &i_string,
    .desc = "schema ids this schedule applies to; empty means all" };
static const field f_selective_mode = {
    .name = "selective_mode", .type = T_ENUM, .enums = e_selective };
static const field f_multi = { .name = "multi", .type = T_OBJECT, .obj = &o_multi };
static const field f_multi_schedules = { .name = "schedules", .type = T_LIST, .items = &i_itemized };
static const field f_multi_type = { .name = "type", .type = T_STRING };
static const field f_item = {
    .name = "item", .type = T_ENUM, .flags = F_REQUIRED, .enums = e_selective };
static const field f_item_schedule = {
    .name = "schedule", .type = T_OBJECT, .flags = F_REQUIRED, .obj = &o_bulk_schedule };

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
static const field f_config_id = { .name = "id", .type = T_STRING, .flags = F_REQUIRED };
static const field f_config_enabled = {
    .name = "enabled", .type = T_BOOLEAN, .flags = F_NULLABLE };
static const field f_disable_data_cutoff = {
    .name = "disable_data_cutoff", .type = T_BOOLEAN, .flags = F_NULLABLE };
static const field f_schema_cutoff = {
    .name = "data_cutoff_timestamp", .type = T_DATETIME, .flags = F_NULLABLE };
static const field f_partition_key = {
    .name = "partition_key", .type = T_STRING, .flags = F_NULLABLE };
static const field f_tracking_field = {
    .name = "tracking_field", .type = T_STRING, .flags = F_NULLABLE };
static const field f_schema_fields = {
    .name = "fields", .type = T_LIST, .flags = F_STRICT, .items = &i_field_config,
    .note = "every field of the schema enabled" };
static const field f_schema_filters = { .name = "filters", .type = T_LIST, .items = &i_filter };
/* The schema endpoints answer with `obfuscated`; a body sends `obfuscate`. */
static const field f_obfuscate = {
    .name = "obfuscate", .type = T_BOOLEAN, .flags = F_NULLABLE,
    .response_name = "obfuscated" };
static const field f_filter_field_id = { .name = "field_id", .type = T_STRING };
static const field f_filter_function = {
    .name = "function", .type = T_ENUM, .flags = F_REQUIRED, .enums = e_filter_fn };
static const field f_filter_value = { .name = "value", .type = T_ANY, .flags = F_NULLABLE };

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
static const field f_default_schedule = {
    .name = "default_schedule", .type = T_OBJECT, .flags = F_REQUIRED,
    .obj = &o_default_schedule, .desc = "the sync's main schedule (times in UTC)" };
static const field f_schedule = {
    .name = "schedule", .type = T_OBJECT, .flags = F_REQUIRED, .obj = &o_bulk_schedule,
    .desc = "the sync's schedule (times in UTC)" };
static const field f_destination_configuration = {
    .name = "destination_configuration", .type = T_MAP, .flags = F_REQUIRED,
    .desc = "destination-specific settings; keys depend on the connection type" };
static const field f_destination_connection_id = {
    .name = "destination_connection_id", .type = T_UUID, .flags = F_REQUIRED,
    .desc = "connection rows are written to" };
static const field f_mode = { .name = "mode", .type = T_ENUM, .flags = F_REQUIRED, .enums = e_mode };
static const field f_name = {
    .name = "name", .type = T_STRING, .flags = F_REQUIRED,
    .desc = "human-readable name of the sync" };
static const field f_source_connection_id = {
    .name = "source_connection_id", .type = T_UUID, .flags = F_REQUIRED,
    .desc = "connection rows are read from" };
static const field f_active = {
    .name = "active", .type = T_BOOLEAN, .flags = F_NULLABLE,
    .reset = "false", .note = "inactive: stops running on its schedule",
    .desc = "inactive syncs do not run on their schedule but can be triggered manually" };
static const field f_additional_schedules = {
    .name = "additional_schedules", .type = T_LIST, .flags = F_NULLABLE,
    .items = &i_additional_schedule, .reset = "[]", .note = "no additional schedules",
    .desc = "more schedules (times in UTC)" };
static const field f_add_new_fields = {
    .name = "automatically_add_new_fields", .type = T_ENUM, .enums = e_discover,
    .reset = "\"all\"", .note = "newly discovered fields are enabled" };
static const field f_add_new_objects = {
    .name = "automatically_add_new_objects", .type = T_ENUM, .enums = e_discover,
    .reset = "\"none\"", .note = "newly discovered objects are not enabled" };
static const field f_concurrency_limit = {
    .name = "concurrency_limit", .type = T_INTEGER, .flags = F_NULLABLE,
    .reset = "null", .note = "default concurrency",
    .desc = "overrides the default concurrency limit" };
static const field f_data_cutoff_timestamp = {
    .name = "data_cutoff_timestamp", .type = T_DATETIME, .flags = F_NULLABLE,
    .reset = "null", .note = "no cutoff",
    .desc = "source records older than this are excluded" };
static const field f_disable_record_timestamps = {
    .name = "disable_record_timestamps", .type = T_BOOLEAN, .flags = F_NULLABLE,
    .reset = "false", .note = "record timestamps added",
    .desc = "true: no timestamp columns added to destination rows" };
static const field f_discover = {
    .name = "discover", .type = T_BOOLEAN, .reset = "false", .note = "discovery off",
    .desc = "deprecated: use automatically_add_new_objects/automatically_add_new_fields" };
static const field f_normalize_names = {
    .name = "normalize_names", .type = T_ENUM, .enums = e_normalize,
    .reset = "\"enabled\"", .note = "names normalized" };
static const field f_organization_id = {
    .name = "organization_id", .type = T_UUID, .flags = F_NULLABLE | F_KEPT | F_SECRET,
    .note = "the caller's organization", .desc = "partner callers only" };
static const field f_policies = {
    .name = "policies", .type = T_LIST, .flags = F_NULLABLE, .items = &i_uuid,
    .reset = "[]", .note = "no policies", .desc = "permission policy ids" };
static const field f_resync_concurrency_limit = {
    .name = "resync_concurrency_limit", .type = T_INTEGER, .flags = F_NULLABLE,
    .reset = "null", .note = "default resync concurrency",
    .desc = "overrides the default resync concurrency limit" };
static const field f_schemas = {
    .name = "schemas", .type = T_LIST, .flags = F_NULLABLE, .items = &i_schema,
    .note = "all schemas selected",
    .desc = "schema ids or configurations; schema changes have their own endpoints" };
static const field f_source_configuration = {
    .name = "source_configuration", .type = T_MAP, .flags = F_NULLABLE,
    .reset = "null", .note = "source defaults",
    .desc = "source-specific settings; keys depend on the connection type" };

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

/* Fields a GET of a sync returns that no body carries. */
static const char *const read_only_fields[] = {
    "id", "created_at", "created_by", "updated_at", "updated_by", NULL
};

/* ---------- activate: POST /api/bulk/syncs/{id}/activate ---------- */
static const field f_activate_active = {
    .name = "active", .type = T_BOOLEAN, .flags = F_REQUIRED,
    .desc = "false also requests cancellation of a running execution" };

static const field *const activate_fields[] = { &f_activate_active };

/* ---------- start: POST /api/bulk/syncs/{id}/executions ---------- */
static const char *const e_fetch_mode[] = { "none", "incremental", "full", NULL };
static const char *const e_resync_mode[] = { "refetch", "resync", "rebuild", NULL };

static const field f_fetch_mode = {
    .name = "fetch_mode", .type = T_ENUM, .enums = e_fetch_mode,
    .desc = "how data is fetched; incremental and full apply to Salesforce sources" };
static const field f_test = {
    .name = "test", .type = T_BOOLEAN,
    .desc = "true: a test execution that validates without writing to the destination" };
static const field f_start_resync_mode = {
    .name = "resync_mode", .type = T_ENUM, .enums = e_resync_mode, .exclusive = &f_test,
    .desc = "a destructive or full-refresh rerun" };
static const field f_start_resync = {
    .name = "resync", .type = T_BOOLEAN, .exclusive = &f_test,
    .desc = "true: resync every schema (the older spelling of resync_mode)" };
static const field f_start_schemas = {
    .name = "schemas", .type = T_LIST, .flags = F_NULLABLE, .items = &i_string,
    .desc = "schema ids this execution runs; empty or null means every enabled schema" };

static const field *const start_2025_fields[] = {
    &f_fetch_mode, &f_start_resync_mode, &f_start_schemas, &f_test
};
static const field *const start_2024_fields[] = {
    &f_fetch_mode, &f_start_resync, &f_start_schemas, &f_test
};

/* ---------- the schema endpoints' bodies ----------
 * schema: PUT /api/bulk/syncs/{id}/schemas/{schema_id} replaces the schema's
 * configuration whole (UpdateBulkSchema); schemas: PATCH .../schemas changes
 * the listed ones, matched by id (UpdateBulkSyncSchemasRequest). The notes
 * say what a replacement that omits a field leaves. */
static const field f_us_cutoff = {
    .name = "data_cutoff_timestamp", .type = T_DATETIME, .flags = F_NULLABLE,
    .note = "no cutoff", .desc = "records older than this are excluded from sync runs" };
static const field f_us_disable_cutoff = {
    .name = "disable_data_cutoff", .type = T_BOOLEAN, .note = "the cutoff applies",
    .desc = "true: data_cutoff_timestamp is ignored for this schema" };
static const field f_us_enabled = {
    .name = "enabled", .type = T_BOOLEAN, .note = "the schema enabled (the default)",
    .desc = "whether this schema is included in sync runs" };
static const field f_us_fields = {
    .name = "fields", .type = T_LIST, .flags = F_NULLABLE | F_STRICT, .items = &i_update_field,
    .note = "every field of the schema enabled",
    .desc = "field settings; empty or null enables every field discovered on the source" };
static const field f_us_filters = {
    .name = "filters", .type = T_LIST, .flags = F_NULLABLE, .items = &i_filter,
    .note = "no filters", .desc = "row filters applied when reading from the source" };
static const field f_us_partition_key = {
    .name = "partition_key", .type = T_STRING, .note = "no partition key",
    .desc = "source field that partitions rows written to the destination" };
static const field f_us_tracking_field = {
    .name = "tracking_field", .type = T_STRING, .note = "no tracking field",
    .desc = "source field that detects changes between incremental runs" };
static const field f_us_user_output_name = {
    .name = "user_output_name", .type = T_STRING, .note = "the default output name",
    .desc = "overrides the name of the object written to the destination" };
static const field f_bf_enabled = { .name = "enabled", .type = T_BOOLEAN };
static const field f_bf_id = { .name = "id", .type = T_STRING };
static const field f_bf_obfuscated = { .name = "obfuscated", .type = T_BOOLEAN };
static const field f_bf_output_name = { .name = "output_name", .type = T_STRING };
static const field f_bf_user_output_name = { .name = "user_output_name", .type = T_STRING };
static const field f_bs_id = {
    .name = "id", .type = T_STRING, .flags = F_REQUIRED,
    .desc = "the schema to change: schemas are matched by id" };
static const field f_bs_disable_cutoff = { .name = "disable_data_cutoff", .type = T_BOOLEAN };
static const field f_bs_partition_key = { .name = "partition_key", .type = T_STRING };
static const field f_bs_tracking_field = { .name = "tracking_field", .type = T_STRING };
static const field f_bs_fields = {
    .name = "fields", .type = T_LIST, .flags = F_STRICT, .items = &i_bulk_field,
    .note = "every field of the schema enabled" };
static const field f_patch_schemas = {
    .name = "schemas", .type = T_LIST, .flags = F_REQUIRED | F_NULLABLE, .items = &i_bulk_schema,
    .desc = "schemas to change; those not listed are left as they are" };

static const field *const update_schema_fields[] = {
    &f_us_cutoff, &f_us_disable_cutoff, &f_us_enabled, &f_us_fields, &f_us_filters,
    &f_us_partition_key, &f_us_tracking_field, &f_us_user_output_name
};
static const field *const update_field_fields[] = {
    &f_bf_enabled, &f_bf_id, &f_bf_obfuscated, &f_bf_user_output_name
};
static const field *const patch_schemas_fields[] = { &f_patch_schemas };
static const field *const bulk_schema_fields[] = {
    &f_schema_cutoff, &f_bs_disable_cutoff, &f_bf_enabled, &f_bs_fields, &f_schema_filters,
    &f_bs_id, &f_bf_output_name, &f_bs_partition_key, &f_bs_tracking_field, &f_bf_user_output_name
};
static const field *const bulk_field_fields[] = {
    &f_bf_enabled, &f_bf_id, &f_bf_obfuscated, &f_bf_output_name, &f_bf_user_output_name
};

/* ---------- schedule: POST .../schedules, PUT .../schedules/{id} ----------
 * Spelt in camelCase, unlike every other body: a snake_case key is found
 * by the suggester's comparison, which ignores '_' and case. */
static const field f_sa_day_of_month = {
    .name = "dayOfMonth", .type = T_STRING, .flags = F_PART, .desc = "day of the month (1-31)" };
static const field f_sa_day_of_week = {
    .name = "dayOfWeek", .type = T_STRING, .flags = F_PART, .desc = "day of the week" };
static const field f_sa_selective_mode = {
    .name = "selectiveMode", .type = T_ENUM, .enums = e_selective };
static const field f_schedule_api = {
    .name = "schedule", .type = T_OBJECT, .flags = F_REQUIRED, .obj = &o_schedule_api,
    .desc = "the schedule (times in UTC)" };

static const field *const schedule_request_fields[] = { &f_schedule_api };
static const field *const schedule_api_fields[] = {
    &f_sa_day_of_month, &f_sa_day_of_week, &f_frequency, &f_hour, &f_minute, &f_month,
    &f_sa_selective_mode
};

/* ---------- objects ---------- */
#define OBJ_DEF_(var, t, f, fl) \
    static const object var = { .title = t, .fields = f, .nfields = COUNT(f), .id = ID_##var, .flags = fl };
OBJECTS(OBJ_DEF_)
#undef OBJ_DEF_

/* Every object, at the position of its id. */
#define OBJ_REF_(var, title, fields, flags) &var,
static const object *const all_objects[OBJECT_COUNT] = { NULL, OBJECTS(OBJ_REF_) };
#undef OBJ_REF_

#define VERSION_DEF_(name, sync, activate, start, schema, schemas, schedule) \
    { name, { [BS_BODY_SYNC] = &sync, [BS_BODY_ACTIVATE] = &activate, [BS_BODY_START] = &start, \
              [BS_BODY_SCHEMA] = &schema, [BS_BODY_SCHEMAS] = &schemas, [BS_BODY_SCHEDULE] = &schedule } },
#define VERSION_NAME_(name, sync, activate, start, schema, schemas, schedule) name,
static const bs_version versions[] = { API_VERSIONS(VERSION_DEF_) };
static const char *const version_names[] = { API_VERSIONS(VERSION_NAME_) NULL };
#undef VERSION_DEF_
#undef VERSION_NAME_

#define KIND_NAME_(id, name) name,
static const char *const kind_names[] = { BS_BODY_KINDS(KIND_NAME_) NULL };
#undef KIND_NAME_

/* What a GET returns that a body of each kind never carries (core.schema's
 * read_only); NULL: nothing. */
static const char *const *const kind_read_only[BS_BODY_COUNT] = {
    [BS_BODY_SYNC] = read_only_fields
};

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

const char *const *bs_schema_kinds(void)
{
    return kind_names;
}

int bs_schema_kind(const char *name)
{
    int i;
    for (i = 0; i < BS_BODY_COUNT; i++)
        if (strcmp(kind_names[i], name) == 0)
            return i;
    return -1;
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
    unsigned long all;                /* every field seen: nothing can be missing */
    unsigned long exclusive;          /* fields with an exclusive partner */
    unsigned char slot[SLOTS];        /* by name hash: 1-based field position; 0 = empty */
    unsigned char len[MAX_FIELDS];    /* name lengths */
    unsigned char pslot[SLOTS];       /* the same, by address of the interned name */
    const char   *interned[MAX_FIELDS];
    unsigned char islot[SLOTS];       /* by the names' object identity (see get_index) */
    const void   *ident[MAX_FIELDS];
    /* "name": padded with NULs: written with one fixed-size copy (a copy
     * of a variable small size compiles to a slow string instruction). */
    char          quoted[MAX_FIELDS][QUOTED_MAX];
} lookup;

typedef struct index_ud {
    int    by_ident;   /* lua_topointer names a string: keys are found with one call */
    lookup obj[sizeof all_objects / sizeof all_objects[0]];   /* by object id */
} index_ud;

static const char index_key = 0;   /* only its address is used */

static unsigned key_hash(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    return ((unsigned)n * 7u + u[0] * 3u + u[n / 2] * 5u + u[n - 1]) & (SLOTS - 1);
}

static unsigned ptr_hash(const void *p)
{
    size_t a = (size_t)p;
    return (unsigned)(a >> 4 ^ a >> 10) & (SLOTS - 1);
}

/* 1-based position of the field f in o, 0 if o does not have it. */
static int field_position(const object *o, const field *f)
{
    int j;
    for (j = 0; j < o->nfields; j++)
        if (o->fields[j] == f)
            return j + 1;
    return 0;
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
            lua_pushvalue(L, -1);
            lua_rawseti(L, names, (int)bs_rawlen(L, names) + 1);
            for (h = ptr_hash(lk->interned[j]); lk->pslot[h]; h = (h + 1) & (SLOTS - 1))
                ;
            lk->pslot[h] = (unsigned char)(j + 1);
            /* Lua 5.4 and LuaJIT give a string's object address here (5.1
             * to 5.3 give NULL): the same for every key equal to the name. */
            lk->ident[j] = lua_topointer(L, -1);
            if (lk->ident[j] != NULL) {
                ix->by_ident = 1;
                for (h = ptr_hash(lk->ident[j]); lk->islot[h]; h = (h + 1) & (SLOTS - 1))
                    ;
                lk->islot[h] = (unsigned char)(j + 1);
            }
            lk->all |= 1UL << j;
            if (o->fields[j]->exclusive) {
                if (!field_position(o, o->fields[j]->exclusive))
                    luaL_error(L, "bulksync: %s.%s is exclusive with a field it does not have",
                               o->title, name);
                lk->exclusive |= 1UL << j;
            }
            lua_pop(L, 1);
        }
    }
    bs_setuservalue(L, names - 1);
    lua_pushlightuserdata(L, (void *)&index_key);
    lua_insert(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
    return ix;
}

/* 1-based position of the field whose name is the string object p, 0 if
 * none (or p is not a name). */
static int find_ident(const lookup *lk, const void *p)
{
    unsigned h;
    int pos;
    for (h = ptr_hash(p); (pos = lk->islot[h]) != 0; h = (h + 1) & (SLOTS - 1))
        if (lk->ident[pos - 1] == p)
            return pos;
    return 0;
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

/* The same name spelt another way: equal ignoring case and '_' (a
 * snake_case key for a camelCase field, or the reverse). */
static int same_spelling(const char *a, size_t n, const char *b, size_t m)
{
    size_t i = 0, j = 0;
    for (;;) {
        while (i < n && a[i] == '_')
            i++;
        while (j < m && b[j] == '_')
            j++;
        if (i == n || j == m)
            return i == n && j == m;
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[j]))
            return 0;
        i++;
        j++;
    }
}

/* The suggesters' measure: another spelling of a name is nearest of all. */
static int measure(const char *a, size_t n, const char *b, size_t m)
{
    return same_spelling(a, n, b, m) ? 0 : distance(a, n, b, m);
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
        int d = measure(key, len, name, strlen(name));
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
        int d = measure(s, len, *e, strlen(*e));
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
        d = candidate ? measure(name, len, candidate, clen) : DL_MAX;
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
 * The path is the walk's segment stack (walk.h): a key still on the Lua
 * stack or a list position per level, spelled out only by a report. The
 * free-form values inside a body (maps, filter values) go to the JSON
 * writer on the same walk, so their problems get the same paths. */

typedef struct sctx {
    const index_ud   *index;
    const bs_version *v;
    bs_body_kind      kind;
} sctx;

static void walk_value(bs_walk *w, const sctx *s, const field *f, int i);

/* Writes "s" for text already known to need no escaping (enum values,
 * UUIDs, date-times that passed their checks). */
static void out_plain_string(bs_walk *w, const char *s, size_t n)
{
    bs_buf *b = w->out;
    char *o;
    bs_buf_reserve(w->L, b, n + 2);
    o = bs_buf_end(b);
    *o++ = '"';
    memcpy(o, s, n);
    o[n] = '"';
    b->len += n + 2;
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

BS_NOINLINE static void wrong_type(bs_walk *w, const field *f, int i)
{
    char buf[512];
    if (f->type == T_STRING && (f->flags & F_PART))
        bs_report(w, BS_P_TYPE, "must be a string (schedule parts are strings, e.g. \"05\"), got %s",
                  got_type(w->L, i));
    else
        bs_report(w, BS_P_TYPE, "must be %s, got %s", expected(f, buf, sizeof buf), got_type(w->L, i));
}

/* A string of the right type whose text is wrong. The text itself is never
 * quoted: a secret pasted into the wrong field would end up in a message or
 * a log. Its size says enough to find it, and for an enum the nearest value
 * (quoting the schema, not the input) says what was probably meant. */
BS_NOINLINE static void wrong_text(bs_walk *w, const field *f, const char *s, size_t n, const char *why)
{
    char buf[512], hint[96];
    const char *near = f->type == T_ENUM ? closest_enum(f->enums, s, n) : NULL;
    hint[0] = '\0';
    if (near)
        snprintf(hint, sizeof hint, "; did you mean `%s`?", near);
    bs_report(w, f->type == T_ENUM ? BS_P_ENUM : BS_P_FORMAT,
              "must be %s, got a string of %lu byte%s%s%s%s%s", expected(f, buf, sizeof buf),
              (unsigned long)n, n == 1 ? "" : "s",
              why ? " (" : "", why ? why : "", why ? ")" : "", hint);
}

static int enter(bs_walk *w)
{
    if (w->depth >= BS_MAX_DEPTH) {
        bs_report(w, BS_P_STRUCTURE, "nested deeper than %d levels (does a table contain itself?)",
                  BS_MAX_DEPTH);
        w->stop |= BS_STOP_DEEP;
        return 0;
    }
    w->depth++;
    return 1;
}

BS_NOINLINE static void unknown_field(bs_walk *w, const sctx *s, const object *o, const char *key, size_t len,
                          int root)
{
    const field *f;
    int i;
    if (root) {
        /* Names the other versions have, from their own tables. */
        for (i = 0; i < COUNT(versions); i++)
            if (&versions[i] != s->v && field_named(versions[i].body[s->kind], key, len)) {
                char path[BS_PATH_MAX];
                bs_path_spell(w, path);
                bs_report(w, BS_P_UNKNOWN, "`%s` belongs to API version %s, not %s",
                          path, versions[i].name, s->v->name);
                return;
            }
    }
    if ((f = closest(o, key, len)) != NULL) {
        bs_report(w, BS_P_UNKNOWN, "unknown field; did you mean `%s`?", f->name);
        return;
    }
    if (root) {
        for (i = 0; i < COUNT(versions); i++)
            if (&versions[i] != s->v && (f = closest(versions[i].body[s->kind], key, len)) != NULL) {
                bs_report(w, BS_P_UNKNOWN,
                          "unknown field; did you mean `%s`? It belongs to API version %s, not %s",
                          f->name, versions[i].name, s->v->name);
                return;
            }
    }
    bs_report(w, BS_P_UNKNOWN, "unknown field");
}

/* The table at t should be an object: it is a list, or has a key (at kidx,
 * or none) that is not a string. */
BS_NOINLINE static void not_an_object(bs_walk *w, int t, int kidx, int root)
{
    char got[64];
    const char *kind = table_kind(w->L, t);
    bs_problem code = BS_P_TYPE;
    if (kind[0] != 'l' && kidx) {
        snprintf(got, sizeof got, "a table with a %s key", luaL_typename(w->L, kidx));
        code = BS_P_STRUCTURE;
    } else {
        snprintf(got, sizeof got, "%s", kind);
    }
    if (root)
        bs_report(w, code, "body must be a table with string keys, got %s", got);
    else
        bs_report(w, code, "must be an object, got %s", got);
}

/* Required fields, and with strict, every optional top-level field that a
 * full replacement would reset. */
static void check_missing(bs_walk *w, const object *o, unsigned long seen, int root)
{
    int j;
    for (j = 0; j < o->nfields; j++) {
        const field *f = o->fields[j];
        if (seen & (1UL << j))
            continue;
        if (f->flags & F_REQUIRED) {
            bs_push_key(w, f->name, strlen(f->name));
            bs_report(w, BS_P_REQUIRED, "is required");
            bs_pop(w);
        } else if (w->strict && (f->flags & F_STRICT)) {
            /* Before the replacement's reset: it says what is left. */
            bs_push_key(w, f->name, strlen(f->name));
            bs_report(w, BS_P_STRICT, "omitted: the server would leave %s; send it (strict)", f->note);
            bs_pop(w);
        } else if (root && w->strict && (o->flags & O_REPLACE) && !(f->flags & F_KEPT)) {
            bs_push_key(w, f->name, strlen(f->name));
            bs_report(w, BS_P_STRICT,
                      "omitted: a full replacement resets it (%s); send it, or bulksync.null where nullable",
                      f->note ? f->note : "server default");
            bs_pop(w);
        }
    }
}

/* A value that puts its field to use: sent, and neither false nor null. */
static int engaged(lua_State *L, int i)
{
    switch (lua_type(L, i)) {
    case LUA_TNIL:
        return 0;
    case LUA_TBOOLEAN:
        return lua_toboolean(L, i);
    case LUA_TLIGHTUSERDATA:
        return lua_touserdata(L, i) != NULL;
    default:
        return 1;
    }
}

/* Pairs of fields that may not be sent together (field.exclusive), both
 * engaged: one problem at the later of the two, naming the earlier. */
BS_NOINLINE static void check_exclusive(bs_walk *w, const object *o, unsigned long seen, const int *slot)
{
    int j, k;
    for (j = 0; j < o->nfields; j++) {
        const field *f = o->fields[j], *g = f->exclusive;
        const field *first, *second;
        if (!g || !(seen & (1UL << j)))
            continue;
        k = field_position(o, g) - 1;
        if (k < 0 || !(seen & (1UL << k)) || (g->exclusive == f && k < j))
            continue;   /* absent, or the pair is declared both ways and seen from k */
        if (!engaged(w->L, slot[j]) || !engaged(w->L, slot[k]))
            continue;
        first = j < k ? f : g;
        second = j < k ? g : f;
        bs_push_key(w, second->name, strlen(second->name));
        bs_report(w, BS_P_STRUCTURE, "cannot be sent with `%s`: the two are exclusive; send one of them",
                  first->name);
        bs_pop(w);
    }
}

/* One lua_next pass finds each key's field in the object's lookup and
 * leaves the key and its value on the stack (a copy of the key goes on
 * with the traversal); then the fields are checked and written in the
 * schema's order, so the bytes never depend on a process's hash order. */
static void walk_object(bs_walk *w, const sctx *s, const object *o, int t, int root)
{
    lua_State *L = w->L;
    const lookup *lk = &s->index->obj[o->id];
    unsigned long seen = 0;
    int slot[MAX_FIELDS];   /* stack index of each seen field's value */
    int first = 1, whole = 1, empty = 1, base, top, j;

    if (!enter(w))
        return;
    base = lua_gettop(L);
    /* A table's keys are distinct: at most nfields pairs stay. Room is
     * asked for in bigger steps, so most objects do not ask at all. */
    if (base + 2 * o->nfields + 8 > w->stack_room) {
        if (!lua_checkstack(L, 2 * MAX_FIELDS + 8 + STACK_STEP)) {
            bs_report(w, BS_P_STRUCTURE, "no room on the Lua stack to walk the body");
            w->stop |= BS_STOP_DEEP;
            w->depth--;
            return;
        }
        w->stack_room = base + 2 * MAX_FIELDS + 8 + STACK_STEP;
    }
    top = base;             /* what lua_next leaves: key at top + 1, value at top + 2 */
    lua_pushnil(L);
    while (lua_next(L, t)) {
        const char *key;
        size_t klen;
        int pos;
        empty = 0;
        /* The usual key is one of the names: one call finds it. */
        if (s->index->by_ident && (pos = find_ident(lk, lua_topointer(L, -2))) != 0)
            goto found;
        if (lua_type(L, -2) != LUA_TSTRING) {
            not_an_object(w, t, top + 1, root);
            whole = 0;
            break;
        }
        key = lua_tolstring(L, -2, &klen);
        pos = find_field(lk, o, key, klen);
        if (pos != 0) {
        found:
            seen |= 1UL << (pos - 1);
            slot[pos - 1] = top + 2;
            top += 2;
            lua_pushvalue(L, -2);
            continue;
        }
        bs_push_key(w, key, klen);
        unknown_field(w, s, o, key, klen, root);
        bs_pop(w);
        lua_pop(L, 1);
        if (bs_stopped(w)) {
            whole = 0;
            break;
        }
    }
    if (w->out)
        bs_buf_putc(L, w->out, '{');
    for (j = 0; j < o->nfields && !bs_stopped(w); j++) {
        const field *f;
        size_t n;
        if (!(seen & (1UL << j)))
            continue;
        f = o->fields[j];
        n = lk->len[j];
        if (w->out) {
            bs_buf *b = w->out;
            bs_buf_reserve(L, b, QUOTED_MAX + 1);
            if (!first)
                b->data[b->len++] = ',';
            memcpy(bs_buf_end(b), lk->quoted[j], QUOTED_MAX);
            b->len += n + 3;
            first = 0;
        }
        bs_push_key(w, f->name, n);
        walk_value(w, s, f, slot[j]);
        bs_pop(w);
    }
    if (bs_stopped(w))
        whole = 0;
    else if (whole && (seen & lk->exclusive))
        check_exclusive(w, o, seen, slot);
    lua_settop(L, base);
    /* Only an empty table can be an array-marked one here: a marked list
     * with items has number keys. */
    if (empty && bs_is_array_marked(L, t)) {
        not_an_object(w, t, 0, root);
        whole = 0;
    }
    if (w->out)
        bs_buf_putc(L, w->out, '}');
    if (whole && (seen != lk->all || w->strict))
        check_missing(w, o, seen, root);
    w->depth--;
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
BS_NOINLINE static void refuse_bare_id(bs_walk *w, const object *o)
{
    int j;
    for (j = 0; j < o->nfields; j++) {
        const field *f = o->fields[j];
        if (f->flags & F_STRICT) {
            bs_push_key(w, f->name, strlen(f->name));
            bs_report(w, BS_P_STRICT, "omitted: an id alone leaves %s; give an object with its %s (strict)",
                      f->note, f->name);
            bs_pop(w);
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

/* A list whose keys are not 1, 2, 3 ... in traversal order: one lua_next
 * pass checks them (a sequence 1..n, no holes), then items go in index
 * order. */
BS_NOINLINE static void walk_list_slow(bs_walk *w, const sctx *s, const field *f, int t, int base)
{
    lua_State *L = w->L;
    lua_Integer n = 0, max = 0, k;

    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_settop(L, base + 1);
        if (!list_key(L, base + 1, &k)) {
            if (lua_type(L, base + 1) == LUA_TSTRING)
                bs_report(w, BS_P_TYPE, "must be a list, got object");
            else
                bs_report(w, BS_P_STRUCTURE, "must be a list, got a table with a %s key",
                          luaL_typename(L, base + 1));
            lua_settop(L, base);
            return;
        }
        n++;
        if (k > max)
            max = k;
    }
    if (max != n) {
        bs_report(w, BS_P_STRUCTURE, "must be a list, got a table with holes (%ld items, highest index %ld)",
                  (long)n, (long)max);
        return;
    }
    if (w->out)
        bs_buf_putc(L, w->out, '[');
    bs_push_index(w, 0);
    for (k = 1; k <= n && !bs_stopped(w); k++) {
        if (w->out && k > 1)
            bs_buf_putc(L, w->out, ',');
        lua_rawgeti(L, t, (int)k);
        bs_set_index(w, k);
        walk_value(w, s, f->items, base + 1);
        lua_settop(L, base);
    }
    bs_pop(w);
    if (w->out)
        bs_buf_putc(L, w->out, ']');
}

/* Lua traverses a sequence's array part in order, so the usual list is
 * walked in one lua_next pass, each item as its key arrives. A key out of
 * that order (hash part, hole, not a position) sends the list to the
 * checked path, after taking back what its first items wrote and
 * reported. */
static void walk_list(bs_walk *w, const sctx *s, const field *f, int t)
{
    lua_State *L = w->L;
    lua_Integer expect = 1, k;
    size_t mark = w->out ? w->out->len : 0;
    int before = w->nproblems, base;

    if (!enter(w))
        return;
    base = lua_gettop(L);
    if (w->out)
        bs_buf_putc(L, w->out, '[');
    bs_push_index(w, 0);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        /* Where Lua has integers a float key is never integral (tables
         * normalise those), so the usual key takes two calls, not three. */
        if (BS_HAVE_INTEGER ? !(bs_isinteger(L, base + 1) && lua_tointeger(L, base + 1) == expect)
                            : (!list_key(L, base + 1, &k) || k != expect)) {
            lua_settop(L, base);
            bs_pop(w);
            bs_report_rollback(w, before);
            if (w->out)
                w->out->len = mark;
            walk_list_slow(w, s, f, t, base);
            w->depth--;
            return;
        }
        if (w->out && expect > 1)
            bs_buf_putc(L, w->out, ',');
        bs_set_index(w, expect);
        walk_value(w, s, f->items, base + 2);
        expect++;
        lua_settop(L, base + 1);
        if (bs_stopped(w))
            break;
    }
    lua_settop(L, base);
    bs_pop(w);
    if (w->out)
        bs_buf_putc(L, w->out, ']');
    w->depth--;
}

static void walk_integer(bs_walk *w, int i)
{
    lua_State *L = w->L;
    char tmp[32];
    lua_Number d;
    int n;

    if (bs_isinteger(L, i)) {
        if (w->out)
            bs_json_number(w, i);   /* exact for an integer, never fails */
        return;
    }
    d = lua_tonumber(L, i);
    /* Where Lua has integers the API's int64 is the limit; elsewhere a
     * double is exact only to 2^53. */
    if (!(d >= (BS_HAVE_INTEGER ? -9223372036854775808.0 : -9007199254740992.0)
          && (BS_HAVE_INTEGER ? d < 9223372036854775808.0 : d <= 9007199254740992.0))) {
        if (d != d)
            bs_report(w, BS_P_RANGE, "must be an integer, got nan");
        else
            bs_report(w, BS_P_RANGE, "must be an integer between %s, got %.14g",
                      BS_HAVE_INTEGER ? "-2^63 and 2^63-1" : "-2^53 and 2^53", (double)d);
        return;
    }
    if (d != (lua_Number)(long long)d) {
        bs_report(w, BS_P_TYPE, "must be an integer, got %.14g", (double)d);
        return;
    }
    if (w->out) {
        n = snprintf(tmp, sizeof tmp, "%lld", (long long)d);
        bs_buf_add(L, w->out, tmp, (size_t)n);
    }
}

/* A free-form value: the JSON writer walks it on the same path. */
static void walk_free(bs_walk *w, int i)
{
    int saved = w->limit_nseg;
    if (saved < 0)
        w->limit_nseg = w->nseg;
    bs_json_value(w, i);
    w->limit_nseg = saved;
}

static void walk_map(bs_walk *w, const field *f, int i)
{
    lua_State *L = w->L;
    const char *kind = table_kind(L, i);
    (void)f;
    if (kind[0] == 'l') {
        bs_report(w, BS_P_TYPE, "must be an object, got list");
    } else if (kind[0] == 'e') {
        /* An empty table is an empty object here, whatever the generic
         * writer would guess. */
        if (w->out)
            bs_buf_addlit(L, w->out, "{}");
    } else {
        walk_free(w, i);
    }
}

static void walk_value(bs_walk *w, const sctx *s, const field *f, int i)
{
    lua_State *L = w->L;
    int t = lua_type(L, i);
    const char *str, *why;
    size_t len;

    if (bs_count(w)) {
        bs_limit_stop(w);
        return;
    }
    switch (f->type) {
    case T_STRING:
        if (t != LUA_TSTRING)
            break;
        str = lua_tolstring(L, i, &len);
        bs_json_string(w, str, len);
        return;
    case T_BOOLEAN:
        if (t != LUA_TBOOLEAN)
            break;
        if (w->out) {
            if (lua_toboolean(L, i))
                bs_buf_addlit(L, w->out, "true");
            else
                bs_buf_addlit(L, w->out, "false");
        }
        return;
    case T_INTEGER:
        if (t != LUA_TNUMBER)
            break;
        walk_integer(w, i);
        return;
    case T_ENUM:
    case T_UUID:
    case T_DATETIME:
        if (t != LUA_TSTRING)
            break;
        str = lua_tolstring(L, i, &len);
        if (f->type == T_ENUM)
            why = (len > 0 && find_enum(f->enums, str, len)) ? NULL : "";
        else if (f->type == T_UUID)
            why = is_uuid(str, len) ? NULL : "";
        else
            why = check_datetime(str, len);
        if (why)
            wrong_text(w, f, str, len, why[0] ? why : NULL);
        else if (w->out)
            out_plain_string(w, str, len);
        return;
    case T_OBJECT:
        if (t != LUA_TTABLE)
            break;
        walk_object(w, s, f->obj, i, 0);
        return;
    case T_MAP:
        if (t != LUA_TTABLE)
            break;
        walk_map(w, f, i);
        return;
    case T_LIST:
        if (t != LUA_TTABLE)
            break;
        if ((f->flags & F_STRICT) && w->strict && table_is_empty(L, i))
            bs_report(w, BS_P_STRICT, "is empty: the server would leave %s; list them (strict)", f->note);
        walk_list(w, s, f, i);
        return;
    case T_STRING_OR_OBJECT:
        if (t == LUA_TSTRING) {
            if (w->strict)
                refuse_bare_id(w, f->obj);
            str = lua_tolstring(L, i, &len);
            bs_json_string(w, str, len);
            return;
        }
        if (t != LUA_TTABLE)
            break;
        walk_object(w, s, f->obj, i, 0);
        return;
    default:
        if (t == LUA_TLIGHTUSERDATA && lua_touserdata(L, i) == NULL)
            break;
        walk_free(w, i);
        return;
    }
    /* Not the expected Lua type: null, or a mistake. */
    if (t == LUA_TLIGHTUSERDATA && lua_touserdata(L, i) == NULL) {
        if ((f->flags & (F_NULLABLE | F_STRICT)) == (F_NULLABLE | F_STRICT) && w->strict) {
            bs_report(w, BS_P_STRICT, "is null: the server would leave %s; list them (strict)", f->note);
        } else if (f->flags & F_NULLABLE) {
            if (w->out)
                bs_buf_addlit(L, w->out, "null");
        } else {
            char buf[512];
            bs_report(w, BS_P_NULL, "cannot be null (must be %s)", expected(f, buf, sizeof buf));
        }
        return;
    }
    wrong_type(w, f, i);
}

void bs_schema_encode(bs_walk *w, int idx, const bs_version *v, bs_body_kind kind)
{
    lua_State *L = w->L;
    int top = lua_gettop(L);
    sctx s;

    if (idx < 0 && idx > LUA_REGISTRYINDEX)
        idx = top + idx + 1;
    if (lua_type(L, idx) != LUA_TTABLE) {
        bs_report(w, BS_P_TYPE, "body must be a table, got %s", got_type(L, idx));
        return;
    }
    /* Each nesting level holds a key and a value (and briefly one more):
     * check the room for the deepest walk once, not at every level. */
    if (!lua_checkstack(L, 4 * BS_MAX_DEPTH + 16)) {
        bs_report(w, BS_P_STRUCTURE, "no room on the Lua stack to walk the body");
        return;
    }
    w->stack_room = top + 4 * BS_MAX_DEPTH + 16;
    s.index = get_index(L);
    s.v = v;
    s.kind = kind;
    walk_object(w, &s, v->body[kind], idx, 1);
    lua_settop(L, top);
}

/* ===================== EXPORT =====================
 * core.schema(version, kind): the same descriptors as Lua data, in the format of
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
    if (f->flags & F_SECRET) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "secret");
    }
    if (f->flags & F_STRICT) {
        /* strict refuses it omitted, empty (or null) */
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "strict");
    }
    if (f->desc) {
        lua_pushstring(L, f->desc);
        lua_setfield(L, -2, "description");
    }
    if (f->response_name) {
        lua_pushstring(L, f->response_name);
        lua_setfield(L, -2, "response_name");
    }
    if (f->exclusive) {
        lua_pushstring(L, f->exclusive->name);
        lua_setfield(L, -2, "exclusive");
    }
}

void bs_schema_push(lua_State *L, const bs_version *v, bs_body_kind kind)
{
    const object *body = v->body[kind];
    const char *const *read_only = kind_read_only[kind];
    int top, memo, i, j;

    luaL_checkstack(L, 16, "schema export");
    lua_createtable(L, 0, 6);
    top = lua_gettop(L);
    lua_newtable(L);
    memo = top + 1;
    lua_pushstring(L, v->name);
    lua_setfield(L, top, "version");
    lua_pushstring(L, kind_names[kind]);
    lua_setfield(L, top, "kind");
    lua_pushstring(L, body->title);
    lua_setfield(L, top, "title");
    lua_pushboolean(L, (body->flags & O_REPLACE) != 0);
    lua_setfield(L, top, "replace");
    push_object(L, body, memo);
    lua_setfield(L, top, "by_name");
    lua_setfield(L, top, "fields");

    lua_newtable(L);
    for (i = 0; i < COUNT(versions); i++) {
        const object *o = versions[i].body[kind];
        if (&versions[i] == v)
            continue;
        for (j = 0; j < o->nfields; j++) {
            const char *name = o->fields[j]->name;
            if (!field_named(body, name, strlen(name))) {
                lua_pushstring(L, versions[i].name);
                lua_setfield(L, -2, name);
            }
        }
    }
    lua_setfield(L, top, "other_version");

    lua_newtable(L);
    for (i = 0; read_only && read_only[i]; i++) {
        lua_pushstring(L, read_only[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, top, "read_only");
    lua_settop(L, top);
}
