-- A JSON-array batch POST (`POST /tr/v1/tr/`): <events per request> seed events, each with a
-- fresh vid and sid.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 " ..
   "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
wrk.headers["Accept-Language"] = "en-US,en;q=0.9"

local EVENT = '{"vid":"%s","sid":"%s","ename":"page_view","etyp":"view",' ..
   '"url":"https://example.com/page","tz":"America/Los_Angeles","device":"Desktop","os":"macOS"}'

function make_request()
   local events = {}
   for i = 1, per_request do
      events[i] = string.format(EVENT, next_uuid(), next_uuid())
   end
   return wrk.format(nil, "/tr/v1/tr/", nil, "[" .. table.concat(events, ",") .. "]")
end
