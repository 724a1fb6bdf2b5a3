-- Shared by the scenario scripts (loaded with dofile): a wall clock, unique ids, the send
-- window, counting answers, and one machine-readable summary line.
--
-- Arguments after `--`: <send seconds> <events per request>.
-- Requests are sent for <send seconds>; after that `delay` parks every connection, so when wrk's
-- own duration (longer, by a grace period) ends no request is in flight: every request the
-- server received was answered and counted here, and rows landed must equal 200s x events.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local timespec = ffi.new("bench_timespec")
local CLOCK_MONOTONIC = 1

function now()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
   return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) * 1e-9
end

local threads = {}

function setup(thread)
   thread:set("index", #threads)
   table.insert(threads, thread)
end

function init(args)
   send_seconds = tonumber(args[1] or "10")
   per_request = tonumber(args[2] or "1")
   started = now()
   stop_at = started + send_seconds
   sent, ok, bad, last = 0, 0, 0, started
   math.randomseed(os.time() + index * 7919)
   -- ids are unique per run and thread: a random 32-bit prefix, the thread, then a counter
   id_prefix = string.format("%08x-%04x", math.random(0, 0x7fffffff), index % 0x10000)
   id_counter = 0
end

function next_uuid()
   id_counter = id_counter + 1
   return string.format("%s-4%03x-8%03x-%012x", id_prefix, id_counter % 0x1000,
      math.floor(id_counter / 0x1000) % 0x1000, id_counter)
end

-- wrk asks `delay` once before each request it sends (and calls `request` once more at start-up
-- to check the script), so requests are counted here.
function delay()
   if now() >= stop_at then
      return 3600000 -- the window is over: park the connection
   end
   sent = sent + 1
   return 0
end

function request()
   return make_request()
end

function response(status, headers, body)
   if status == 200 then
      ok = ok + 1
   else
      bad = bad + 1
   end
   last = now()
end

function done(summary, latency, requests)
   local total_sent, total_ok, total_bad, window = 0, 0, 0, 0
   local per_request = threads[1]:get("per_request")
   for _, thread in ipairs(threads) do
      total_sent = total_sent + thread:get("sent")
      total_ok = total_ok + thread:get("ok")
      total_bad = total_bad + thread:get("bad")
      window = math.max(window, thread:get("last") - thread:get("started"))
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH {"sent":%d,"ok":%d,"non200":%d,"window_s":%.6f,"per_request":%d,' ..
      '"wrk_requests":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
      '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d}\n',
      total_sent, total_ok, total_bad, window, per_request, summary.requests,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.timeout))
end
