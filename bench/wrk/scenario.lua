-- One wrk script for every HTTP scenario of bench/run.py; the scenario comes from the environment.
--
--   BENCH_MODE      baseline | unverified | verified | idempotent | batch | call_to_text | get
--   BENCH_BATCH     messages per request in mode batch (POST /api/v1/messages/batch, new numbers)
--   BENCH_AREA      the area code of this run's phone numbers (each scenario has its own, so one
--                   scenario's numbers never reuse another's channels)
--   BENCH_OFFSET    where this run's numbering starts (a warm-up and the measured run differ)
--   BENCH_TOKEN     the MAPI bearer token;  BENCH_PRACTICE  the practice id
--   BENCH_PATIENTS  how many verified patients the fixtures made (MRN BENCH0000001 … with phone
--                   +1 BENCH_PATIENT_AREA 200 0000 + i)
--   BENCH_LIMIT     stop after this many responses in all (0: run for the whole duration)
--   BENCH_COOKIE    a session cookie (mode get)
--
-- Every request is different: a new phone number (a counter, interleaved across threads), and
-- with an Idempotency-Key a new key. At the end it prints one JSON line with the latency
-- percentiles, the counts and the responses by status.

local mode = os.getenv("BENCH_MODE") or "baseline"
local area = tonumber(os.getenv("BENCH_AREA") or "212")
local offset = tonumber(os.getenv("BENCH_OFFSET") or "0")
local token = os.getenv("BENCH_TOKEN") or ""
local practice = os.getenv("BENCH_PRACTICE") or ""
local patients = tonumber(os.getenv("BENCH_PATIENTS") or "1")
local patient_area = tonumber(os.getenv("BENCH_PATIENT_AREA") or "617")
local limit = tonumber(os.getenv("BENCH_LIMIT") or "0")
local cookie = os.getenv("BENCH_COOKIE") or ""
local batch = tonumber(os.getenv("BENCH_BATCH") or "100")

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  responses = 0
  statuses = {}
  thread_limit = 0
  if limit > 0 then
    thread_limit = math.ceil(limit / thread_count_hint())
  end
  math.randomseed(os.time() + thread_index * 7919)
end

-- setup() ran for every thread before init(), but a thread's own Lua state only sees what was
-- set on it: the thread count travels as a variable too.
function thread_count_hint()
  return tonumber(os.getenv("BENCH_THREADS") or "1")
end

local function number(n)
  -- 8,000,000 numbers per area code: exchanges 200-999, lines 0000-9999.
  n = n % 8000000
  local exchange = 200 + math.floor(n / 10000)
  return string.format("+1%03d%03d%04d", area, exchange, n % 10000)
end

local function next_n()
  local n = offset + counter * thread_count_hint() + thread_index
  counter = counter + 1
  return n
end

local json_headers = { ["Content-Type"] = "application/json" }

function request()
  local n = next_n()
  if mode == "baseline" then
    return wrk.format("POST", "/bench/baseline/", json_headers,
      string.format('{"to":"%s","body":"Your appointment is tomorrow at 9:00. Reply C to confirm."}', number(n)))
  elseif mode == "call_to_text" then
    return wrk.format("GET", wrk.path .. "?CALLER_ID_NUMBER=" .. number(n):sub(3), nil, nil)
  elseif mode == "get" then
    return wrk.format("GET", wrk.path, { ["Cookie"] = cookie }, nil)
  end
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }
  local body
  if mode == "batch" then
    local items = {}
    for k = 0, batch - 1 do
      items[#items + 1] = string.format(
        '{"to":"%s","body":"Your appointment is tomorrow at 9:00. Reply C to confirm.","practice_id":"%s"}',
        number(offset + (n - offset) * batch + k), practice)
    end
    return wrk.format("POST", "/api/v1/messages/batch", headers,
      '{"messages":[' .. table.concat(items, ",") .. ']}')
  end
  if mode == "verified" then
    local i = n % patients
    body = string.format(
      '{"to":"+1%03d%07d","body":"Your appointment is tomorrow at 9:00. Reply C to confirm.",' ..
      '"practice_id":"%s","patient":{"mrn":"BENCH%07d"}}',
      patient_area, 2000000 + i, practice, i)
  else
    body = string.format(
      '{"to":"%s","body":"Your appointment is tomorrow at 9:00. Reply C to confirm.","practice_id":"%s"}',
      number(n), practice)
  end
  if mode == "idempotent" then
    headers["Idempotency-Key"] = string.format("bench-%d-%d-%d", offset, thread_index, counter)
  end
  return wrk.format("POST", "/api/v1/messages", headers, body)
end

function response(status, headers, body)
  responses = responses + 1
  statuses[status] = (statuses[status] or 0) + 1
  if thread_limit > 0 and responses >= thread_limit then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local by_status = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for status, count in pairs(s) do
      by_status[status] = (by_status[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(by_status) do
    table.insert(parts, string.format('"%d":%d', status, count))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d},"statuses":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.status,
    e.timeout, table.concat(parts, ",")))
end
