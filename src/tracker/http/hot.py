"""The tracking routes ``/tr/``, ``/str/`` and ``/img/`` as lean ASGI endpoints.

Per request: read the scope and the body, hand them to the ingest service, answer. No framework
objects on this path: it is the one every page view takes.

When some events of a batch are refused (a bad value) and the others stored, ``/tr/`` answers 200
with ``{"ok": true, "stored": N, "refused": [{"index", "status", "error"}]}`` and ``/str/`` the
same with ``"eids"`` (null where refused); when all are good, the answers are as before (an empty
200, the event ids), which is what the Go clients expect. ``/img/`` always answers its pixel.
"""

from __future__ import annotations

import orjson

from tracker.errors import TrackerError
from tracker.http.request import Receive, Scope, Send, from_scope, read_body
from tracker.http.responses import (
    NO_STORE,
    PIXEL,
    Headers,
    error_body,
    identity_cookies,
    respond,
    respond_error,
)
from tracker.http.site import Site
from tracker.normalise.request import parse_events
from tracker.runtime import RECORDING_METHODS, Source, Tracked, identity

SOURCES = {
    # /tr/ and /img/ are client events (the Go tracker made /img/ a server event by mistake).
    "tr": Source("/tr/", is_server=False),
    "img": Source("/img/", is_server=False),
    "str": Source("/str/", is_server=True, captures_agent=False),
}
NO_PREFLIGHT = frozenset({"img"})  # /img/ answers its pixel to every method, OPTIONS included


class TrackingEndpoint:
    def __init__(self, site: Site) -> None:
        self.site = site

    async def __call__(self, scope: Scope, receive: Receive, send: Send, route: str) -> None:
        site = self.site
        source = SOURCES[route]
        req = from_scope(scope)
        origin = req.headers.get("origin")
        method = req.method
        if method == "OPTIONS" and route not in NO_PREFLIGHT:
            await respond(send, 200, b"", site.cors.preflight(origin))
            return
        cors = site.cors.headers(origin)
        if method not in RECORDING_METHODS:
            status = 200 if method in ("HEAD", "OPTIONS") or route == "img" else 405
            await self.answer(send, route, cors, None, status)
            return
        try:
            body = (
                await read_body(receive, req.headers, site.max_body_bytes)
                if method != "GET"
                else b""
            )
            bodies = parse_events(body, req.headers.get("content-type", ""))
        except TrackerError as exc:
            site.ingest.refused(exc)
            await respond_error(send, exc, cors)
            return
        try:
            tracked = await site.ingest.track(site.ingest.arrive(req, source), bodies)
        except TrackerError as exc:
            await respond_error(send, exc, cors)
            return
        cookies = identity_cookies(identity(tracked.events), secure=site.ingest.secure(req))
        await self.answer(send, route, [*cors, *cookies], tracked)

    async def answer(
        self, send: Send, route: str, headers: Headers, tracked: Tracked | None, status: int = 200
    ) -> None:
        if route == "img":
            await respond(send, 200, PIXEL, [*headers, *NO_STORE], b"image/gif")
        elif status == 405:
            body = error_body(405, "Method not allowed: use GET, POST or PUT.")
            allow = (b"allow", b"GET, POST, PUT, OPTIONS")
            await respond(send, 405, body, [*headers, allow], b"application/json")
        elif tracked is not None and tracked.refused:
            answer = tracked.partial()
            if route == "str":
                answer["eids"] = tracked.ids()
            await respond(send, status, orjson.dumps(answer), headers, b"application/json")
        elif route == "str" and tracked is not None:
            ids = [e.eid for e in tracked.events]
            body = orjson.dumps(ids[0] if len(ids) == 1 else ids)
            await respond(send, status, body, headers, b"application/json")
        else:
            await respond(send, status, b"", headers)
