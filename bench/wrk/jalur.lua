-- wrk script for the HTTP bench: wrk ... -s jalur.lua URL -- MODE AWB_FILE NONCE [API_KEY]
--   MODE scan:  POST /v1/shipments/{awb}/scans, a fresh scan id per request
--   MODE batch: POST /v1/scans, 100 scans of 100 different shipments per request
--   MODE track: GET /v1/track/{awb}
-- Waybills rotate over AWB_FILE (one a line), each thread from its own offset. Scan ids are
-- NONCE-THREAD-4000-8000-COUNTER: unique per run, thread and request. done() prints one
-- line "WRK_JSON {...}" with the rate, latency percentiles and status counts.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_no", #threads)
  table.insert(threads, thread)
end

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if #line > 0 then table.insert(lines, line) end
  end
  return lines
end

local codes = { "OP1", "OP2", "OP3", "TP4", "IP1", "IP2" }  -- never close a shipment

function init(args)
  mode, awbs, nonce, api_key = args[1], read_lines(args[2]), args[3], args[4]
  statuses = {}
  counter = math.floor(#awbs * 0.618 * thread_no) % #awbs  -- threads far apart
  if api_key then
    wrk.headers["X-API-Key"] = api_key
  end
  wrk.headers["Content-Type"] = "application/json"
end

local function scan_json(awb_field)
  counter = counter + 1
  return string.format(
    '{%s"scan_id":"%s-%04x-4000-8000-%012x","code":"%s","scanned_at":"%s","location":"CGK10000"}',
    awb_field, nonce, thread_no, counter, codes[counter % #codes + 1],
    os.date("!%Y-%m-%dT%H:%M:%SZ"))
end

local function next_awb()
  return awbs[counter % #awbs + 1]
end

function request()
  if mode == "track" then
    counter = counter + 1
    return wrk.format("GET", "/v1/track/" .. next_awb())
  elseif mode == "scan" then
    local awb = awbs[(counter + 1) % #awbs + 1]
    return wrk.format("POST", "/v1/shipments/" .. awb .. "/scans", nil, scan_json(""))
  end
  local items = {}
  for i = 1, 100 do
    items[i] = scan_json('"awb":"' .. next_awb() .. '",')
  end
  return wrk.format("POST", "/v1/scans", nil, '{"scans":[' .. table.concat(items, ",") .. ']}')
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      merged[tostring(status)] = (merged[tostring(status)] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(merged) do
    table.insert(parts, string.format('"%s":%d', status, count))
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"socket_errors":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect + e.read + e.write + e.timeout, table.concat(parts, ",")))
end
