-- The stand-in's schedules endpoints (/api/bulk/syncs/{sync_id}/schedules),
-- camelCase as published, in both API versions.
--
-- They are a second view of the sync's own schedules: the default schedule
-- (isDefault true) and the additional schedules, in that order, each under
-- the id it has in the sync. POST adds an additional schedule, PUT replaces
-- one whole, DELETE removes one; the sync's default_schedule and
-- additional_schedules show every change at once.
-- Siblings by relative name: standin.* in a checkout, bulksync.standin.* installed.
local prefix = (...):match("^(.-)[^.]*$")
local json = require(prefix .. "json")

local A = json.array

return function(M, App, h)
  local api_error, not_found, bad_request, check, now_rfc3339 = h.api_error, h.not_found, h.bad_request, h.check,
    h.now_rfc3339
  local D = h.desc

  -- BulkSyncScheduleAPI: camelCase name -> the stored (snake_case) key.
  local PARTS = { frequency = "frequency", dayOfMonth = "day_of_month", dayOfWeek = "day_of_week", hour = "hour",
    minute = "minute", month = "month", selectiveMode = "selective_mode" }
  local SCHEDULE_API = D.object({ frequency = D.FREQUENCY, dayOfMonth = D.STRING, dayOfWeek = D.STRING,
    hour = D.STRING, minute = D.STRING, month = D.STRING, selectiveMode = D.SELECTIVE }, { "frequency" })
  M.SCHEDULE_BODY = D.object({ schedule = SCHEDULE_API }, { "schedule" })

  local function view(sync, s, is_default)
    local v = { syncId = sync.id, isDefault = is_default, syncMode = s.resync_mode or "normal",
      schemas = json.copy(s.schemas or A {}) }
    for camel, snake in pairs(PARTS) do v[camel] = s[snake] end
    v.createdAt, v.updatedAt = s.created_at, s.updated_at
    v.createdBy = s.created_by and s.created_by.id
    v.updatedBy = s.updated_by and s.updated_by.id
    return v
  end

  -- The schedule `schedule_id` of the sync: it, whether it is the default,
  -- and its index among the additional schedules.
  local function find(sync, schedule_id)
    if sync.default_schedule.id == schedule_id then return sync.default_schedule, true end
    for i, s in ipairs(sync.additional_schedules) do
      if s.id == schedule_id then return s, false, i end
    end
    return nil
  end

  local function schedule_not_found(schedule_id)
    return api_error(404, "not_found", "schedule not found", { id = schedule_id })
  end

  -- The request's schedule, checked, in stored keys; or nil, status, error.
  local function read_body(endpoint, text, version)
    local body, status, err = h.decode_body(endpoint, text)
    if body == nil then return nil, status, err end
    local p, m, r = check(M.SCHEDULE_BODY, body, "", version)
    if p then
      local msg = p == "" and "request body " .. m or "field '" .. p .. "' " .. m
      return nil, bad_request(endpoint, "bad_request", msg, { field = p ~= "" and p or nil, reason = r })
    end
    local content = {}
    for camel, snake in pairs(PARTS) do content[snake] = body.schedule[camel] end
    return content
  end

  function App:list_schedules(id)
    local sync = self:find(id)
    if not sync then return not_found(id) end
    local list = A { view(sync, sync.default_schedule, true) }
    for _, s in ipairs(sync.additional_schedules) do list[#list + 1] = view(sync, s, false) end
    return 200, { data = list }
  end

  function App:get_schedule(id, schedule_id)
    local sync = self:find(id)
    if not sync then return not_found(id) end
    local s, is_default = find(sync, schedule_id)
    if not s then return schedule_not_found(schedule_id) end
    return 200, { data = view(sync, s, is_default) }
  end

  -- POST: a new additional schedule for every schema (`schemas` []), run
  -- normally (no resync_mode).
  function App:create_schedule(id, body_text, version, actor)
    local sync = self:find(id)
    if not sync then return not_found(id) end
    local content, status, err = read_body("create_schedule", body_text, version)
    if not content then return status, err end
    content.schemas = A {}
    local s = h.stored_schedule(nil, content, h.ADDITIONAL_KEYS, now_rfc3339(), actor)
    sync.additional_schedules[#sync.additional_schedules + 1] = s
    return 200, { data = view(sync, s, false) }
  end

  -- PUT replaces the schedule whole: parts the body omits are gone, and an
  -- additional schedule loses its resync_mode and its schema list (the body
  -- cannot carry them). The default schedule takes no selectiveMode (the
  -- sync's default_schedule has none) and keeps a stored `multi` only while
  -- its frequency stays "multi", as a 2025-09-18 PUT of the sync does.
  function App:put_schedule(id, schedule_id, body_text, version, actor)
    local sync = self:find(id)
    if not sync then return not_found(id) end
    local old, is_default, index = find(sync, schedule_id)
    if not old then return schedule_not_found(schedule_id) end
    local content, status, err = read_body("put_schedule", body_text, version)
    if not content then return status, err end
    local s
    if is_default then
      if content.selective_mode ~= nil then
        return bad_request("put_schedule", "bad_request",
          "field 'schedule.selectiveMode' cannot be set on the default schedule",
          { field = "schedule.selectiveMode", reason = "default_schedule" })
      end
      if content.frequency == "multi" then content.multi = old.multi end
      s = h.stored_schedule(old, content, h.DEFAULT_KEYS, now_rfc3339(), actor)
      sync.default_schedule = s
    else
      content.schemas = A {}
      s = h.stored_schedule(old, content, h.ADDITIONAL_KEYS, now_rfc3339(), actor)
      sync.additional_schedules[index] = s
    end
    return 200, { data = view(sync, s, is_default) }
  end

  -- DELETE removes an additional schedule; the default schedule cannot go
  -- (the sync requires one), and the endpoint declares no 400: 500.
  function App:delete_schedule(id, schedule_id)
    local sync = self:find(id)
    if not sync then return not_found(id) end
    local s, is_default, index = find(sync, schedule_id)
    if not s then return schedule_not_found(schedule_id) end
    if is_default then
      return bad_request("delete_schedule", "bad_request", "the default schedule of a sync cannot be deleted",
        { id = schedule_id })
    end
    table.remove(sync.additional_schedules, index)
    return 200, nil
  end
end
