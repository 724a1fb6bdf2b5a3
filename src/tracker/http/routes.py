"""The non-hot routes, on Starlette: health, metrics, ping, status, clear, LTV, the privacy and
redirect APIs, the dashboard (when on), and the short-link catch-all (whose miss is the JSON 404)."""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.http import dashboard, forget, ltv, privacy, redirects
from tracker.http.api import ALL_METHODS, cors, json_response
from tracker.http.responses import with_headers
from tracker.http.shortlinks import ShortLinks
from tracker.http.site import Site
from tracker.metrics import prometheus_text
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
        body = {
            "ok": healthy,
            "status": "healthy" if healthy else "unhealthy",
            "storage": rt.sink.name,
            "queued_rows": rt.metrics.queued_items,
        }
        if not healthy:
            body["error"] = rt.health_error
        return json_response(body, cors(site, request), status=200 if healthy else 503)

    async def metrics(request: Request) -> Response:
        if wants_prometheus(request):
            return Response(prometheus_text(rt.metrics), media_type=PROMETHEUS_TYPE)
        return json_response(rt.metrics.as_json(), cors(site, request))

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

    links = ShortLinks(site)  # shared: the admin API primes the cache the catch-all reads

    routes = [
        Route("/health", health),
        Route("/metrics", metrics),
        Route("/ping", ping),
        Route("/status", status),
        Route("/clear", clear),
        *ltv.routes(site),
        *forget.routes(site),  # before the other /ppi/ actions, which end in a catch-all
        *privacy.routes(site),
        *redirects.routes(site, links, ui),
        *(dashboard.routes(ui) if ui is not None else ()),
        # Everything else is a short link; a miss is the JSON 404.
        Route("/{rest:path}", links.endpoint, methods=ALL_METHODS),
    ]
    return Starlette(routes=routes)
