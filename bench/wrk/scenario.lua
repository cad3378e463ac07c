-- The one wrk script of bench/run.sh: the request comes from the environment, the summary goes
-- to a JSON file, so every scenario (GET with a bearer token or a cookie, POST with a JSON body,
-- paced or flat out) runs the same code.
--
--   WRK_METHOD    GET (default) or POST
--   WRK_BODY      request body (POST)
--   WRK_BODIES    several bodies, one per line, sent in turn (the storm's accounts)
--   WRK_HEADERS   extra headers, one "Name: value" per line
--   WRK_DELAY_MS  pause before each request of a connection (pacing; unset: flat out)
--   WRK_OUT       where done() writes its JSON summary (unset: stdout)
--   WRK_COUNT_STATUS  a status to count separately (the storm's 503s); unset: none, and no
--                 per-response Lua callback slows the other scenarios

wrk.method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
  wrk.body = body
end
local bodies = {}
for line in (os.getenv("WRK_BODIES") or ""):gmatch("[^\n]+") do
  table.insert(bodies, line)
end
if #bodies > 0 then
  local next_body = 0
  function request()
    next_body = next_body % #bodies + 1
    return wrk.format(nil, nil, nil, bodies[next_body])
  end
end
for line in (os.getenv("WRK_HEADERS") or ""):gmatch("[^\n]+") do
  local name, value = line:match("^%s*([^:]+):%s*(.-)%s*$")
  if name then
    wrk.headers[name] = value
  end
end

local pause = tonumber(os.getenv("WRK_DELAY_MS") or "")
if pause and pause > 0 then
  function delay()
    return pause
  end
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

local counted_status = tonumber(os.getenv("WRK_COUNT_STATUS") or "")
if counted_status then
  counted = 0
  function response(status, headers, body)
    if status == counted_status then
      counted = counted + 1
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("counted") or 0)
  end
  local json = string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"counted_status":%d,'
      .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout, total,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean)
  local path = os.getenv("WRK_OUT")
  if path and path ~= "" then
    local f = assert(io.open(path, "w"))
    f:write(json)
    f:close()
  else
    io.write(json)
  end
end
