"""The tracking routes as lean ASGI endpoints: ``/tr/``, ``/str/`` and ``/img/`` (DESIGN.md decision 1).

Per request: read the scope and body, build each event's value map, normalise, plan the rows,
append them to the spool, answer. Nothing else; no framework objects on this path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from tracker.errors import PayloadTooLarge, TrackerError, Unavailable
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
from tracker.normalise.ja4h import cookie_names, ja4h
from tracker.plan.event_rows import Record, plan_event

if TYPE_CHECKING:
    from tracker.app import Runtime

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


def drop_reason(exc: TrackerError) -> str:
    if isinstance(exc, PayloadTooLarge):
        return "oversize"
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
        origin = self.origin(req, route)
        base = values.build(
            user_header=req.headers.get("user"),
            cookies=req.cookies,
            path_values=values.from_path(req.path, 3),
            query_values=values.from_query(req.query_pairs(), self.rt.ignore_query_key),
            body=None,
        )
        events = []
        for body in bodies if bodies is not None else [None]:
            event_values = dict(base)
            if body:
                values.merge(event_values, body)
            events.append(
                normalise(event_values, origin, self.rt.normalise_ctx, is_server=route.is_server)
            )
        return events

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
            records: list[Record] = []
            for event in events:
                records.extend(plan_event(event))
            if records:
                await self.rt.spool.append(records)
        except TrackerError as exc:
            self.rt.metrics.drop(drop_reason(exc))
            await respond_error(send, exc, cors)
            return
        self.rt.metrics.record_event(len(events), time.perf_counter_ns() - started)
        headers = list(cors)
        if not route.is_server and events:
            domain = client.cookie_domain(events[-1].host)
            secure = req.scheme == "https"
            headers.append(cookie("vid", str(events[-1].vid), domain, secure, persistent=True))
            headers.append(cookie("sid", str(events[-1].sid), domain, secure, persistent=False))
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
