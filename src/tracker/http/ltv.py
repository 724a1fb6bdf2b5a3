"""``/tr/v{N}/ltv/``: payments and lifetime value.

OPTIONS gets the CORS preflight; GET, POST and PUT record (GET from the query string, POST and
PUT from a JSON or form body, both over the path pairs, cookies and ``User`` header, as events);
other methods get 405. Success is 200 with an empty body, as in Go. Unlike Go, a bad amount,
currency or time is a 400 naming the field, and nothing of that request is stored.
The rows go to the spool like events; ``payments`` and ``ltv`` batches are written at once.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.errors import MethodNotAllowed, TrackerError
from tracker.http import request as raw
from tracker.http.api import ALL_METHODS, api_errors, cors, empty_response, preflight, read_object
from tracker.http.site import Site
from tracker.normalise import hashing, values
from tracker.normalise.event import now_ms
from tracker.plan.ltv_rows import plan_ltv
from tracker.runtime import RECORDING_METHODS

__all__ = ["routes"]


def routes(site: Site) -> list[Route]:
    prefix = f"{site.prefix}/ltv"
    ingest = site.ingest

    @api_errors(site)
    async def ltv(request: Request) -> Response:
        method = request.method
        if method == "OPTIONS":
            return preflight(site, request)
        if method not in RECORDING_METHODS:
            raise MethodNotAllowed("Method not allowed: use GET, POST or PUT.")
        req = raw.from_scope(request.scope)
        try:
            body = await read_object(site, request) if method != "GET" else None
            v = values.build(
                user_header=req.headers.get("user"),
                cookies=req.cookies,
                path_values=values.from_path(req.path, 3),
                query_values=values.from_query(req.query_pairs(), ingest.ignore_query_key),
                body=body,
            )
            records = plan_ltv(v, hashing.hhash(ingest.host(req)), now_ms())
        except TrackerError as exc:
            ingest.refused(exc)
            raise
        await ingest.store(records)
        return empty_response(cors(site, request))

    return [
        Route(prefix, ltv, methods=ALL_METHODS),
        Route(prefix + "/{rest:path}", ltv, methods=ALL_METHODS),
    ]
