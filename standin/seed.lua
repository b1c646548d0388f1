-- Seed data for the stand-in server, with fixed ids so specs can name them:
--
--   local seed = require "standin.seed"
--   seed.ids.orders            -- a sync id
--   local data = seed.build()  -- fresh copy: data.order, data.syncs[id], data.schemas[id],
--                              -- data.error_handling[id]
--
-- The settings are deliberately far from the PUT defaults (new fields "none",
-- new objects "all", names "disabled", limits, policies, cutoffs, extra
-- schedules, disabled and obfuscated fields, disabled schemas), so a client that
-- forgets a field in a full-replacement PUT shows up as a visible reset.
--
-- The sync records are in the server's internal form (see standin/api.lua):
-- nulls are json.null, lists are json.array.
-- Siblings by relative name: standin.* in a checkout, bulksync.standin.* installed.
local prefix = (...):match("^(.-)[^.]*$")
local json = require(prefix .. "json")

local A, null = json.array, json.null

local M = {}

M.api_key = "test-key"
M.org_id = "3f9c2e4a-0000-4000-8000-00000000000a"

M.ids = {
  orders = "6b0e7d1c-4a53-4f0e-9d2a-1c5e8f3a7b01",    -- Postgres -> Snowflake, replicate, active
  crm = "6b0e7d1c-4a53-4f0e-9d2a-1c5e8f3a7b02",       -- Salesforce -> BigQuery, snapshot, inactive
  marketing = "6b0e7d1c-4a53-4f0e-9d2a-1c5e8f3a7b03", -- HubSpot -> S3, 2024-02-08 `multi` schedule
}
-- A well-formed UUID that is not a sync (for 404 tests).
M.unknown_id = "6b0e7d1c-4a53-4f0e-9d2a-1c5e8f3a7bff"

M.connections = {
  postgres = "a1c0ffee-0000-4000-8000-000000000001",
  snowflake = "a1c0ffee-0000-4000-8000-000000000002",
  salesforce = "a1c0ffee-0000-4000-8000-000000000003",
  bigquery = "a1c0ffee-0000-4000-8000-000000000004",
  hubspot = "a1c0ffee-0000-4000-8000-000000000005",
  s3 = "a1c0ffee-0000-4000-8000-000000000006",
}

M.policies = {
  finance = "b0b0cafe-0000-4000-8000-000000000001",
  pii = "b0b0cafe-0000-4000-8000-000000000002",
}

M.schedule_ids = {
  orders_default = "c0ffee00-0000-4000-8000-000000000101",
  orders_hourly = "c0ffee00-0000-4000-8000-000000000102",
  orders_weekly = "c0ffee00-0000-4000-8000-000000000103",
  crm_default = "c0ffee00-0000-4000-8000-000000000201",
  marketing_default = "c0ffee00-0000-4000-8000-000000000301",
}

M.creator = { id = "d00dfeed-0000-4000-8000-000000000001", name = "Ada Admin", type = "user" }
M.editor = { id = "d00dfeed-0000-4000-8000-000000000002", name = "Grace Ops", type = "user" }

local function stamp(s, created, updated)
  s.created_at, s.created_by = created, M.creator
  s.updated_at, s.updated_by = updated, M.editor
  return s
end

-- field(id, enabled, obfuscated, user_output_name)
local function field(id, enabled, obfuscated, user_name)
  return {
    id = id,
    enabled = enabled,
    obfuscated = obfuscated,
    output_name = id,
    user_output_name = user_name or "",
  }
end

-- partition_key and tracking_field are strings in every response, "" when
-- the schema does not use one (BulkSchema and BulkSchemaListItem declare them
-- as plain strings, never null).
local function schema(t)
  t.output_name = t.output_name or t.id:gsub("%.", "_")
  t.user_output_name = t.user_output_name or ""
  t.partition_key = t.partition_key or ""
  t.tracking_field = t.tracking_field or ""
  if t.data_cutoff_timestamp == nil then t.data_cutoff_timestamp = null end
  if t.disable_data_cutoff == nil then t.disable_data_cutoff = false end
  t.filters = A(t.filters or {})
  t.fields = A(t.fields)
  return t
end

