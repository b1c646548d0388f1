-- bulksync.errors: the error kinds, typing an HTTP answer, and redaction.
--
-- Every error the module raises is a table with the metatable below:
-- { kind, message, status?, body?, key?, metadata?, errors?, retryable?,
--   attempts?, headers?, curl_code? }. Nothing taken from the wire reaches
-- one before the client's secrets are cut out of it.

local core = require "bulksync.core"

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local setmetatable, getmetatable, error = setmetatable, getmetatable, error
local concat = table.concat
local format, sub, find, gsub = string.format, string.sub, string.find, string.gsub

--- The errors the module raises: one kind per way a call can fail.
--
-- Every error is a table sharing one metatable (@{Error}); test it with
-- `bulksync.is_error(err)` and branch on `err.kind`. `bulksync.errors` lists
-- the kinds. The API key, the org id and the Authorization value never
-- appear in an error: anything taken from the wire has them cut out.
-- Misusing the module itself (a method called with a dot, or after
-- `client:close()`) raises a plain string error instead.
--
-- The kinds, when each is raised, and whether the client retries it:
--
--  * `ValidationError`: a bad body, id, option or change; nothing was sent.
--    `err.errors` lists every problem. Not retried.
--  * `BadRequestError` (400), `UnauthorizedError` (401), `ForbiddenError` (403),
--    `NotFoundError` (404), `ConflictError` (409), `UnprocessableEntityError`
--    (422): the answer's status. Not retried.
--  * `RequestTimeoutError` (408), `RateLimitError` (429), `InternalServerError`
--    (500): retried.
--  * `ServerError`: another 5xx; 502, 503 and 504 are retried.
--  * `HTTPError`: any other non-2xx status. Not retried.
--  * `TimeoutError`: the connect or total timeout passed. Retried.
--  * `TransportError`: refused, reset, DNS, TLS, or an answer over
--    `max_response_size`; connection failures are retried.
--  * `DecodeError`: a 2xx whose body is not the expected JSON, or
--    `bulksync.decode` of bad text. Not retried.
--  * `WaitTimeoutError`: `client:wait` ran past its timeout; `err.execution`
--    is the last execution read. Not retried.
-- @module bulksync.errors
-- @usage
-- local ok, err = pcall(client.update, client, id, body)
-- if not ok then
--   if bulksync.is_error(err) and err.kind == "ValidationError" then
--     for _, p in ipairs(err.errors) do print(p.path, p.code, p.problem) end
--   else
--     print(tostring(err))   -- bulksync: NotFoundError (404): ...
--   end
-- end

local E = {}

local MAX_ERROR_TEXT = 2048   -- raw error bodies are cut to this many bytes

E.KINDS = {
  "ValidationError", "BadRequestError", "UnauthorizedError", "ForbiddenError",
  "NotFoundError", "ConflictError", "UnprocessableEntityError", "RateLimitError",
  "InternalServerError", "ServerError", "HTTPError", "TimeoutError",
  "TransportError", "DecodeError", "RequestTimeoutError", "WaitTimeoutError",
}

local STATUS_KINDS = {
  [400] = "BadRequestError", [401] = "UnauthorizedError", [403] = "ForbiddenError",
  [404] = "NotFoundError", [408] = "RequestTimeoutError", [409] = "ConflictError",
  [422] = "UnprocessableEntityError",
  [429] = "RateLimitError", [500] = "InternalServerError",
}

