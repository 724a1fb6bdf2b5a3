"""What the API routes share (LTV, privacy, redirects, short links): responses, errors, bodies,
and recording the event of a redirect.

Every error leaves as the one JSON shape (``{"ok": false, "error": ..., "status": N}``) with the
CORS headers, from the ``api_errors`` wrapper. Redirect routes record their event before answering
(so the ``vid`` cookie rides on the 302 itself) but never fail the redirect because of it: a
visitor following a link gets where it points even when the event is dropped (and counted).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from html import escape
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tracker.errors import BadRequest, TrackerError
from tracker.http import hot
from tracker.http import request as raw
from tracker.http.responses import Headers, error_body
from tracker.normalise import client, values
from tracker.normalise.event import Event

if TYPE_CHECKING:
    from tracker.app import Runtime

__all__ = [
    "ALL_METHODS",
    "Endpoint",
    "MethodNotAllowed",
    "api_errors",
    "cors",
    "empty_response",
    "error_response",
    "json_response",
    "preflight",
    "query_rows",
    "read_object",
    "redirect_response",
    "request_host",
    "track",
    "visitor_cookies",
]

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
Endpoint = Callable[[Request], Awaitable[Response]]


def cors(rt: Runtime, request: Request) -> Headers:
    return rt.cors.headers(request.headers.get("origin"))


def _with(response: Response, headers: Headers) -> Response:
    response.raw_headers.extend(headers)
    return response


class MethodNotAllowed(TrackerError):
    status = 405


def empty_response(headers: Headers, status: int = 200) -> Response:
    return _with(Response(b"", status), headers)


def preflight(rt: Runtime, request: Request) -> Response:
    return _with(Response(b""), rt.cors.preflight(request.headers.get("origin")))


def json_response(content: object, headers: Headers, status: int = 200) -> Response:
    body = orjson.dumps(content)
    return _with(Response(body, status, media_type="application/json"), headers)


def error_response(exc: TrackerError, headers: Headers) -> Response:
    body = error_body(exc.status, exc.message)
    response = _with(Response(body, exc.status, media_type="application/json"), headers)
    if exc.status == 401:
        response.headers["www-authenticate"] = 'Basic realm="tracker", charset="UTF-8"'
    return response


def api_errors(rt: Runtime) -> Callable[[Endpoint], Endpoint]:
    """Render any TrackerError an endpoint raises as the JSON error, with CORS headers."""

    def wrap(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def wrapped(request: Request) -> Response:
            try:
                return await endpoint(request)
            except TrackerError as exc:
                return error_response(exc, cors(rt, request))

        return wrapped

    return wrap


async def read_object(rt: Runtime, request: Request) -> dict[str, Any] | None:
    """The body as one JSON object (any Content-Type, as the Go clients send text/plain; a form
    body is one object too); None for an empty body. Anything else is a 400, too big a 413."""
    headers = dict(request.headers)
    body = await raw.read_body(request.receive, headers, rt.max_body_bytes)
    objects = raw.parse_events(body, headers.get("content-type", ""))
    if objects is None:
        return None
    if len(objects) != 1 or body.lstrip()[:1] == b"[":
        raise BadRequest("The body must be one JSON object ({...}), not an array.")
    return objects[0]


async def query_rows(rt: Runtime, sql: str, params: Mapping[str, object]) -> list[dict[str, Any]]:
    """Rows of a read, off the event loop; request values travel only as query parameters."""
    output = await asyncio.to_thread(rt.sink.query, sql, "JSONEachRow", params)
    return [orjson.loads(line) for line in output.splitlines() if line.strip()]


def request_host(rt: Runtime, req: raw.Request) -> str:
    trusted = rt.trusted_proxies.contains(req.peer)
    return client.request_host(req.headers.get("host", ""), req.headers, trusted)


async def track(
    rt: Runtime,
    req: raw.Request,
    injected: Mapping[str, Any],
    *,
    is_server: bool,
    path_values: Mapping[str, Any] | None = None,
) -> Event | None:
    """Record the event of a redirect (values: User header < cookies < path < query < injected).

    Only GET, POST and PUT are recorded, as on the tracking routes (link previews send HEAD).
    Returns the stored event, or None when nothing was recorded; a drop is counted by reason.
    """
    if req.method not in hot.RECORDING_METHODS:
        return None
    started = time.perf_counter_ns()
    endpoint = hot.TrackingEndpoint(rt)
    route = hot.Route("redirect", is_server=is_server, captures_agent=True, preflight=False)
    try:
        base = values.build(
            user_header=req.headers.get("user"),
            cookies=req.cookies,
            path_values=path_values or {},
            query_values=values.from_query(req.query_pairs(), rt.ignore_query_key),
            body=None,
        )
        [event] = endpoint.build_events(
            base, [dict(injected)], endpoint.origin(req, route), is_server
        )
        await endpoint.store([event])
    except TrackerError as exc:
        rt.metrics.drop(hot.drop_reason(exc))
        return None
    rt.metrics.record_event(1, time.perf_counter_ns() - started)
    return event


def visitor_cookies(rt: Runtime, req: raw.Request, event: Event | None) -> Headers:
    """The vid (persistent) and sid (session) cookies of a client event, as on ``/tr/``."""
    return hot.TrackingEndpoint(rt).identity_cookies(req, [event]) if event is not None else []


def _safe(ch: str) -> bool:
    return " " < ch < "\x7f"


def location(target: str) -> str:
    """``target`` with non-ASCII, control and space characters percent-encoded (Go's redirect
    helper encodes non-ASCII; a CR or LF must never reach a header)."""
    if all(_safe(ch) for ch in target):
        return target
    return "".join(ch if _safe(ch) else "".join(f"%{b:02X}" for b in ch.encode()) for ch in target)


def redirect_response(target: str, method: str, headers: Headers) -> Response:
    """302 to ``target``; GET and HEAD get Go's small HTML body."""
    where = location(target)
    body = f'<a href="{escape(where)}">Found</a>.\n'.encode() if method in ("GET", "HEAD") else b""
    response = Response(body, 302, media_type="text/html" if body else None)
    response.headers["location"] = where
    return _with(response, headers)
