"""The tracking routes as lean ASGI endpoints: ``/tr/``, ``/str/`` and ``/img/`` (DESIGN.md decision 1).

Per request: read the scope and body, build each event's value map, normalise, plan the rows,
append them to the spool, answer. Nothing else; no framework objects on this path.
"""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from tracker.errors import PayloadTooLarge, SpoolFailed, TrackerError, Unavailable
from tracker.http.request import Receive, Request, Scope, Send, from_scope, parse_events, read_body
from tracker.http.responses import (
    NO_STORE,
    PIXEL,
    Headers,
    cookie,
    error_body,
    respond,
    respond_error,
)
from tracker.normalise import client, values
from tracker.normalise.event import Event, Origin, normalise, now_ms
from tracker.normalise.ids import uuid_text
from tracker.normalise.ja4h import cookie_names, ja4h
from tracker.plan.event_rows import Record, plan_event

if TYPE_CHECKING:
    from tracker.app import Runtime

log = logging.getLogger(__name__)

RECORDING_METHODS = frozenset({"GET", "POST", "PUT"})


@dataclass(frozen=True)
class Route:
    name: str
    is_server: bool  # server events write no client tables and set no cookie
    captures_agent: bool  # /str/ ignores User-Agent and Accept-Language, as in Go
    preflight: bool


ROUTES = {
    # /tr/ and /img/ are client events again (http-api.md §9 item 1).
    "tr": Route("tr", is_server=False, captures_agent=True, preflight=True),
    "img": Route("img", is_server=False, captures_agent=True, preflight=False),
    "str": Route("str", is_server=True, captures_agent=False, preflight=True),
}


def log_unexpected(route: str, exc: Exception) -> None:
    """Log where an unexpected error happened, without its message (it may quote the payload)."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("unexpected %s on /%s/:\n%s", type(exc).__name__, route, frames.rstrip())


def drop_reason(exc: TrackerError) -> str:
    if isinstance(exc, PayloadTooLarge):
        return "oversize"
    if isinstance(exc, SpoolFailed):
        return "spool_error"
    if isinstance(exc, Unavailable):
        return "spool_full"
    return "invalid"


class TrackingEndpoint:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def origin(self, req: Request, route: Route) -> Origin:
        headers = req.headers
        trusted = self.rt.trusted_proxies.contains(req.peer)
        agent = headers.get("user-agent", "") if route.captures_agent else ""
        language = headers.get("accept-language", "") if route.captures_agent else ""
        return Origin(
            ip=client.client_ip(req.peer, headers, self.rt.trusted_proxies),
            host=client.request_host(headers.get("host", ""), headers, trusted),
            user_agent=agent,
            culture=language.split(",", 1)[0].split(";", 1)[0].strip().lower(),
            request_uri=req.request_uri,
            ja4h=ja4h(
                req.method,
                req.http_version,
                req.header_pairs,
                cookie_names(req.headers_all("cookie")),
            ),
            now=now_ms(),
        )

    def events(
        self, req: Request, route: Route, bodies: list[dict[str, Any]] | None
    ) -> list[Event]:
        return self.build_events(
            self.base_values(req), bodies, self.origin(req, route), route.is_server
        )

    def base_values(self, req: Request, route_depth: int = 3) -> values.Values:
        """V before any body: User header, cookies, path pairs after the route, query string."""
        return values.build(
            user_header=req.headers.get("user"),
            cookies=req.cookies,
            path_values=values.from_path(req.path, route_depth),
            query_values=values.from_query(req.query_pairs(), self.rt.ignore_query_key),
            body=None,
        )

    def build_events(
        self,
        base: values.Values,
        bodies: list[dict[str, Any]] | None,
        origin: Origin,
        is_server: bool,
    ) -> list[Event]:
        """One normalised event per body (one event when there is none); shared with /ws, /pub/, /api/."""
        events = []
        for body in bodies if bodies is not None else [None]:
            event_values = dict(base)
            if body:
                values.merge(event_values, body)
            events.append(
                normalise(event_values, origin, self.rt.normalise_ctx, is_server=is_server)
            )
        return events

    async def store(self, events: list[Event]) -> None:
        """Plan the events' rows and append them to the spool; raises Unavailable when it is full."""
        records: list[Record] = []
        for event in events:
            if not event.consented:
                self.rt.metrics.drop("no_consent")
            records.extend(plan_event(event))
        if records:
            await self.rt.spool.append(records)

    def identity_cookies(self, req: Request, events: list[Event]) -> Headers:
        """The vid and sid cookies of a client event (none for server events)."""
        if not events or events[-1].is_server or not events[-1].consented:
            return []
        domain = client.cookie_domain(events[-1].host)
        secure = req.scheme == "https"
        return [
            cookie("vid", uuid_text(events[-1].vid), domain, secure, persistent=True),
            cookie("sid", uuid_text(events[-1].sid), domain, secure, persistent=False),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send, route_name: str) -> None:
        route = ROUTES[route_name]
        req = from_scope(scope)
        cors = self.rt.cors.headers(req.headers.get("origin"))
        method = req.method
        if method == "OPTIONS" and route.preflight:
            await respond(send, 200, b"", self.rt.cors.preflight(req.headers.get("origin")))
            return
        if method not in RECORDING_METHODS:
            await self.answer(
                send,
                route,
                cors,
                [],
                status=200 if method in ("HEAD", "OPTIONS") or route.name == "img" else 405,
            )
            return
        started = time.perf_counter_ns()
        try:
            body = (
                await read_body(receive, req.headers, self.rt.max_body_bytes)
                if method != "GET"
                else b""
            )
            bodies = parse_events(body, req.headers.get("content-type", ""))
            events = self.events(req, route, bodies)
            await self.store(events)
        except TrackerError as exc:
            self.rt.metrics.drop(drop_reason(exc))
            await respond_error(send, exc, cors)
            return
        except Exception as exc:  # a bug of ours: answer in the JSON shape, keep serving
            log_unexpected(route.name, exc)
            self.rt.metrics.drop("invalid")
            await respond_error(
                send, TrackerError("Internal error; the event was not recorded."), cors
            )
            return
        self.rt.metrics.record_event(len(events), time.perf_counter_ns() - started)
        headers = [*cors, *self.identity_cookies(req, events)]
        await self.answer(send, route, headers, events)

    async def answer(
        self, send: Send, route: Route, headers: Headers, events: list[Event], status: int = 200
    ) -> None:
        if route.name == "img":
            await respond(send, 200, PIXEL, [*headers, *NO_STORE], b"image/gif")
        elif status == 405:
            body = error_body(405, "Method not allowed: use GET, POST or PUT.")
            allow = (b"allow", b"GET, POST, PUT, OPTIONS")
            await respond(send, 405, body, [*headers, allow], b"application/json")
        elif route.name == "str" and events:
            ids = [str(e.eid) for e in events]
            await respond(
                send,
                status,
                orjson.dumps(ids[0] if len(ids) == 1 else ids),
                headers,
                b"application/json",
            )
        else:
            await respond(send, status, b"", headers)
