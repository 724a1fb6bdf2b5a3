"""``/tr/v{N}/ltv/``: payments and lifetime value (http-api.md §1.6, §2.13).

OPTIONS gets the CORS preflight; GET, POST and PUT record (GET from the query string, POST and
PUT from a JSON or form body, both over the path pairs, cookies and ``User`` header as in §2.1);
other methods get 405. Success is 200 with an empty body, as in Go. Unlike Go, a bad amount,
currency or time is a 400 naming the field, and nothing of that request is stored.
The rows go to the spool like events; ``payments`` and ``ltv`` batches are written at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.errors import TrackerError
from tracker.http import hot
from tracker.http import request as raw
from tracker.http.api import (
    ALL_METHODS,
    MethodNotAllowed,
    api_errors,
    cors,
    empty_response,
    error_response,
    preflight,
    read_object,
)
from tracker.http.api import request_host as host_of
from tracker.normalise import hashing, values
from tracker.normalise.event import now_ms
from tracker.plan.ltv_rows import plan_ltv

if TYPE_CHECKING:
    from tracker.app import Runtime

__all__ = ["routes"]


def routes(rt: Runtime) -> list[Route]:
    prefix = f"/tr/v{rt.settings.api_version}/ltv"

    @api_errors(rt)
    async def ltv(request: Request) -> Response:
        method = request.method
        if method == "OPTIONS":
            return preflight(rt, request)
        headers = cors(rt, request)
        if method not in hot.RECORDING_METHODS:
            return error_response(
                MethodNotAllowed("Method not allowed: use GET, POST or PUT."), headers
            )
        req = raw.from_scope(request.scope)
        try:
            body = await read_object(rt, request) if method != "GET" else None
            v = values.build(
                user_header=req.headers.get("user"),
                cookies=req.cookies,
                path_values=values.from_path(req.path, 3),
                query_values=values.from_query(req.query_pairs(), rt.ignore_query_key),
                body=body,
            )
            records = plan_ltv(v, hashing.hhash(host_of(rt, req)), now_ms())
            await rt.spool.append(records)
        except TrackerError as exc:
            rt.metrics.drop(hot.drop_reason(exc))
            raise
        return empty_response(headers)

    return [
        Route(prefix, ltv, methods=ALL_METHODS),
        Route(prefix + "/{rest:path}", ltv, methods=ALL_METHODS),
    ]
