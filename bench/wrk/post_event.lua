-- The seed README's JSON POST event (`POST /tr/v1/tr/`), a fresh vid and sid per request.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 " ..
   "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
wrk.headers["Accept-Language"] = "en-US,en;q=0.9"

local BODY = '{"vid":"%s","sid":"%s","ename":"page_view","etyp":"view",' ..
   '"url":"https://example.com/page","tz":"America/Los_Angeles","device":"Desktop","os":"macOS"}'

function make_request()
   return wrk.format(nil, "/tr/v1/tr/", nil, string.format(BODY, next_uuid(), next_uuid()))
end