local function orders(org)
  local sync = stamp({
    id = M.ids.orders,
    name = "Orders warehouse replica",
    active = true,
    mode = "replicate",
    source_connection_id = M.connections.postgres,
    destination_connection_id = M.connections.snowflake,
    destination_configuration = { schema = "ANALYTICS", table_prefix = "pg_", warehouse = "LOAD_WH" },
    source_configuration = { replication_slot = "polytomic_orders", publication = "polytomic_pub" },
    automatically_add_new_fields = "none",
    automatically_add_new_objects = "all",
    normalize_names = "disabled",
    concurrency_limit = 4,
    resync_concurrency_limit = 2,
    data_cutoff_timestamp = "2024-01-01T00:00:00Z",
    disable_record_timestamps = true,
    discover = true,
    organization_id = org,
    policies = A { M.policies.finance, M.policies.pii },
    default_schedule = stamp({
      id = M.schedule_ids.orders_default, frequency = "daily", hour = "5", minute = "30",
    }, "2025-03-14T09:26:53Z", "2025-06-02T16:40:00Z"),
    additional_schedules = A {
      stamp({
        id = M.schedule_ids.orders_hourly, frequency = "hourly", minute = "15",
        selective_mode = "incrementalFields", resync_mode = "normal",
        schemas = A { "public.orders", "public.customers" },
      }, "2025-04-01T08:00:00Z", "2025-04-01T08:00:00Z"),
      stamp({
        id = M.schedule_ids.orders_weekly, frequency = "weekly", day_of_week = "sunday",
        hour = "2", minute = "0", resync_mode = "refetch", schemas = A {},
      }, "2025-04-01T08:05:00Z", "2025-05-20T11:12:13Z"),
    },
  }, "2025-03-14T09:26:53Z", "2025-10-01T12:00:00Z")

  local schemas = A {
    schema {
      id = "public.orders", enabled = true,
      partition_key = "created_at", tracking_field = "updated_at",
      filters = { { field_id = "status", ["function"] = "Inequality", value = "cancelled" } },
      fields = {
        field("id", true, false), field("customer_id", true, false), field("status", true, false),
        field("total_cents", true, false, "total"), field("shipping_email", true, true),
        field("internal_notes", false, false), field("created_at", true, false),
        field("updated_at", true, false),
      },
    },
    schema {
      id = "public.customers", enabled = true, user_output_name = "crm_customers",
      tracking_field = "updated_at",
      fields = {
        field("id", true, false), field("email", true, true), field("phone", true, true),
        field("name", true, false), field("password_hash", false, true), field("updated_at", true, false),
      },
    },
    schema {
      id = "public.audit_log", enabled = false,
      fields = { field("id", false, false), field("actor", false, false), field("payload", false, false) },
    },
    schema {
      id = "public.products", enabled = true,
      fields = { field("sku", true, false), field("title", true, false), field("price_cents", true, false) },
    },
    schema {
      id = "public.refunds", enabled = false,
      data_cutoff_timestamp = "2023-06-30T00:00:00Z", disable_data_cutoff = false,
      fields = { field("id", true, false), field("order_id", true, false), field("reason", false, false) },
    },
  }
  return sync, schemas
end

local function crm(org)
  local sync = stamp({
    id = M.ids.crm,
    name = "Salesforce to BigQuery",
    active = false,
    mode = "snapshot",
    source_connection_id = M.connections.salesforce,
    destination_connection_id = M.connections.bigquery,
    destination_configuration = { dataset = "sfdc_raw", location = "EU" },
    source_configuration = null,
    automatically_add_new_fields = "onlyIncremental",
    automatically_add_new_objects = "onlyNonIncremental",
    normalize_names = "legacy",
    concurrency_limit = null,
    resync_concurrency_limit = 1,
    data_cutoff_timestamp = null,
    disable_record_timestamps = false,
    discover = false,
    organization_id = org,
    policies = A { M.policies.pii },
    default_schedule = stamp({
      id = M.schedule_ids.crm_default, frequency = "weekly", day_of_week = "monday", hour = "3", minute = "0",
    }, "2025-01-10T10:00:00Z", "2025-01-10T10:00:00Z"),
    additional_schedules = A {},
  }, "2025-01-10T10:00:00Z", "2025-09-30T08:15:00Z")

  local schemas = A {
    schema {
      id = "Account", enabled = true, tracking_field = "SystemModstamp",
      fields = {
        field("Id", true, false), field("Name", true, false), field("Industry", true, false),
        field("AnnualRevenue", false, false), field("SystemModstamp", true, false),
      },
    },
    schema {
      id = "Contact", enabled = true,
      filters = { { field_id = "IsDeleted", ["function"] = "False" } },
      fields = {
        field("Id", true, false), field("Email", true, true), field("Phone", false, true),
        field("IsDeleted", true, false), field("AccountId", true, false),
      },
    },
    schema {
      id = "Opportunity", enabled = true, user_output_name = "deals",
      fields = { field("Id", true, false), field("Amount", true, false), field("StageName", true, false, "stage") },
    },
    schema {
      id = "Lead", enabled = false,
      fields = { field("Id", false, false), field("Email", false, true), field("Company", false, false) },
    },
  }
  return sync, schemas
end

