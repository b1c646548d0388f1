-- What the seed's connections offer to bulk syncs: the tables a source
-- connection has (GET /api/connections/{id}/bulksync/source, and the schemas
-- a created sync starts with), and what a destination connection accepts
-- (GET /api/connections/{id}/bulksync/target).
--
-- The stand-in does not model which connection types may be which: create
-- accepts any seed connection on either side, so every seed connection is
-- answered as a source and as a destination. The tables are the same for
-- every source, so what the source endpoint lists is exactly what create
-- selects.
-- Siblings by relative name: standin.* in a checkout, bulksync.standin.* installed.
local prefix = (...):match("^(.-)[^.]*$")
local json = require(prefix .. "json")
local seed = require(prefix .. "seed")

local A, null = json.array, json.null

local M = {}

-- Each source table: id, name and its fields {id, type (UtilFieldType),
-- remote_type, primary key}.
M.source_tables = {
  { id = "public.accounts", name = "accounts", fields = {
    { "id", "number", "bigint", true }, { "name", "string", "text" }, { "updated_at", "datetime", "timestamptz" } } },
  { id = "public.events", name = "events", fields = {
    { "id", "string", "uuid", true }, { "kind", "string", "text" }, { "created_at", "datetime", "timestamptz" } } },
  { id = "public.users", name = "users", fields = {
    { "id", "number", "bigint", true }, { "email", "string", "text" }, { "updated_at", "datetime", "timestamptz" } } },
}

-- Per connection: its type, whether its source tables have tracking
-- fields, the source configuration it describes, and the JSON Schema of its
-- destination_configuration (the seed syncs' configurations match them).
local function props(t, required)
  local p = {}
  for k, v in pairs(t) do p[k] = type(v) == "table" and v or { type = v } end
  local schema = { type = "object", properties = p, additionalProperties = false }
  if required then schema.required = A(required) end
  return schema
end

local C = seed.connections
M.connections = {
  [C.postgres] = { type = "postgresql", tracking = true,
    source = props({ replication_slot = "string", publication = "string" }),
    target = props({ schema = "string" }, { "schema" }) },
  [C.snowflake] = { type = "snowflake", tracking = true, source = null,
    target = props({ schema = "string", table_prefix = "string", warehouse = "string" }, { "schema" }) },
  [C.salesforce] = { type = "salesforce", tracking = true, source = null,
    target = props({}) },
  [C.bigquery] = { type = "bigquery", tracking = true, source = null,
    target = props({ dataset = "string", location = "string" }, { "dataset" }) },
  [C.hubspot] = { type = "hubspot", tracking = true,
    source = props({ lookback_days = "integer" }),
    target = props({}) },
  [C.s3] = { type = "s3", tracking = false, source = null,
    target = props({ bucket = "string", prefix = "string",
      format = { type = "string", enum = A { "csv", "json", "parquet" } } }, { "bucket" }),
    -- Files are rewritten whole: no identity-based modes, no rebuild.
    snapshot_only = true },
}

-- SupportedBulkMode entries.
M.modes = {
  snapshot = { id = "snapshot", label = "Snapshot", description = "Each run copies every record of the enabled schemas.",
    requires_identity = false, supports_field_sync_mode = false, supports_target_filters = false },
  replicate = { id = "replicate", label = "Replicate",
    description = "Each run applies the changes since the last one, matched by primary key.",
    requires_identity = true, supports_field_sync_mode = true, supports_target_filters = true },
}

-- The error handling of a sync with none stored (created and synthetic
-- syncs): the figure the published SDK's wire test shows, no subscribers.
function M.default_error_handling()
  return { ingestion_failure_threshold = 1000000, subscribers = A {} }
end

return M
