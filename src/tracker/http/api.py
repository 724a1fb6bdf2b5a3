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
from collections.abc import Awaitable, Callable, Mapping
from html import escape
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tracker.errors import BadRequest, TrackerError
from tracker.http import request as raw
from tracker.http.responses import Headers, error_response, identity_cookies, with_headers
from tracker.http.site import Site
from tracker.normalise.event import Event
from tracker.normalise.request import RawRequest, parse_events
from tracker.runtime import RECORDING_METHODS, Source, identity

__all__ = [
    "ALL_METHODS",
    "Endpoint",
    "after",
    "api_errors",
    "cors",
    "empty_response",
    "json_response",
    "preflight",
    "query_rows",
    "read_object",
    "redirect_response",
    "track",
    "visitor_cookies",
]

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
Endpoint = Callable[[Request], Awaitable[Response]]


def after(request: Request, prefix: str) -> str:
    """The request's path after ``prefix/`` ('' for ``prefix`` itself), whichever of a group's
    routes (explicit ones, or the catch-all) took it."""
    path: str = request.scope["path"]
    return path[len(prefix) + 1 :] if path.startswith(prefix + "/") else ""


def cors(site: Site, request: Request) -> Headers:
    return site.cors.headers(request.headers.get("origin"))


def empty_response(headers: Headers, status: int = 200) -> Response:
    return with_headers(Response(b"", status), headers)


def preflight(site: Site, request: Request) -> Response:
    return with_headers(Response(b""), site.cors.preflight(request.headers.get("origin")))


def json_response(content: object, headers: Headers, status: int = 200) -> Response:
    body = orjson.dumps(content)
    return with_headers(Response(body, status, media_type="application/json"), headers)


def api_errors(site: Site) -> Callable[[Endpoint], Endpoint]:
    """Render any TrackerError an endpoint raises as the JSON error, with CORS headers."""

    def wrap(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def wrapped(request: Request) -> Response:
            try:
                return await endpoint(request)
            except TrackerError as exc:
                return error_response(exc, cors(site, request))

        return wrapped

    return wrap


async def read_object(site: Site, request: Request) -> dict[str, Any] | None:
    """The body as one JSON object (any Content-Type, as the Go clients send text/plain; a form
    body is one object too); None for an empty body. Anything else is a 400, too big a 413."""
    headers = dict(request.headers)
    body = await raw.read_body(request.receive, headers, site.max_body_bytes)
    objects = parse_events(body, headers.get("content-type", ""))
    if objects is None:
        return None
    if len(objects) != 1 or body.lstrip()[:1] == b"[":
        raise BadRequest("The body must be one JSON object ({...}), not an array.")
    return objects[0]


async def query_rows(site: Site, sql: str, params: Mapping[str, object]) -> list[dict[str, Any]]:
    """Rows of a read, off the event loop; request values travel only as query parameters."""
    output = await asyncio.to_thread(site.rt.sink.query, sql, "JSONEachRow", params)
    return [orjson.loads(line) for line in output.splitlines() if line.strip()]


async def track(
    site: Site,
    req: RawRequest,
    injected: Mapping[str, Any],
    source: Source,
    path_values: Mapping[str, Any] | None = None,
) -> Event | None:
    """Record the event of a redirect (values: User header < cookies < path < query < injected;
    ``path_values`` None reads the path pairs after the source's route).

    Only GET, POST and PUT are recorded, as on the tracking routes (link previews send HEAD).
    Returns the stored event, or None when nothing was recorded (a drop is counted by reason):
    a visitor following a link gets where it points even when its event is dropped.
    """
    if req.method not in RECORDING_METHODS:
        return None
    ingest = site.ingest
    try:
        [event] = (await ingest.track(ingest.arrive(req, source, path_values), [injected])).events
    except TrackerError:
        return None
    return event


def visitor_cookies(site: Site, req: RawRequest, event: Event | None) -> Headers:
    """The vid (persistent) and sid (session) cookies of a client event, as on ``/tr/``."""
    if event is None:
        return []
    return identity_cookies(identity([event]), secure=site.ingest.secure(req))


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
    return with_headers(response, headers)
