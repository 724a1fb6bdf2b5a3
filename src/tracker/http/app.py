"""The ASGI application: the hot tracking routes by prefix, everything else to Starlette.

`TrackerApp` builds the `Runtime` (the service below HTTP) and its `Site`, dispatches each request
by path without a framework on the hot routes, and drives the runtime's start-up and shutdown
from the ASGI lifespan, so uvicorn's SIGTERM/SIGINT handling drives them.
"""

from __future__ import annotations

import re
from time import perf_counter
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount

from tracker.config import Settings
from tracker.http.dashboard import DashboardUI
from tracker.http.hot import SOURCES, TrackingEndpoint
from tracker.http.limits import Slots, refuse_busy, takes_slot
from tracker.http.proxy import API_PREFIX, ProxyEndpoint
from tracker.http.request import Receive, Scope, Send
from tracker.http.routes import build_routes
from tracker.http.site import Site
from tracker.http.static import StaticEndpoint
from tracker.http.ws import WebSocketEndpoint
from tracker.runtime import Runtime, WorkerRuntime

BUSY = "busy"  # the latency label of requests refused for MaximumConnections
UNMATCHED = "unmatched"  # of requests no route took (an error before routing)


class TrackerApp:
    """The ASGI entry: hot tracking routes by prefix, everything else to Starlette."""

    def __init__(self, settings: Settings, worker: int | None = None) -> None:
        """``worker``: this process is HTTP worker K of `Workers` (docs/workers.md)."""
        self.rt: Runtime | WorkerRuntime = (
            Runtime.build(settings) if worker is None else WorkerRuntime.build(settings, worker)
        )
        self.site = site = Site.of(self.rt)
        self.prefix = f"{site.prefix}/"
        self.tracking = TrackingEndpoint(site)
        self.dashboard = DashboardUI(site) if settings.dashboard else None
        self.routes: Starlette = build_routes(site, self.dashboard)
        self.ws_path = f"{self.prefix}ws"
        self.ws = WebSocketEndpoint(site)
        self.pub_prefix = f"{self.prefix}pub/"
        self.static = StaticEndpoint(site)
        self.proxy = ProxyEndpoint(site) if settings.proxy_url else None
        self.proxied_options = self.proxy is not None and settings.ignore_proxy_options
        self.slots = Slots(settings.maximum_connections, self._count_slots)
        self._latency: dict[str, Any] = {}

    def route_templates(self) -> set[str]:
        """Every path this app serves, written as the OpenAPI document writes them (`{name}` for
        a variable part): what `http` dispatches by prefix, then Starlette's routes."""
        hot = {f"{self.prefix}{name}/{tail}" for name in SOURCES for tail in ("", "{rest}")}
        served = {*hot, self.ws_path, f"{self.pub_prefix}{{path}}"}
        if self.proxy is not None:
            served.add(f"{API_PREFIX}{{path}}")
        for route in self.routes.routes:
            path = str(getattr(route, "path", ""))
            served.add(f"{path}/{{path}}" if isinstance(route, Mount) else path)
        served = {re.sub(r"\{(\w+):\w+\}", r"{\1}", path) for path in served}
        return served

    def _count_slots(self, in_use: int) -> None:
        self.rt.metrics.connections = in_use

    def hot_route(self, path: str) -> str | None:
        if not path.startswith(self.prefix):
            return None
        name, _, _ = path[len(self.prefix) :].partition("/")
        return name if name in SOURCES else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            started, route = perf_counter(), BUSY
            try:
                if not takes_slot(
                    scope["path"], scope["method"], self.ws_path, self.proxied_options
                ):
                    route = await self.http(scope, receive, send)
                elif not self.slots.take():
                    await refuse_busy(scope, send, self.site.cors)
                else:
                    try:
                        route = await self.http(scope, receive, send)
                    finally:
                        self.slots.release()
            finally:
                self.latency(route).observe(perf_counter() - started)
            return
        if kind == "websocket" and scope["path"] == self.ws_path:
            await self.ws(scope, receive, send)
            return
        if kind == "lifespan":
            await self.lifespan(receive, send)
            return
        await self.routes(scope, receive, send)

    def latency(self, route: str) -> Any:
        """The latency histogram's child of ``route``, made once per route."""
        child = self._latency.get(route)
        if child is None:
            child = self._latency[route] = self.rt.metrics.request_seconds.labels(route)
        return child

    async def http(self, scope: Scope, receive: Receive, send: Send) -> str:
        """Answer one request; return its route's template (the latency histogram's label)."""
        path: str = scope["path"]
        route = self.hot_route(path)
        if route is not None:
            await self.tracking(scope, receive, send, route)
            return f"{self.prefix}{route}/"
        if path == self.ws_path:
            await self.ws.http(scope, receive, send)
            return self.ws_path
        if path.startswith(self.pub_prefix):
            await self.static(scope, receive, send)
            return f"{self.pub_prefix}{{path}}"
        if self.proxy is not None and path.startswith(API_PREFIX):
            await self.proxy(scope, receive, send)
            return f"{API_PREFIX}{{path}}"
        await self.routes(scope, receive, send)
        matched = scope.get("route")  # Starlette's Route, set when one matched
        return str(getattr(matched, "path", UNMATCHED))

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.rt.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.proxy is not None:
                    await self.proxy.close()
                if self.dashboard is not None:
                    self.dashboard.close()
                await self.rt.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
