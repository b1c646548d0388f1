-- The sync lifecycle endpoints of the stand-in: delete, activate, cancel,
-- start, the executions (list, get, cancel) and the two status views.
--
-- Executions live in self.data.executions[sync_id], oldest first. One
-- execution record (internal form, what GET /_standin/state/{id} shows):
--   {id, sync_id, seq, done_seq?, polls, status, status_message, type,
--    fetch_mode, is_test, is_resync, is_partial, output_disposition,
--    created_at, updated_at, started_at, completed_at,
--    record_count, error_count, warning_count,
--    schemas = [{schema, output_name, status, status_message, created_at,
--                updated_at, started_at, completed_at, record_count,
--                error_count, warning_count}]}
-- `seq` orders executions by creation, `done_seq` by the moment they became
-- terminal; both are counters, so equal timestamps never tie.
--
-- State machine: start creates `created`. Each poll (GET of the execution,
-- GET of the sync's status, GET of the status listing that covers the sync)
-- moves a non-terminal execution one step: polls 1 .. steps-1 show
-- `running`, poll `steps` ends it `completed` (`failed` with the
-- executions_fail switch), steps being the execution_steps switch (default 3).
-- Cancelling (either cancel endpoint, or activate false) moves a non-terminal
-- execution to `canceled` at once. Terminal: completed, canceled, failed.
-- Siblings by relative name: standin.* in a checkout, bulksync.standin.* installed.
local prefix = (...):match("^(.-)[^.]*$")
local json = require(prefix .. "json")
local mime = require "mime"

local null, A = json.null, json.array

return function(M, App, h)
  local api_error, not_found, bad_request, bool_param = h.api_error, h.not_found, h.bad_request, h.bool_param
  local now_rfc3339, new_uuid, is_uuid, pick, check = h.now_rfc3339, h.new_uuid, h.is_uuid, h.pick, h.check

  local TERMINAL = { completed = true, canceled = true, failed = true }
  M.terminal = TERMINAL

  -- The published page size of the executions list: "Capped at 100".
  M.max_execution_page = 100

  local EXEC_KEYS = { "id", "status", "status_message", "type", "fetch_mode", "is_test", "is_resync",
    "is_partial", "output_disposition", "created_at", "updated_at", "started_at", "completed_at",
    "record_count", "error_count", "warning_count" }
  local SCHEMA_EXEC_KEYS = { "schema", "output_name", "status", "status_message", "created_at",
    "updated_at", "started_at", "completed_at", "record_count", "error_count", "warning_count" }

  ---------------------------------------------------------------- executions

  function App:executions(sync_id)
    local list = self.data.executions[sync_id]
    if not list then
      list = {}
      self.data.executions[sync_id] = list
    end
    return list
  end

  -- The execution of the sync that is not terminal (there is at most one).
  function App:current_execution(sync_id)
    for _, e in ipairs(self:executions(sync_id)) do
      if not TERMINAL[e.status] then return e end
    end
    return nil
  end

  -- The execution that became terminal last.
  function App:last_execution(sync_id)
    local last
    for _, e in ipairs(self:executions(sync_id)) do
      if e.done_seq and (not last or e.done_seq > last.done_seq) then last = e end
    end
    return last
  end

  function App:find_execution(sync_id, exec_id)
    if not is_uuid(exec_id) then return nil end
    for _, e in ipairs(self:executions(sync_id)) do
      if e.id == exec_id then return e end
    end
    return nil
  end

  function App:execution_view(e)
    local v = pick(e, EXEC_KEYS)
    local schemas = A {}
    for i, s in ipairs(e.schemas) do schemas[i] = pick(s, SCHEMA_EXEC_KEYS) end
    if #schemas == 0 and self.config.null_empty_lists then schemas = null end
    v.schemas = schemas
    return v
  end

  function App:finish(e, status, t)
    e.status, e.updated_at, e.completed_at = status, t, t
    if e.started_at == null then e.started_at = t end
    self.done_seq = self.done_seq + 1
    e.done_seq = self.done_seq
    local records, errors = 0, 0
    for i, s in ipairs(e.schemas) do
      if not TERMINAL[s.status] then
        s.status, s.updated_at, s.completed_at = status, t, t
        if s.started_at == null then s.started_at = t end
        if status == "completed" then
          -- Deterministic counts, so specs can compare them.
          s.record_count = 100 * i
        elseif status == "failed" then
          s.error_count, s.status_message = 1, "the stand-in was told to fail this execution"
        end
      end
      records, errors = records + s.record_count, errors + s.error_count
    end
    e.record_count, e.error_count = records, errors
    if status == "failed" then e.status_message = "the stand-in was told to fail this execution" end
  end

  -- One poll: a non-terminal execution moves one step.
  function App:advance(e)
    if TERMINAL[e.status] then return end
    e.polls = e.polls + 1
    local t = now_rfc3339()
    if e.polls >= self.config.execution_steps then
      self:finish(e, self.config.executions_fail and "failed" or "completed", t)
    elseif e.status == "created" then
      e.status, e.started_at, e.updated_at = "running", t, t
      for _, s in ipairs(e.schemas) do
        s.status, s.started_at, s.updated_at = "running", t, t
      end
    end
  end

  function App:advance_sync(sync_id)
    local e = self:current_execution(sync_id)
    if e then self:advance(e) end
  end

  -- Moves a non-terminal execution to canceled; false if it was terminal.
  function App:cancel_execution(e)
    if TERMINAL[e.status] then return false end
    self:finish(e, "canceled", now_rfc3339())
    e.status_message = "canceled on request"
    return true
  end

  ---------------------------------------------------------------- delete

  function App:delete(id, query)
    local s, err = bool_param("delete", query, "refresh_schemas")
    if s then return s, err end
    if not self:find(id) then return not_found(id) end
    -- A running execution is canceled first; then everything goes.
    local e = self:current_execution(id)
    if e then self:cancel_execution(e) end
    self.data.syncs[id], self.data.schemas[id], self.data.executions[id] = nil, nil, nil
    local order = {}
    for _, x in ipairs(self.data.order) do
      if x ~= id then order[#order + 1] = x end
    end
    self.data.order = order
    return 200, nil
  end

  ---------------------------------------------------------------- activate and cancel

  local decode_body, invalid = h.decode_body, h.invalid_body_field

  function App:activate(id, body_text, version, actor)
    local sync = self:find(id)
    if not sync then return not_found(id) end
    local body, status, err = decode_body("activate", body_text)
    if not body then return status, err end
    local p, m, r = check(M.ACTIVATE_BODY, body, "", version)
    if p then return invalid("activate", p, m, r) end
    sync.active = body.active
    sync.updated_at, sync.updated_by = now_rfc3339(), json.copy(actor)
    if not body.active then
      -- "Deactivating ... requests cancellation of any execution that is
      -- currently in progress."
      local e = self:current_execution(id)
      if e then self:cancel_execution(e) end
    end
    return 200, { data = { active = sync.active, id = sync.id } }
  end

  function App:cancel_sync(id)
    if not self:find(id) then return not_found(id) end
    local e = self:current_execution(id)
    if e and self:cancel_execution(e) then
      return 200, { data = { message = "canceled execution " .. e.id } }
    end
    return 200, { data = { message = "no execution of this sync is running" } }
  end

  function App:cancel_one(id, exec_id)
    if not self:find(id) then return not_found(id) end
    local e = self:find_execution(id, exec_id)
    if not e then return api_error(404, "not_found", "execution not found", { id = exec_id }) end
    if self:cancel_execution(e) then
      return 200, { data = { message = "canceled execution " .. e.id } }
    end
    return 200, { data = { message = "execution " .. e.id .. " is already " .. e.status } }
  end

  ---------------------------------------------------------------- start

  function App:start(id, body_text, version)
    local sync = self:find(id)
    -- Start declares no 404: a sync that is not there is a bad request.
    if not sync then return api_error(400, "not_found", "bulk sync not found", { id = id }) end
    local body = {}
    if body_text ~= nil and not body_text:match("^%s*$") then
      local status, err
      body, status, err = decode_body("start", body_text)
      if not body then return status, err end
    end
    if version == M.V2025 and body.resync ~= nil then
      return invalid("start", "resync", "is no longer accepted in API version " .. version
        .. "; send resync_mode", "unknown")
    end
    local p, m, r = check(M.START_BODY[version], body, "", version)
    if p then return invalid("start", p, m, r) end
    local is_resync = body.resync_mode ~= nil or body.resync == true
    if body.test == true and is_resync then
      local other = body.resync_mode ~= nil and "resync_mode" or "resync"
      return invalid("start", "test", "cannot be combined with " .. other, "conflict")
    end

    local by_id = {}
    for _, s in ipairs(self.data.schemas[id]) do by_id[s.id] = s end
    local chosen = {}
    local listed = body.schemas ~= nil and body.schemas ~= null and #body.schemas > 0
    if listed then
      local seen = {}
      for i, sid in ipairs(body.schemas) do
        local path = "schemas[" .. (i - 1) .. "]"
        local s = by_id[sid]
        if not s then return invalid("start", path, "names an unknown schema '" .. sid .. "'", "unknown_id") end
        if not s.enabled then return invalid("start", path, "names a disabled schema '" .. sid .. "'", "disabled") end
        if seen[sid] then return invalid("start", path, "lists schema '" .. sid .. "' twice", "duplicate") end
        seen[sid] = true
        chosen[#chosen + 1] = s
      end
    else
      -- Empty or missing: every enabled schema.
      for _, s in ipairs(self.data.schemas[id]) do
        if s.enabled then chosen[#chosen + 1] = s end
      end
    end

    local running = self:current_execution(id)
    if running then
      return api_error(409, "conflict", "execution " .. running.id .. " of this sync is " .. running.status,
        { execution_id = running.id })
    end

    local t = now_rfc3339()
    self.seq = self.seq + 1
    local disposition = "retain"
    if body.resync_mode == "rebuild" then disposition = "rebuild"
    elseif body.resync_mode == "resync" or body.resync == true then disposition = "truncate" end
    local e = {
      id = new_uuid(), sync_id = id, seq = self.seq, polls = 0,
      status = "created", status_message = "", type = "manual",
      fetch_mode = body.fetch_mode or "none",
      is_test = body.test == true, is_resync = is_resync, is_partial = listed,
      output_disposition = disposition,
      created_at = t, updated_at = t, started_at = null, completed_at = null,
      record_count = 0, error_count = 0, warning_count = 0,
      schemas = {},
    }
    for i, s in ipairs(chosen) do
      e.schemas[i] = {
        schema = s.id, output_name = s.output_name, status = "created", status_message = "",
        created_at = t, updated_at = t, started_at = null, completed_at = null,
        record_count = 0, error_count = 0, warning_count = 0,
      }
    end
    local list = self:executions(id)
    list[#list + 1] = e
    return 200, { data = self:execution_view(e) }
  end

  ---------------------------------------------------------------- the executions list

  -- The token names the last execution of its page by its position key and
  -- the ordering it was made for; it is refused under another ordering.
  local function exec_token(mode, key)
    return (mime.b64("e1|" .. mode .. "|" .. key):gsub("=", ""))
  end

  local function read_exec_token(token, mode)
    local padded = token .. string.rep("=", (4 - #token % 4) % 4)
    local ok, plain = pcall(mime.unb64, padded)
    if not ok or type(plain) ~= "string" then return nil end
    local m, key = plain:match("^e1|(%a%a)|(%d+)$")
    if m ~= mode then return nil end
    return tonumber(key)
  end

  function App:list_executions(id, query)
    for _, name in ipairs { "only_terminal", "ascending" } do
      local s, err = bool_param("executions", query, name)
      if s then return s, err end
    end
    local limit = M.max_execution_page
    if query.limit ~= nil then
      limit = query.limit:match("^%d+$") and tonumber(query.limit)
      if not limit or limit < 1 or limit > M.max_execution_page then
        return bad_request("executions", "bad_request",
          "query parameter 'limit' must be an integer from 1 to " .. M.max_execution_page, { field = "limit" })
      end
    end
    local terminal_only, ascending = query.only_terminal == "true", query.ascending == "true"
    local mode = (terminal_only and "t" or "s") .. (ascending and "a" or "d")
    local cursor
    if query.page_token ~= nil then
      cursor = read_exec_token(query.page_token, mode)
      if not cursor then
        return bad_request("executions", "bad_request",
          "query parameter 'page_token' is not a valid page token for this ordering", { field = "page_token" })
      end
    end
    if not self:find(id) then return not_found(id) end

    -- Newest first by start (creation); only_terminal orders by the moment
    -- each finished; ascending reverses either.
    local function key(e) return terminal_only and e.done_seq or e.seq end
    -- before(a, b): key a is listed before key b.
    local function before(a, b)
      if ascending then return a < b end
      return a > b
    end
    local all = {}
    for _, e in ipairs(self:executions(id)) do
      if (not terminal_only or TERMINAL[e.status]) and (cursor == nil or before(cursor, key(e))) then
        all[#all + 1] = e
      end
    end
    table.sort(all, function(a, b) return before(key(a), key(b)) end)
    local page = A {}
    for i = 1, math.min(limit, #all) do page[i] = self:execution_view(all[i]) end
    local body = { data = page }
    if #all > limit then
      body.pagination = { next_page_token = exec_token(mode, key(all[limit])) }
    elseif self.config.empty_last_page_token then
      body.pagination = { next_page_token = "" }
    end
    if #page == 0 and self.config.null_empty_lists then body.data = null end
    return 200, body
  end

  function App:get_execution(id, exec_id)
    if not self:find(id) then return not_found(id) end
    local e = self:find_execution(id, exec_id)
    if not e then return api_error(404, "not_found", "execution not found", { id = exec_id }) end
    self:advance(e)
    return 200, { data = self:execution_view(e) }
  end

  ---------------------------------------------------------------- status views

  local WEEKDAYS = { sunday = 0, monday = 1, tuesday = 2, wednesday = 3, thursday = 4, friday = 5, saturday = 6 }

  local function part(v, default)
    if v == nil or v == null or v == "" then return default end
    local n = tonumber(v)
    if not n or n ~= math.floor(n) then return nil end
    return n
  end

  -- The next run of the default schedule of an active sync, for hourly,
  -- daily and weekly schedules (UTC); null otherwise.
  function M.next_execution_time(sync, now)
    if not sync.active then return null end
    local s = sync.default_schedule
    local minute, hour = part(s.minute, 0), part(s.hour, 0)
    if not minute or not hour or minute > 59 or hour > 23 then return null end
    now = now or os.time()
    local t
    if s.frequency == "hourly" then
      t = now - now % 3600 + minute * 60
      if t <= now then t = t + 3600 end
    elseif s.frequency == "daily" or s.frequency == "weekly" then
      t = now - now % 86400 + hour * 3600 + minute * 60
      if t <= now then t = t + 86400 end
      if s.frequency == "weekly" then
        local want = WEEKDAYS[tostring(s.day_of_week):lower()]
        if not want then return null end
        -- 1970-01-01 was a Thursday.
        while (t // 86400 + 4) % 7 ~= want do t = t + 86400 end
      end
    else
      return null
    end
    return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
  end

  function App:status(id, version)
    local sync = self:find(id)
    if not sync then return not_found(id) end
    self:advance_sync(id)
    local data = { next_execution_time = M.next_execution_time(sync) }
    local current, last = self:current_execution(id), self:last_execution(id)
    -- Both are BulkSyncExecution, not nullable: absent when there is none.
    if current then data.current_execution = self:execution_view(current) end
    if last then data.last_execution = self:execution_view(last) end
    if version == M.V2025 then
      local cdc = sync.mode == "replicate"
      data.ingestion_status = {
        enabled = cdc, is_running = cdc and sync.active == true, status = "ok", status_message = "",
        highwater_mark = "", position = "", position_time = null, updated_at = sync.updated_at,
      }
    end
    return 200, { data = data }
  end

  -- Every value of a repeated query parameter, in order.
  local function query_values(raw, name)
    local out = {}
    for pair in (raw or ""):gmatch("[^&]+") do
      local k, v = pair:match("^([^=]*)=?(.*)$")
      if h.decode_path(k) == name then out[#out + 1] = h.decode_path(v:gsub("+", " ")) end
    end
    return out
  end

  function App:sync_status_item(sync)
    local id = sync.id
    self:advance_sync(id)
    local item = { sync_id = id, nextExecutionTime = M.next_execution_time(sync) }
    local shown = self:current_execution(id) or self:last_execution(id)
    if shown then item.status = shown.status end
    -- Each enabled schema once: a running execution of it first, else its
    -- newest. Schemas that never ran are not listed.
    local list = A {}
    local execs = self:executions(id)
    for _, s in ipairs(self.data.schemas[id]) do
      if s.enabled then
        local best, best_exec
        for i = #execs, 1, -1 do
          local e = execs[i]
          for _, se in ipairs(e.schemas) do
            if se.schema == s.id and (best == nil or (not TERMINAL[e.status] and TERMINAL[best_exec.status])) then
              best, best_exec = se, e
            end
          end
        end
        if best then
          list[#list + 1] = {
            execution_id = best_exec.id, schema = best.schema, status = best.status,
            status_message = best.status_message, started_at = best.started_at,
            completed_at = best.completed_at, record_count = best.record_count,
            error_count = best.error_count, warning_count = best.warning_count,
          }
        end
      end
    end
    if #list == 0 and self.config.null_empty_lists then list = null end
    item.schemas = list
    return item
  end

  function App:list_status(query, raw_query)
    for _, name in ipairs { "all", "active" } do
      local s, err = bool_param("list_status", query, name)
      if s then return s, err end
    end
    local syncs = {}
    if query.all == "true" or query.active == "true" then
      for _, id in ipairs(self.data.order) do
        local sync = self.data.syncs[id]
        if query.active ~= "true" or sync.active then syncs[#syncs + 1] = sync end
      end
    else
      local seen = {}
      for _, id in ipairs(query_values(raw_query, "sync_id")) do
        local sync = self:find(id)
        if not sync then return not_found(id) end
        if not seen[id] then
          seen[id] = true
          syncs[#syncs + 1] = sync
        end
      end
    end
    local data = A {}
    for i, sync in ipairs(syncs) do data[i] = self:sync_status_item(sync) end
    if #data == 0 and self.config.null_empty_lists then data = null end
    return 200, { data = data }
  end
end
