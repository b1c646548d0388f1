-- The stand-in's schema writes: PUT of one schema (UpdateBulkSchema), PATCH
-- of several (UpdateBulkSyncSchemasRequest) and the cancel of one schema.
--
-- Both writes replace each schema they name in full: a property the request
-- omits takes its default (enabled true, keys and user_output_name "",
-- data_cutoff_timestamp null, disable_data_cutoff false, filters []), and
-- `fields` omitted, null or [] enables every field, not obfuscated, without
-- a user_output_name. PATCH leaves the schemas it does not name as they are.
-- Siblings by relative name: standin.* in a checkout, bulksync.standin.* installed.
local prefix = (...):match("^(.-)[^.]*$")
local json = require(prefix .. "json")

local null, A = json.null, json.array

return function(M, App, h)
  local api_error, not_found, check = h.api_error, h.not_found, h.check
  local D = h.desc

  local function opt(v, default)
    if v == nil or v == null then return default end
    return v
  end

  local UPDATE_FIELD = D.object({ id = D.STRING, enabled = D.BOOL, obfuscated = D.BOOL, user_output_name = D.STRING },
    { "id" })
  local UPDATE_SCHEMA_FIELDS = {
    enabled = D.BOOL,
    disable_data_cutoff = D.BOOL,
    data_cutoff_timestamp = D.nullable(D.DATETIME),
    partition_key = D.STRING,
    tracking_field = D.STRING,
    user_output_name = D.STRING,
    fields = D.nullable(D.array(UPDATE_FIELD)),
    filters = D.nullable(D.array(D.FILTER)),
  }
  -- UpdateBulkSchema: the schema id is in the path, so `id` is unknown here.
  M.UPDATE_SCHEMA_BODY = D.object(UPDATE_SCHEMA_FIELDS)
  -- The PATCH items are BulkSchema: `id` (required, it is how items are
  -- matched), and the read-only output names, accepted and ignored.
  local PATCH_FIELD = D.object({ id = D.STRING, enabled = D.BOOL, obfuscated = D.BOOL, user_output_name = D.STRING,
    output_name = D.STRING }, { "id" })
  local patch_item = {}
  for k, v in pairs(UPDATE_SCHEMA_FIELDS) do patch_item[k] = v end
  patch_item.id, patch_item.output_name = D.STRING, D.STRING
  patch_item.fields = D.array(PATCH_FIELD)
  patch_item.filters = D.array(D.FILTER)
  M.PATCH_SCHEMAS_BODY = D.object({ schemas = D.nullable(D.array(D.object(patch_item, { "id" }))) })

  local decode_body, invalid = h.decode_body, h.invalid_body_field

  -- Replaces schema `s` (in place) by `item`, checked against its fields
  -- first; returns nil, or the offending path, a message and a reason.
  local function replace_schema(s, item, path)
    local known = {}
    for _, f in ipairs(s.fields) do known[f.id] = f end
    for _, key in ipairs { "partition_key", "tracking_field" } do
      local v = item[key]
      if v ~= nil and v ~= "" and not known[v] then
        return h.join(path, key), "names an unknown field '" .. v .. "' of schema '" .. s.id .. "'", "unknown_id"
      end
    end
    local filters = opt(item.filters, A {})
    for i, f in ipairs(filters) do
      if f.field_id ~= nil and not known[f.field_id] then
        return h.join(path, "filters[" .. (i - 1) .. "].field_id"),
          "names an unknown field '" .. f.field_id .. "' of schema '" .. s.id .. "'", "unknown_id"
      end
    end
    local chosen
    local listed = opt(item.fields, A {})
    if #listed > 0 then
      chosen = {}
      for i, f in ipairs(listed) do
        local fpath = h.join(path, "fields[" .. (i - 1) .. "].id")
        if not known[f.id] then
          return fpath, "names an unknown field '" .. f.id .. "' of schema '" .. s.id .. "'", "unknown_id"
        end
        if chosen[f.id] then return fpath, "lists field '" .. f.id .. "' twice", "duplicate" end
        chosen[f.id] = f
      end
    end
    s.enabled = opt(item.enabled, true)
    s.disable_data_cutoff = opt(item.disable_data_cutoff, false)
    s.data_cutoff_timestamp = opt(item.data_cutoff_timestamp, null)
    s.partition_key = opt(item.partition_key, "")
    s.tracking_field = opt(item.tracking_field, "")
    s.user_output_name = opt(item.user_output_name, "")
    s.filters = json.copy(filters)
    for _, f in ipairs(s.fields) do
      local c = chosen and chosen[f.id]
      if chosen and not c then
        f.enabled, f.obfuscated, f.user_output_name = false, false, ""
      else
        c = c or {}
        f.enabled, f.obfuscated = opt(c.enabled, true), opt(c.obfuscated, false)
        f.user_output_name = opt(c.user_output_name, "")
      end
    end
    return nil
  end

  local function find_schema(schemas, schema_id)
    for i, s in ipairs(schemas) do
      if s.id == schema_id then return s, i end
    end
    return nil
  end

  local function schema_not_found(schema_id)
    return api_error(404, "not_found", "schema not found", { id = schema_id })
  end

  -- PUT /api/bulk/syncs/{id}/schemas/{schema_id}. It declares no 400, so a
  -- body it refuses is a 500 (M.bad_request_status).
  function App:put_schema(id, schema_id, body_text, version)
    if not self:find(id) then return not_found(id) end
    local schemas = self.data.schemas[id]
    local s, index = find_schema(schemas, schema_id)
    if not s then return schema_not_found(schema_id) end
    local body, status, err = decode_body("put_schema", body_text)
    if not body then return status, err end
    local p, m, r = check(M.UPDATE_SCHEMA_BODY, body, "", version)
    if p then return invalid("put_schema", p, m, r) end
    local new = json.copy(s)
    p, m, r = replace_schema(new, body, "")
    if p then return invalid("put_schema", p, m, r) end
    schemas[index] = new
    return 200, { data = M.schema_view(new) }
  end

  -- PATCH /api/bulk/syncs/{id}/schemas: every listed schema (matched by id)
  -- is replaced as PUT of that schema would; nothing changes unless all of
  -- them are valid. Answers every schema of the sync, as BulkSchema.
  function App:patch_schemas(id, body_text, version)
    if not self:find(id) then return not_found(id) end
    local body, status, err = decode_body("patch_schemas", body_text)
    if not body then return status, err end
    local p, m, r = check(M.PATCH_SCHEMAS_BODY, body, "", version)
    if p then return invalid("patch_schemas", p, m, r) end
    local schemas = json.copy(self.data.schemas[id])
    local seen = {}
    for i, item in ipairs(opt(body.schemas, {})) do
      local path = "schemas[" .. (i - 1) .. "]"
      local s = find_schema(schemas, item.id)
      if not s then
        return invalid("patch_schemas", path .. ".id", "names an unknown schema '" .. item.id .. "'", "unknown_id")
      end
      if seen[item.id] then
        return invalid("patch_schemas", path .. ".id", "lists schema '" .. item.id .. "' twice", "duplicate")
      end
      seen[item.id] = true
      p, m, r = replace_schema(s, item, path)
      if p then return invalid("patch_schemas", p, m, r) end
    end
    self.data.schemas[id] = schemas
    local list = A {}
    for i, s in ipairs(schemas) do list[i] = M.schema_view(s) end
    if #list == 0 and self.config.null_empty_lists then list = null end
    return 200, { data = list }
  end

  -- POST /api/bulk/syncs/{id}/schemas/{schema_id}/cancel: the schema's part
  -- of the running execution is canceled at once; when no part of that
  -- execution is left running, the execution is canceled too.
  function App:cancel_schema(id, schema_id)
    if not self:find(id) then return not_found(id) end
    if not find_schema(self.data.schemas[id], schema_id) then return schema_not_found(schema_id) end
    local e = self:current_execution(id)
    local part
    for _, x in ipairs(e and e.schemas or {}) do
      if x.schema == schema_id and not M.terminal[x.status] then part = x end
    end
    if not part then
      return 200, { data = { message = "schema " .. schema_id .. " is not running" } }
    end
    local t = h.now_rfc3339()
    part.status, part.updated_at, part.completed_at = "canceled", t, t
    part.status_message = "canceled on request"
    if part.started_at == null then part.started_at = t end
    local left = false
    for _, x in ipairs(e.schemas) do
      if not M.terminal[x.status] then left = true end
    end
    if not left then self:cancel_execution(e) end
    return 200, { data = { message = "canceled schema " .. schema_id .. " of execution " .. e.id } }
  end
end