--- An error raised by the module. Every field but `kind` and `message`
-- is present only where it applies. `tostring(err)` reads
-- `bulksync: KIND (STATUS): MESSAGE`.
-- @table Error
-- @tfield string kind one of the kinds above
-- @tfield string message what went wrong, one line
-- @tfield[opt] number status the HTTP status of the answer
-- @tfield[opt] table|string body the answer's body: the decoded table, or
-- the raw text cut to 2 KiB
-- @tfield[opt] table headers the answer's headers (lower-case names)
-- @tfield[opt] string key the API's error key, from its error body
-- @tfield[opt] table metadata the API's error metadata (or `context`)
-- @tfield[opt] table errors `ValidationError`: every problem as
-- `{ path, code, problem }`; `path` names the field (`schemas[2].fields`),
-- `code` is one of `required`, `unknown`, `type`, `enum`, `format`, `null`,
-- `range`, `strict`, `structure`, `limit`; a wrong value is never quoted
-- @tfield[opt] number curl_code the libcurl error code of a transport failure
-- @tfield[opt] boolean retryable whether another attempt could help
-- @tfield[opt] number attempts the attempts made before giving up
-- @tfield[opt] table execution `WaitTimeoutError`: the last execution read

local Error = {}
Error.__index = Error
Error.__name = "bulksync.error"

function Error.__tostring(e)
  local head = "bulksync: " .. e.kind
  if e.status then head = head .. " (" .. tostring(e.status) .. ")" end
  return head .. ": " .. tostring(e.message)
end

function E.new(kind, fields)
  local e = fields or {}
  e.kind = kind
  e.message = e.message or kind
  return setmetatable(e, Error)
end

function E.is_error(v)
  return getmetatable(v) == Error
end

function E.raise(kind, fields)
  error(E.new(kind, fields), 0)
end

------------------------------------------------------------------------
-- Redaction
------------------------------------------------------------------------

