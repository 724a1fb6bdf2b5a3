-- The URL-path GET event (`GET /tr/v1/tr/vid/<vid>/sid/<sid>/ename/page_view/etyp/view`).
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

wrk.headers["User-Agent"] = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 " ..
   "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
wrk.headers["Accept-Language"] = "en-US,en;q=0.9"

function make_request()
   local path = string.format("/tr/v1/tr/vid/%s/sid/%s/ename/page_view/etyp/view",
      next_uuid(), next_uuid())
   return wrk.format("GET", path)
end
