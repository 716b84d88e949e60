-- The bench's wrk script (bench/lib/load.mjs runs it; bench/README.md describes the rows).
-- Configured through the environment, so one script serves every row:
--   WRK_METHOD       POST (default) or GET
--   WRK_BODY_FILE    a file whose bytes are the body of every request (a fixed seed: a hit)
--   WRK_TEMPLATE     a JSON body with __SEED__ where each request's own seed goes (a miss)
--   WRK_SEED_START   the first seed; each thread draws from its own block of 10,000,000
--   WRK_SEED_STEP    how far apart two requests' seeds are (4 for n=4: seeds seed…seed+3 are one request's)
-- Headers come from wrk's -H flags. done() prints one line, "WRK_JSON {…}", that load.mjs parses.

local method = os.getenv("WRK_METHOD") or "POST"
local template = os.getenv("WRK_TEMPLATE")
local seed_start = tonumber(os.getenv("WRK_SEED_START") or "1")
local seed_step = tonumber(os.getenv("WRK_SEED_STEP") or "1")
local threads = {}
local prefix, suffix, fixed, seed

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local bytes = f:read("*a")
  f:close()
  return bytes
end

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  local body_file = os.getenv("WRK_BODY_FILE")
  if template then
    local at = string.find(template, "__SEED__", 1, true)
    prefix = string.sub(template, 1, at - 1)
    suffix = string.sub(template, at + 8)
    seed = seed_start + thread_index * 10000000
  elseif body_file then
    fixed = wrk.format(method, nil, nil, read_file(body_file))
  else
    fixed = wrk.format(method, nil, nil, nil)
  end
end

function request()
  if fixed then return fixed end
  seed = seed + seed_step
  return wrk.format(method, nil, nil, prefix .. seed .. suffix)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"non2xx":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
