-- The stand-in's execution logs: the log files (logs), their export
-- (logs/export) and the console logs of an execution and of one of its
-- schemas (2025-09-18 only).
--
-- Console entries are derived from the execution record each time, so they
-- follow its state: "execution created", then per schema "started" once it
-- runs and its end once terminal, then the execution's end. Entry ids are
-- "1", "2", ... in that order; the cursor is the id of the last entry
-- returned.
-- Siblings by relative name: standin.* in a checkout, bulksync.standin.* installed.
local prefix = (...):match("^(.-)[^.]*$")
local json = require(prefix .. "json")

local null, A = json.null, json.array

return function(M, App, h)
  local api_error, not_found, bad_request = h.api_error, h.not_found, h.bad_request

  -- "Values above the logger retention limit are capped to 50."
  M.max_console_page = 50

  local function find(self, id, exec_id)
    if not self:find(id) then return nil, not_found(id) end
    local e = self:find_execution(id, exec_id)
    if not e then return nil, api_error(404, "not_found", "execution not found", { id = exec_id }) end
    return e
  end

  local function log_url(e, name)
    return "https://standin.invalid/logs/" .. e.id .. "/" .. name
  end

  function App:execution_logs(id, exec_id)
    local e, status, err = find(self, id, exec_id)
    if not e then return status, err end
    local urls = A { log_url(e, "execution.log") }
    for _, s in ipairs(e.schemas) do urls[#urls + 1] = log_url(e, s.schema .. ".log") end
    local expires = os.date("!%Y-%m-%dT%H:%M:%SZ", os.time() + 3600)
    return 200, { data = { URLs = urls, Expires = expires } }
  end

  -- The first export of an execution answers only a `job` (created); every
  -- later one the finished export: `data.url` and the job, done.
  function App:export_logs(id, exec_id, query)
    local s, err = h.bool_param("export_logs", query, "notify")
    if s then return s, err end
    local e, status
    e, status, err = find(self, id, exec_id)
    if not e then return status, err end
    self.exports = self.exports or {}
    local job = self.exports[e.id]
    if not job then
      job = { job_id = h.new_uuid(), type = "exportlogs", status = "created", error = null }
      self.exports[e.id] = job
      return 200, { job = json.copy(job) }
    end
    job.status = "done"
    return 200, { data = { url = log_url(e, "export.zip") }, job = json.copy(job) }
  end

  local function entries_of(e, schema_id)
    local list = {}
    local function add(at, level, message, payload)
      list[#list + 1] = { timestamp = at, level = level, message = message, payload = payload or null }
    end
    if not schema_id then add(e.created_at, "info", "execution created") end
    -- Every start before every end, so entries are only ever appended.
    for _, s in ipairs(e.schemas) do
      if (not schema_id or s.schema == schema_id) and s.started_at ~= null then
        add(s.started_at, "info", "schema " .. s.schema .. " started")
      end
    end
    for _, s in ipairs(e.schemas) do
      if not schema_id or s.schema == schema_id then
        if M.terminal[s.status] then
          add(s.completed_at, s.status == "failed" and "error" or "info", "schema " .. s.schema .. " " .. s.status,
            { record_count = s.record_count, error_count = s.error_count })
        end
      end
    end
    if not schema_id and M.terminal[e.status] then
      add(e.completed_at, e.status == "failed" and "error" or "info", "execution " .. e.status)
    end
    for i, x in ipairs(list) do x.id = tostring(i) end
    return list
  end

  -- GET .../consolelog and .../schemas/{schema_id}/consolelog. Not served in
  -- 2024-02-08: that version has no such endpoint, so 404.
  function App:console_log(endpoint, id, exec_id, schema_id, query, version)
    if version ~= M.V2025 then
      return api_error(404, "not_found", "console logs are not served in API version " .. version, {})
    end
    local limit = M.max_console_page
    if query.limit ~= nil then
      limit = query.limit:match("^%d+$") and tonumber(query.limit)
      if not limit or limit < 1 then
        return bad_request(endpoint, "bad_request", "query parameter 'limit' must be a positive integer",
          { field = "limit" })
      end
      limit = math.min(limit, M.max_console_page)
    end
    local e, status, err = find(self, id, exec_id)
    if not e then return status, err end
    if schema_id then
      local found = false
      for _, s in ipairs(e.schemas) do found = found or s.schema == schema_id end
      if not found then return api_error(404, "not_found", "schema not in this execution", { id = schema_id }) end
    end
    local all = entries_of(e, schema_id)
    local from = 1
    if query.after ~= nil then
      local n = query.after:match("^%d+$") and tonumber(query.after)
      if not n or n > #all then
        return bad_request(endpoint, "bad_request", "query parameter 'after' is not a cursor of these logs",
          { field = "after" })
      end
      from = n + 1
    end
    local page = A {}
    for i = from, math.min(#all, from + limit - 1) do page[#page + 1] = all[i] end
    local last = from + #page - 1
    local cursor = null
    if last < #all then cursor = tostring(last) end
    return 200, { data = { entries = page, next_cursor = cursor } }
  end
end
