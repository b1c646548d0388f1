-- Read endpoints around the syncs: what a connection offers as a bulk-sync
-- source (GET /api/connections/{id}/bulksync/source) and accepts as a
-- destination (…/bulksync/target), and a sync's error handling
-- (GET /api/bulk/syncs/{id}/error-handling, 2025-09-18 only).
-- Siblings by relative name: standin.* in a checkout, bulksync.standin.* installed.
local prefix = (...):match("^(.-)[^.]*$")
local json = require(prefix .. "json")
local catalog = require(prefix .. "catalog")

local A = json.array

return function(M, App, h)
  local api_error, not_found = h.api_error, h.not_found

  local function connection(id)
    if not h.is_uuid(id) then return nil end
    return catalog.connections[id]
  end

  -- BulkSyncSource. include_fields=false leaves each schema's `fields` out
  -- (the property is a plain array, so it is omitted rather than null).
  function App.bulk_source(_, id, query)
    local s, e = h.bool_param("source", query, "include_fields")
    if s then return s, e end
    local c = connection(id)
    if not c then return api_error(404, "not_found", "connection not found", { id = id }) end
    local schemas = A {}
    for i, t in ipairs(catalog.source_tables) do
      local v = { id = t.id, name = t.name }
      if query.include_fields ~= "false" then
        v.fields = A {}
        for j, f in ipairs(t.fields) do
          v.fields[j] = { id = f[1], name = f[1], type = f[2], remote_type = f[3], is_primary_key = f[4] == true,
            user_managed = false }
        end
      end
      schemas[i] = v
    end
    return 200, { data = { capabilities = { supports_tracking_fields = c.tracking },
      configuration = json.copy(c.source), schemas = schemas } }
  end

  -- BulkSyncDest. The endpoint declares no 404, so a connection that is not
  -- there is a 400 (key not_found), as for start.
  function App.bulk_target(_, id)
    local c = connection(id)
    if not c then
      return api_error(400, "not_found", "connection not found", { field = "id", reason = "unknown_id", id = id })
    end
    local modes = A { json.copy(catalog.modes.snapshot) }
    local resync = A { "refetch", "resync" }
    if not c.snapshot_only then
      modes[2] = json.copy(catalog.modes.replicate)
      resync[3] = "rebuild"
    end
    return 200, { data = { configuration = json.copy(c.target), modes = modes, supported_resync_modes = resync } }
  end

  -- Undocumented in the published API files: the shape is the TypeScript
  -- SDK's wire test ({data: {ingestion_failure_threshold, subscribers}}),
  -- which only that SDK line (2025-09-18) has, so 2024-02-08 answers 404
  -- before anything else, as for the console logs.
  function App:error_handling(id, version)
    if version ~= M.V2025 then
      return api_error(404, "not_found", "error handling is not served in API version " .. version, {})
    end
    if not self:find(id) then return not_found(id) end
    local stored = self.data.error_handling and self.data.error_handling[id]
    return 200, { data = json.copy(stored or catalog.default_error_handling()) }
  end

  M.bad_request_status.source = 400
  M.bad_request_status.target = 400
  M.bad_request_status.error_handling = 500
  M.forbidden_endpoints.target = true
  M.forbidden_endpoints.error_handling = M.V2025
end