local function marketing(org)
  local sync = stamp({
    id = M.ids.marketing,
    name = "HubSpot exports",
    active = true,
    mode = "snapshot",
    source_connection_id = M.connections.hubspot,
    destination_connection_id = M.connections.s3,
    destination_configuration = { bucket = "acme-exports", format = "parquet", prefix = "hubspot/" },
    source_configuration = { lookback_days = 7 },
    automatically_add_new_fields = "none",
    automatically_add_new_objects = "none",
    normalize_names = "enabled",
    concurrency_limit = 8,
    resync_concurrency_limit = null,
    data_cutoff_timestamp = "2022-07-01T00:00:00Z",
    disable_record_timestamps = true,
    discover = false,
    organization_id = org,
    policies = A {},
    -- Created through 2024-02-08 with a `multi` schedule (see standin/api.lua).
    default_schedule = stamp({
      id = M.schedule_ids.marketing_default, frequency = "multi",
      multi = {
        type = "selective",
        schedules = A {
          { item = "incrementalFields", schedule = { frequency = "continuous" } },
          { item = "nonincrementalFields", schedule = { frequency = "daily", hour = "5", minute = "0" } },
        },
      },
    }, "2024-11-05T14:00:00Z", "2024-11-05T14:00:00Z"),
    additional_schedules = A {},
  }, "2024-11-05T14:00:00Z", "2025-08-18T07:30:00Z")

  local schemas = A {
    schema {
      id = "contacts", enabled = true, partition_key = "createdate",
      fields = {
        field("id", true, false), field("email", true, true), field("firstname", true, false),
        field("lastname", true, false), field("createdate", true, false), field("hs_lead_status", false, false),
      },
    },
    schema {
      id = "companies", enabled = true,
      fields = { field("id", true, false), field("domain", true, false), field("name", true, false) },
    },
    schema {
      id = "deals", enabled = false,
      fields = { field("id", false, false), field("amount", false, false), field("dealstage", false, false) },
    },
  }
  return sync, schemas
end

local builders = { orders, crm, marketing }

-- The error handling of the named syncs (GET /api/bulk/syncs/{id}/error-handling);
-- marketing has none stored and shows the default (standin/catalog.lua).
M.error_handling = {
  [M.ids.orders] = { ingestion_failure_threshold = 500, subscribers = A { "data-team@example.com", "oncall@example.com" } },
  [M.ids.crm] = { ingestion_failure_threshold = 0, subscribers = A { "crm-owner@example.com" } },
}

-- A fresh, independent copy of the seed. org_id defaults to M.org_id.
function M.build(org_id)
  local data = { order = {}, syncs = {}, schemas = {}, error_handling = json.copy(M.error_handling) }
  for i, build in ipairs(builders) do
    local sync, schemas = build(org_id or M.org_id)
    data.order[i] = sync.id
    data.syncs[sync.id] = json.copy(sync)
    data.schemas[sync.id] = json.copy(schemas)
  end
  return data
end

-- Synthetic syncs, for specs that need more than one page of the list.
-- Sync i (from 1) has id M.synthetic_id(i), is active when i is odd, and has
-- (i - 1) % 3 schemas (so the first one has none). Two consecutive syncs share one
-- updated_at, older than every named sync's, so the list's id tiebreaker is
-- exercised: a higher i is older.
local SYNTHETIC_EPOCH = 1751328000 -- 2025-07-01T00:00:00Z

function M.synthetic_id(i)
  return string.format("5eed0000-0000-4000-8000-%012d", i)
end

function M.synthetic(i, org_id)
  local at = os.date("!%Y-%m-%dT%H:%M:%SZ", SYNTHETIC_EPOCH - 60 * math.floor((i + 1) / 2))
  local sync = stamp({
    id = M.synthetic_id(i),
    name = "Synthetic sync " .. i,
    active = i % 2 == 1,
    mode = "snapshot",
    source_connection_id = M.connections.postgres,
    destination_connection_id = M.connections.s3,
    destination_configuration = { bucket = "synthetic", prefix = "s" .. i .. "/" },
    source_configuration = null,
    automatically_add_new_fields = "all",
    automatically_add_new_objects = "none",
    normalize_names = "enabled",
    concurrency_limit = null,
    resync_concurrency_limit = null,
    data_cutoff_timestamp = null,
    disable_record_timestamps = false,
    discover = false,
    organization_id = org_id or M.org_id,
    policies = A {},
    default_schedule = stamp({
      id = string.format("c0ffee00-0000-4000-8000-5eed%08d", i), frequency = "manual",
    }, at, at),
    additional_schedules = A {},
  }, at, at)
  local schemas = A {}
  for j = 1, (i - 1) % 3 do
    schemas[j] = schema {
      id = "table_" .. j, enabled = true,
      tracking_field = j == 2 and "updated_at" or nil,
      fields = { field("id", true, false), field("updated_at", true, false) },
    }
  end
  return json.copy(sync), json.copy(schemas)
end

return M
