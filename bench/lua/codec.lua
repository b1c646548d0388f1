-- Rows 1 and 2: the JSON work of an update, against lua-cjson.
--   1. bulksync.encode (validate + encode in one pass) vs cjson.encode of the
--      same table (which validates nothing)
--   2. bulksync.decode vs cjson.decode of the same text
-- Both on a realistic body/response and on a large one.
local H = require "harness"
local bodies = require "bodies"
local bulksync = require "bulksync"
local cjson = require "cjson"

local M = {}

local function pair(label, ours_fn, ref_fn, what)
  -- Same iteration count for both, set by the reference.
  local n = H.calibrate(ref_fn)
  local t = H.compare({ ours = ours_fn, ref = ref_fn }, n)
  local ratio = t.ours / t.ref
  return {
    row = label,
    ours = H.us(t.ours),
    reference = what .. " " .. H.us(t.ref),
    ratio = string.format("%.2f", ratio),
    target = "<= 1.00",
    met = H.met(ratio <= 1.0),
    seconds = t.ours, ref_seconds = t.ref,
  }
end

function M.encode_rows()
  local rows = {}
  local opts = { version = "2025-09-18" }
  local encode, cencode = bulksync.encode, cjson.encode
  for _, case in ipairs {
    { "1a encode+validate, realistic", bodies.update_2025() },
    { "1b encode+validate, 3,000 schemas", bodies.large_2025(3000) },
  } do
    local body = case[2]
    -- The bench compares like with like: make sure both accept the body.
    local json = encode(body, opts)
    local size = #json
    rows[#rows + 1] = pair(string.format("%s (%s)", case[1], M.size(size)),
      function(n) for _ = 1, n do encode(body, opts) end end,
      function(n) for _ = 1, n do cencode(body) end end,
      "cjson.encode")
  end
  return rows
end

function M.decode_rows()
  local rows = {}
  local decode, cdecode = bulksync.decode, cjson.decode
  for _, case in ipairs {
    { "2a decode, realistic response", bodies.json(bodies.response_2024()) },
    { "2b decode, 3,000 schemas response", bodies.json(bodies.schemas_response(3000)) },
  } do
    local text = case[2]
    decode(text)
    rows[#rows + 1] = pair(string.format("%s (%s)", case[1], M.size(#text)),
      function(n) for _ = 1, n do decode(text) end end,
      function(n) for _ = 1, n do cdecode(text) end end,
      "cjson.decode")
  end
  return rows
end

function M.size(bytes)
  if bytes >= 1024 * 1024 then return string.format("%.1f MB", bytes / 1048576) end
  return string.format("%.1f KB", bytes / 1024)
end

return M
