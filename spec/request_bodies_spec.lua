-- Every body the client sends validates against the published request
-- schema of its endpoint (API 2025-09-18, the version the descriptions
-- are of), read strictly: an undeclared property is a failure. The
-- bodies are the ones the client really sent to the stand-in.
local bulksync = require "bulksync"
local standin = require "spec.support.standin"
local openapi = require "spec.support.openapi"
local seed = require "standin.seed"

local json = standin.json
local REF = require("spec.support.files").root_of(debug.getinfo(1, "S").source, "spec/request_bodies_spec.lua")
  .. "../shared/reference/"
local FILES = {
  main = REF .. "polytomic-openapi.yaml",
  schemas = REF .. "polytomic-subpackage-bulksync-subpackage-bulksync-schemas-api-openapi.yml",
  schedules = REF .. "polytomic-subpackage-bulksync-subpackage-bulksync-schedules-api-openapi.yml",
}

local docs, why_not = {}, nil
for name, path in pairs(FILES) do
  local doc, err = openapi.load(path)
  if not doc then why_not = err break end
  docs[name] = doc
end

-- method, path pattern -> document and request schema name.
local ROUTES = {
  { "PUT", "^/api/bulk/syncs/[%x-]+$", "main", "UpdateBulkSyncRequest" },
  { "POST", "^/api/bulk/syncs$", "main", "CreateBulkSyncRequest" },
  { "POST", "^/api/bulk/syncs/[%x-]+/activate$", "main", "ActivateSyncInput" },
  { "POST", "^/api/bulk/syncs/[%x-]+/executions$", "main", "StartBulkSyncRequest" },
  { "PUT", "^/api/bulk/syncs/[%x-]+/schemas/[^/]+$", "schemas", "UpdateBulkSchema" },
  { "PATCH", "^/api/bulk/syncs/[%x-]+/schemas$", "schemas", "UpdateBulkSyncSchemasRequest" },
  { "POST", "^/api/bulk/syncs/[%x-]+/schedules$", "schedules", "CreateScheduleRequest" },
  { "PUT", "^/api/bulk/syncs/[%x-]+/schedules/[%x-]+$", "schedules", "UpdateScheduleRequest" },
}

local function schema_for(method, path)
  for _, r in ipairs(ROUTES) do
    if r[1] == method and path:find(r[2]) then return r[3], r[4] end
  end
end

describe("request bodies against the published request schemas", function()
  if not docs.main then
    pending("the published descriptions are not beside the project: " .. tostring(why_not))
    return
  end

  local srv, client
  setup(function()
    srv = standin.start()
    client = bulksync.new { api_key = seed.api_key, base_url = srv.url }
  end)
  teardown(function()
    if client then client:close() end
    if srv then srv:stop() end
  end)

  it("every write the client makes sends a body its endpoint's schema accepts", function()
    local ID = seed.ids.orders
    -- Every write, the read-modify-write ones included.
    client:patch(ID, { active = false })
    client:patch(seed.ids.crm, { name = "renamed" })
    local body = bulksync.to_update(client:get(ID), { schemas = client:schemas(ID, { details = true }) })
    body.organization_id = nil
    client:update(ID, body)
    local created = client:create { name = "new", mode = "snapshot",
      source_connection_id = seed.connections.postgres, destination_connection_id = seed.connections.snowflake,
      destination_configuration = { schema = "raw" }, default_schedule = { frequency = "daily", hour = "04" },
      schemas = { { id = "public.users", enabled = true, fields = { { id = "id", enabled = true } } } } }
    assert.truthy(created.id)
    client:resume(ID)
    client:start(ID, { fetch_mode = "full", schemas = { "public.orders" }, wait = { interval = 0.01 } })
    client:patch_schema(ID, "public.orders", { enabled = true })
    local record = client:schema(ID, "public.orders")
    client:update_schemas(ID, { { id = "public.orders", enabled = true, fields = record.fields,
      filters = record.filters } })
    client:create_schedule(ID, { frequency = "weekly", dayOfWeek = "monday", selectiveMode = "none" })
    local sync = client:get(ID)
    client:update_schedule(ID, sync.default_schedule.id, { frequency = "daily", hour = "07", minute = "30" })
    client:update_many {
      { id = seed.ids.crm, activate = false },
      { id = seed.ids.crm, patch = { concurrency_limit = 3 } },
    }

    local validators, checked = {}, 0
    for _, r in ipairs(srv:requests()) do
      local doc, name = schema_for(r.method, r.path)
      if doc then
        validators[doc] = validators[doc] or openapi.new(docs[doc].components.schemas)
        local value = assert(json.decode(r.body))
        local problems = validators[doc]:validate({ ["$ref"] = "#/components/schemas/" .. name }, value)
        assert.same({}, problems, r.method .. " " .. r.path .. " (" .. name .. ")")
        checked = checked + 1
      end
    end
    -- Every route above was exercised, some more than once.
    assert.truthy(checked >= #ROUTES, "only " .. checked .. " bodies checked")
  end)
end)
