-- wrk script: every request is a new order.paid event (unique id), members spread over 10,000.
-- BATCH=n in the environment sends batches of n events to /v1/events/batch instead.
local counter = 0
local thread_id = 0
local threads = {}
local batch = tonumber(os.getenv("BATCH") or "0")
local run = os.getenv("RUN_ID") or "run"

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = tid
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("API_KEY")
end

local function event()
  counter = counter + 1
  local n = thread_id * 100000000 + counter
  return string.format(
    '{"id":"%s-%d","type":"order.paid","occurred_at":"2026-11-01T10:00:00Z",' ..
    '"member":{"external_id":"m%d"},"data":{"order_id":"%s-o%d","currency":"PLN",' ..
    '"lines":[{"sku":"A-%d","category":"pets","quantity":2,"unit_price":"49.90","discount":"5.00"},' ..
    '{"sku":"B","quantity":1,"unit_price":"19.99"}],"shipping":"12.00","tax":"0","total":"126.79"}}',
    run, n, n % 10000, run, n, n % 50)
end

function request()
  if batch > 0 then
    local items = {}
    for i = 1, batch do items[i] = event() end
    return wrk.format("POST", "/v1/events/batch", nil, '{"events":[' .. table.concat(items, ",") .. ']}')
  end
  return wrk.format("POST", "/v1/events", nil, event())
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests=%d duration_us=%d errors=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, errors, latency:percentile(50), latency:percentile(99)))
end
