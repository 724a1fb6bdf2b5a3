"""The non-hot routes, on Starlette: health, metrics, ping, status, clear, and the JSON 404."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tracker.http.responses import error_body
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
            "queued_rows": rt.writer.queued,
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

    async def not_found(request: Request) -> Response:
        return Response(
            error_body(404, f"Nothing at {request.url.path}."),
            status_code=404,
            media_type="application/json",
        )

    routes = [
        Route("/health", health),
        Route("/metrics", metrics),
        Route("/ping", ping),
        Route("/status", status),
        Route("/clear", clear),
        Route(
            "/{rest:path}",
            not_found,
            methods=["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"],
        ),
    ]
    return Starlette(routes=routes)
