"""The non-hot routes, on Starlette: health, metrics, ping, status, clear, LTV, the privacy and
redirect APIs, and the short-link catch-all (whose miss is the JSON 404)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tracker.http import forget, ltv, privacy, redirects
from tracker.http.api import ALL_METHODS
from tracker.http.shortlinks import ShortLinks
from tracker.metrics import prometheus_text
from tracker.normalise import client

if TYPE_CHECKING:
    from tracker.app import Runtime

PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class OrjsonResponse(JSONResponse):
    def render(self, content: object) -> bytes:
        return orjson.dumps(content)


def wants_prometheus(request: Request) -> bool:
    if request.query_params.get("format") == "prometheus":
        return True
    accept = request.headers.get("accept", "")
    return "text/plain" in accept or "openmetrics" in accept


def build_routes(rt: Runtime) -> Starlette:
    def cors(request: Request) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in rt.cors.headers(request.headers.get("origin"))}

    async def health(request: Request) -> Response:
        healthy = await asyncio.to_thread(rt.check_health)
        body = {
            "ok": healthy,
            "status": "healthy" if healthy else "unhealthy",
            "storage": rt.sink.name,
            "queued_rows": rt.metrics.queued_items,
        }
        return OrjsonResponse(body, status_code=200 if healthy else 503, headers=cors(request))

    async def metrics(request: Request) -> Response:
        if wants_prometheus(request):
            return Response(prometheus_text(rt.metrics), media_type=PROMETHEUS_TYPE)
        return OrjsonResponse(rt.metrics.as_json(), headers=cors(request))

    async def ping(request: Request) -> Response:
        return Response(b"pong", media_type="text/plain", headers=cors(request))

    async def status(request: Request) -> Response:
        ip = client.client_ip(
            request.client.host if request.client else "", dict(request.headers), rt.trusted_proxies
        )
        body = [{"Key": "client", "Value": ip}, {"Key": "conns", "Value": rt.metrics.connections}]
        return OrjsonResponse(body, headers=cors(request))

    async def clear(request: Request) -> Response:
        return Response(
            b"OK", media_type="text/plain", headers={**cors(request), "Clear-Site-Data": '"*"'}
        )

    links = ShortLinks(rt)  # shared: the admin API primes the cache the catch-all reads

    routes = [
        Route("/health", health),
        Route("/metrics", metrics),
        Route("/ping", ping),
        Route("/status", status),
        Route("/clear", clear),
        *ltv.routes(rt),
        *forget.routes(rt),  # before the other /ppi/ actions, which end in a catch-all
        *privacy.routes(rt),
        *redirects.routes(rt, links),
        # Everything else is a short link (http-api.md §1.11); a miss is the JSON 404.
        Route("/{rest:path}", links.endpoint, methods=ALL_METHODS),
    ]
    return Starlette(routes=routes)
