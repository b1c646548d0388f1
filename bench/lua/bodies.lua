-- The bodies and responses the benchmark sends and parses, built in code so
-- every row measures the same data.
--
--   update_2025()       a realistic 2025-09-18 update: every top-level field,
--                       12 schemas with field selections and filters
--   update_2024()       the same sync in the 2024-02-08 shape (`schedule`),
--                       sent by the network rows and by the TypeScript SDK
--   large_2025(n)       n schemas (default 3,000), each selecting 10 fields
--   response_2024()     the {data = sync} envelope a PUT answers with
--   schemas_response(n) a GET .../schemas answer: n schemas of 10 fields each
--
-- Nulls are the NULL light userdata that both lua-cjson and bulksync read as
-- JSON null. No table is empty, so a plain table encodes the same in both.
local cjson = require "cjson"

local null = cjson.null
local M = {}

M.sync_id = "6b0e7d1c-4a53-4f0e-9d2a-1c5e8f3a7b01"

local COLUMNS = { "id", "created_at", "updated_at", "customer_id", "email", "status",
  "amount_cents", "currency", "region", "notes", "deleted_at", "source_system" }

-- A schema selection: some fields as bare ids, some as objects that disable
-- or obfuscate, a filter on most tables.
local function schema_config(i, nfields)
  local fields = {}
  for f = 1, nfields do
    local col = COLUMNS[(f - 1) % #COLUMNS + 1]
    if f % 3 == 0 then
      fields[f] = { id = col, enabled = f % 2 == 0, obfuscate = col == "email" }
    else
      fields[f] = col
    end
  end
  local s = {
    id = string.format("public.table_%04d", i),
    enabled = i % 7 ~= 0,
    disable_data_cutoff = false,
    data_cutoff_timestamp = i % 5 == 0 and "2024-01-01T00:00:00Z" or null,
    partition_key = i % 4 == 0 and "region" or null,
    tracking_field = "updated_at",
    fields = fields,
  }
  if i % 3 ~= 0 then
    s.filters = {
      { field_id = "status", ["function"] = "StringOneOf", value = { "active", "trial" } },
      { field_id = "amount_cents", ["function"] = "GreaterThan", value = 1000 },
    }
  end
  return s
end

local function common(nschemas, nfields)
  local schemas = {}
  for i = 1, nschemas do
    -- Every fourth schema is selected by id alone, as people often do.
    schemas[i] = i % 4 == 1 and string.format("public.table_%04d", i) or schema_config(i, nfields)
  end
  return {
    name = "Orders warehouse (Postgres -> Snowflake)",
    mode = "replicate",
    active = true,
    source_connection_id = "a1c0ffee-0000-4000-8000-000000000001",
    destination_connection_id = "a1c0ffee-0000-4000-8000-000000000002",
    destination_configuration = { schema = "ANALYTICS", advanced = { warehouse = "LOAD_WH", batch_size = 5000 } },
    source_configuration = { replication_slot = "polytomic_orders", lookback_days = 3 },
    automatically_add_new_fields = "none",
    automatically_add_new_objects = "all",
    normalize_names = "disabled",
    concurrency_limit = 4,
    resync_concurrency_limit = 2,
    data_cutoff_timestamp = "2023-06-01T00:00:00Z",
    disable_record_timestamps = true,
    organization_id = null,
    policies = { "b0b0cafe-0000-4000-8000-000000000001", "b0b0cafe-0000-4000-8000-000000000002" },
    schemas = schemas,
  }
end

function M.update_2025()
  local b = common(12, 10)
  b.default_schedule = { id = "c0ffee00-0000-4000-8000-000000000101", frequency = "daily",
    hour = "5", minute = "30" }
  b.additional_schedules = {
    { id = "c0ffee00-0000-4000-8000-000000000102", frequency = "hourly", minute = "15",
      selective_mode = "incrementalFields", resync_mode = "normal" },
    { frequency = "weekly", day_of_week = "sunday", hour = "2", minute = "0",
      selective_mode = "nonincrementalFields", resync_mode = "refetch",
      schemas = { "public.table_0002", "public.table_0003" } },
  }
  return b
end

function M.update_2024()
  local b = common(12, 10)
  b.schedule = { frequency = "daily", hour = "5", minute = "30" }
  return b
end

function M.large_2025(n)
  local b = common(n or 3000, 10)
  b.default_schedule = { frequency = "manual" }
  return b
end

local creator = { id = "d00dfeed-0000-4000-8000-000000000001", name = "Ada Admin", type = "user" }
local editor = { id = "d00dfeed-0000-4000-8000-000000000002", name = "Grace Ops", type = "user" }

function M.response_2024()
  local d = M.update_2024()
  d.schemas = nil   -- a sync read back has no schemas
  d.id = M.sync_id
  d.organization_id = "3f9c2e4a-0000-4000-8000-00000000000a"
  d.discover = false
  d.created_at, d.created_by = "2024-03-01T09:12:44.512Z", creator
  d.updated_at, d.updated_by = "2025-10-02T17:03:09.207Z", editor
  return { data = d }
end

function M.schemas_response(n)
  local list = {}
  for i = 1, n or 3000 do
    local fields = {}
    for f = 1, 10 do
      local col = COLUMNS[f]
      fields[f] = { id = col, enabled = f ~= 10, obfuscated = col == "email",
        output_name = col, user_output_name = f == 5 and "email_address" or "" }
    end
    list[i] = {
      id = string.format("public.table_%04d", i),
      output_name = string.format("public_table_%04d", i),
      user_output_name = "",
      enabled = i % 7 ~= 0,
      disable_data_cutoff = false,
      data_cutoff_timestamp = null,
      partition_key = null,
      tracking_field = "updated_at",
      fields = fields,
      filters = { { field_id = "status", ["function"] = "Equality", value = "active" } },
    }
  end
  return { data = list }
end

-- JSON of any of the above, as an independent encoder writes it.
function M.json(t)
  return cjson.encode(t)
end

return M