-- A server or proxy that echoes request headers into an error would put
-- the key into it: every secret is cut out of anything taken from the
-- wire. Raw text is searched for each secret as written and as JSON may
-- escape it ("/" as "\/"); decoded values are searched after decoding,
-- which undoes every other escape (\u0038...).
local function replace_plain(text, secret)
  if secret == "" or not find(text, secret, 1, true) then return text end
  local parts, from = {}, 1
  while true do
    local i, j = find(text, secret, from, true)
    if not i then break end
    parts[#parts + 1] = sub(text, from, i - 1)
    parts[#parts + 1] = "[redacted]"
    from = j + 1
  end
  parts[#parts + 1] = sub(text, from)
  return concat(parts)
end

local function redact(text, secrets)
  if not secrets then return text end
  for _, secret in ipairs(secrets) do
    text = replace_plain(text, secret)
    if find(secret, "/", 1, true) then text = replace_plain(text, (gsub(secret, "/", "\\/"))) end
  end
  return text
end
E.redact = redact

-- Every string of a decoded value, keys included, in place (the value is
-- fresh from the decoder or a copy). Depth is bounded by the decoder.
local function redact_value(v, secrets)
  if type(v) == "string" then return redact(v, secrets) end
  if type(v) ~= "table" or not secrets then return v end
  local renamed = {}
  for k, x in pairs(v) do
    v[k] = redact_value(x, secrets)
    if type(k) == "string" then
      local clean = redact(k, secrets)
      if clean ~= k then renamed[#renamed + 1] = { k, clean } end
    end
  end
  for _, pair in ipairs(renamed) do
    v[pair[2]], v[pair[1]] = v[pair[1]], nil
  end
  return v
end

-- A redacted deep copy of a decoded value, for an error to carry data
-- that the caller also holds (a copy: their data stays as it came).
local function copy(v, depth)
  if type(v) ~= "table" or depth > 200 then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = copy(x, depth + 1) end
  return setmetatable(out, getmetatable(v))
end

function E.redacted_copy(v, secrets)
  return redact_value(copy(v, 0), secrets)
end

local function redacted_headers(headers, secrets)
  if type(headers) ~= "table" then return headers end
  local fresh = {}
  for k, x in pairs(headers) do fresh[k] = x end
  return redact_value(fresh, secrets)
end

------------------------------------------------------------------------
-- Validation problems
------------------------------------------------------------------------

-- code: one of core.PROBLEM_CODES (required, unknown, type, enum, format,
-- null, range, strict, structure, limit), as the C core's problems carry.
function E.problem(path, text, code)
  return { path = path, problem = text, code = code or "type" }
end

-- One message that names every problem, so a script's log says it all.
function E.validation(problems, count, what, secrets)
  local parts = {}
  for i, p in ipairs(problems) do
    -- A key pasted into a body (as a value, or as a field's name) must not
    -- come back in the problem that names it.
    if secrets then p.path, p.problem = redact(p.path, secrets), redact(p.problem, secrets) end
    parts[i] = (p.path ~= "" and (p.path .. ": ") or "") .. p.problem
  end
  count = count or #problems
  local msg = format("%s has %d problem%s: %s", what or "body", count, count == 1 and "" or "s",
    concat(parts, "; "))
  if count > #problems then msg = msg .. format("; and %d more", count - #problems) end
  return E.new("ValidationError", { message = msg, errors = problems })
end

function E.invalid(path, text, what, code)
  error(E.validation({ E.problem(path, text, code) }, 1, what), 0)
end

------------------------------------------------------------------------
-- Answers
------------------------------------------------------------------------

local function cut(text)
  if #text > MAX_ERROR_TEXT then return sub(text, 1, MAX_ERROR_TEXT) .. "..." end
  return text
end

-- The typed error of a non-2xx answer, from either error shape the API
-- uses: {key, message, metadata, status:int} and {code, context, error,
-- status:string}. Anything else is kept as text. Whether it is worth
-- another attempt is bulksync.retry's business.
function E.http(status, headers, text, secrets)
  local kind = STATUS_KINDS[status] or (status >= 500 and status <= 599 and "ServerError") or "HTTPError"
  local e = { status = status, headers = redacted_headers(headers, secrets) }
  local decoded = text ~= "" and core.decode(text) or nil
  -- Redacted after decoding (escapes undone), and the raw text as it is,
  -- before anything is cut from it.
  text = redact(text, secrets)
  if type(decoded) == "table" then
    decoded = redact_value(decoded, secrets)
    e.body = decoded
    local msg = decoded.message or decoded.error
    if type(msg) == "string" and msg ~= "" then e.message = msg end
    e.key = type(decoded.key) == "string" and decoded.key or nil
    e.metadata = type(decoded.metadata) == "table" and decoded.metadata
      or type(decoded.context) == "table" and decoded.context or nil
    if decoded.code ~= nil then e.code = decoded.code end
  else
    e.body = cut(text)
  end
  if not e.message then
    local first = text:match("<title>%s*(.-)%s*</title>") or text:match("^%s*([^\r\n]+)")
    e.message = first and cut(first) or ("HTTP status " .. status)
    if #e.message > 200 then e.message = sub(e.message, 1, 200) .. "..." end
  end
  return E.new(kind, e)
end

-- The data of a 2xx answer's {"data": ...} envelope, and the envelope. A
-- DecodeError keeps the raw text, redacted and then cut. With
-- null_is_empty, `data: null` is an empty list (the published type of a
-- list's data is array-or-null).
function E.decode_envelope(resp, what, secrets, null_is_empty, data_optional)
  local body = resp.body
  if body == nil or body == "" then
    E.raise("DecodeError", { status = resp.status, message = what .. ": empty response body", body = "" })
  end
  local value, err = core.decode(body)
  if value == nil then
    E.raise("DecodeError", { status = resp.status, message = what .. ": response is not JSON (" .. err .. ")",
      body = cut(redact(body, secrets)) })
  end
  if type(value) ~= "table" or (value.data == nil and not data_optional)
      or (value.data == core.null and not null_is_empty) then
    E.raise("DecodeError", { status = resp.status, message = what .. ': response has no "data"',
      body = cut(redact(body, secrets)) })
  end
  if value.data == core.null then return setmetatable({}, core.array_mt), value end
  return value.data, value
end

return E
