"""The non-hot routes, on Starlette: health, metrics, ping, status, clear, the OpenAPI document,
LTV, the privacy and redirect APIs, the dashboard (when on), and the short-link catch-all (whose
miss is the JSON 404)."""

from __future__ import annotations

import asyncio

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.errors import NotFound
from tracker.http import dashboard, forget, ltv, privacy, redirects
from tracker.http.api import ALL_METHODS, cors, json_response
from tracker.http.openapi import document
from tracker.http.request import Receive, Scope, Send, from_scope
from tracker.http.responses import respond_error, with_headers
from tracker.http.shortlinks import ShortLinks
from tracker.http.site import Site
from tracker.normalise import client

PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def wants_prometheus(request: Request) -> bool:
    if request.query_params.get("format") == "prometheus":
        return True
    accept = request.headers.get("accept", "")
    return "text/plain" in accept or "openmetrics" in accept


def build_routes(site: Site, ui: dashboard.DashboardUI | None = None) -> Starlette:
    rt = site.rt

    async def health(request: Request) -> Response:
        healthy = await asyncio.to_thread(rt.check_health)
        problems = rt.problems()
        body = {
            "ok": healthy,
            "status": "healthy" if healthy else "unhealthy",
            "storage": rt.sink.name,
            "queued_rows": rt.metrics.queued_items,
            "problems": problems,
        }
        if not healthy:
            body["error"] = rt.health_error or "; ".join(problems)
        return json_response(body, cors(site, request), status=200 if healthy else 503)

    async def metrics(request: Request) -> Response:
        if wants_prometheus(request):
            text = await asyncio.to_thread(rt.metrics_text)
            return Response(text, media_type=PROMETHEUS_TYPE)
        return json_response(await asyncio.to_thread(rt.metrics_json), cors(site, request))

    async def ping(request: Request) -> Response:
        return with_headers(Response(b"pong", media_type="text/plain"), cors(site, request))

    async def status(request: Request) -> Response:
        peer = request.client.host if request.client else ""
        ip = client.client_ip(peer, dict(request.headers), site.ingest.trusted_proxies)
        body = [{"Key": "client", "Value": ip}, {"Key": "conns", "Value": rt.metrics.connections}]
        return json_response(body, cors(site, request))

    async def clear(request: Request) -> Response:
        response = Response(b"OK", media_type="text/plain", headers={"Clear-Site-Data": '"*"'})
        return with_headers(response, cors(site, request))

    described = orjson.dumps(
        document(site.prefix, proxy=bool(site.settings.proxy_url), dashboard=ui is not None)
    )

    async def openapi(request: Request) -> Response:
        return with_headers(Response(described, media_type="application/json"), cors(site, request))

    links = ShortLinks(site)  # shared: the admin API primes the cache the catch-all reads

    routes = [
        Route("/health", health),
        Route("/metrics", metrics),
        Route("/ping", ping),
        Route("/status", status),
        Route("/clear", clear),
        Route("/openapi.json", openapi),
        *ltv.routes(site),
        *forget.routes(site),  # before the other /ppi/ actions, which end in a catch-all
        *privacy.routes(site),
        *redirects.routes(site, links, ui),
        *(dashboard.routes(ui) if ui is not None else ()),
        # Everything else is a short link; a miss is the JSON 404.
        Route("/{rest:path}", links.endpoint, methods=ALL_METHODS),
    ]
    app = Starlette(routes=routes)

    async def unrouted(scope: Scope, receive: Receive, send: Send) -> None:
        """A path not even the catch-all's pattern takes (a newline in it): the same JSON 404."""
        req = from_scope(scope)
        missing = NotFound(f"Nothing at {req.path[:200]!r}: no route and no short link.")
        await respond_error(send, missing, site.cors.headers(req.headers.get("origin")))

    app.router.default = unrouted
    return app
