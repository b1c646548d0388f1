--[[ bulksync.curl: the libcurl transport (the default outside OpenResty).

A transport is a table { request, request_many?, sleep, close, name }:
  request(req) -> response | nil, err
  req      = { method, url, headers = {name = value}, header_lines = {"Name: value"},
               extra_lines = {"Name: value"}?, body, timeout, connect_timeout }
  response = { status = int, headers = {lower-case name = value}, body = string }
  err      = { kind = "TimeoutError" | "TransportError", message, curl_code? | cause? | retryable? }
  request_many(reqs, concurrency, on_done): on_done(i, response | nil, err) as each ends.
  encode(body, version, strict, limits) -> body | nil, problems, count (optional): the
             transport's own encoding of a body for request(), as core.encode checks it.
Whether a failure is worth another attempt is bulksync.retry's business.

One libcurl easy handle per client (core.http), reused, so sequential
requests share one kept-alive connection; request_many runs the multi
interface. Callbacks run between libcurl calls, never inside one. ]]

local core = require "bulksync.core"

local C = {}

-- Marks a response whose headers table is new for this response alone, so
-- the client can hand it out instead of copying it. A private key: a
-- custom transport cannot set it by accident.
C.FRESH_HEADERS = {}

function C.new(config)
  local handle = core.http {
    headers = config.header_lines,
    timeout = config.timeout,
    connect_timeout = config.connect_timeout,
    ca_file = config.ca_file,
    max_response_size = config.max_response_size,
    proxy = config.proxy,
  }
  -- Reused: the client copies what it keeps, but for the headers, which
  -- core.http builds afresh for every response (FRESH_HEADERS says so).
  local response = { [C.FRESH_HEADERS] = true }
  -- reuses_request: request() reads what it needs from req and keeps
  -- nothing of it, so the client may hand it the same table again.
  local t = { name = "curl", handle = handle, sleep = core.sleep, reuses_request = true }
  function t.request(req)
    local status, headers, body, code = handle:perform(req.method, req.url, req.body, req.extra_lines)
    if status then
      response.status, response.headers, response.body = status, headers, body
      return response
    end
    return nil, { kind = headers, message = body, curl_code = code }
  end
  function t.request_many(reqs, concurrency, on_done)
    handle:perform_many(reqs, concurrency, function(i, r)
      if r.status then return on_done(i, r) end
      return on_done(i, nil, { kind = r.kind, message = r.message, curl_code = r.curl_code })
    end)
  end
  -- A single call's body is written into the handle by the C core and
  -- sent from there (req.body is then the number naming it): no Lua
  -- string of the JSON is made, copied or collected.
  function t.encode(body, version, strict, limits, kind)
    return core.encode_into(handle, body, version, strict, limits, kind)
  end
  function t.close() handle:close() end
  return t
end

return C
