-- wrk script: many USSD sessions, each already on the golf tee-time list, paging 98/99 by turns.
-- Sessions outnumber connections 4 to 1, so a session's previous hop has finished before its next.
-- Env: BENCH_NUMBERS (file of E.164 numbers, one a session), BENCH_PREFIX (inputs that reach the list).
local numbers, texts, hops = {}, {}, {}
local n, i = 0, 0
local prefix = os.getenv("BENCH_PREFIX") or ""
local tag = os.getenv("BENCH_TAG") or "s"

function init(args)
  for line in io.lines(os.getenv("BENCH_NUMBERS")) do
    n = n + 1
    numbers[n] = line:gsub("%+", "%%2B")
    texts[n] = prefix
    hops[n] = 0
  end
end

function request()
  i = i % n + 1
  hops[i] = hops[i] + 1
  local key = (hops[i] % 2 == 1) and "98" or "99"
  texts[i] = texts[i] .. "*" .. key
  local body = "sessionId=" .. tag .. i .. "&serviceCode=%2A126%23&phoneNumber=" .. numbers[i] ..
               "&networkCode=46000&text=" .. texts[i]:gsub("%*", "%%2A")
  return wrk.format("POST", "/ussd/africastalking?key=bench-secret",
                    {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end

bad = 0  -- a global of the thread's Lua state, read by done() through thread:get
local threads = {}
function setup(thread) table.insert(threads, thread) end

function response(status, headers, body)
  if status ~= 200 or body:sub(1, 4) ~= "CON " then bad = bad + 1 end
end

function done(summary, latency, requests)
  local e, bad = summary.errors, 0
  for _, t in ipairs(threads) do bad = bad + t:get("bad") end
  io.write(string.format('{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, "not_con": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout, bad))
end
