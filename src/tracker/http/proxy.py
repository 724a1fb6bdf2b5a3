"""The `/api/` reverse proxy to `ProxyUrl`, served only when it is set.

Per request: the CORS preflight (unless `IgnoreProxyOptions`), the daily per-IP limit (429 with
`Retry-After` until the next UTC midnight), then the request is streamed to the upstream and the
answer streamed back with HSTS and CORS added; 502 (504 on a timeout) when the upstream fails.
Afterwards the request is tracked as a server event with `url` = the API path, unless its path
matches `ProxyUrlFilter` (a "don't track these" pattern). The body went upstream unread, so the
event holds the path pairs after `/api/`, the query, the cookies and the `User` header.

Unlike the Go tracker (see docs/differences.md): the scheme and path of `ProxyUrl` are honoured
(`http://h/base` + `/api/x` → `http://h/base/api/x`); the upstream sees its own `Host` (the
client's is in `X-Forwarded-Host`); `X-Forwarded-For` is the client-side peer, appended to the
incoming value only when the peer is a trusted proxy; an empty `ProxyUrlFilter` tracks every
request; the limit counts proxied requests in memory (a new IP starts at 0) and a 429 gives its
slot back.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx

from tracker.config import ConfigError
from tracker.errors import TrackerError
from tracker.http.limits import DailyLimit
from tracker.http.request import Receive, Scope, Send, from_scope
from tracker.http.responses import Headers, error_body, respond
from tracker.http.site import Site
from tracker.normalise import client
from tracker.normalise.request import RawRequest
from tracker.runtime import Source

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
API_SOURCE = Source("/api/", is_server=True, path_depth=1)
HSTS = (b"strict-transport-security", b"max-age=15768000 ; includeSubDomains")
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer"}
    | {"transfer-encoding", "upgrade", "proxy-connection"}
)
NOT_FORWARDED = HOP_BY_HOP | {"host", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"}
TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class ClientGone(Exception):
    """The client disconnected while its body was being sent upstream."""


def upstream_base(proxy_url: str) -> str:
    """`ProxyUrl` without a trailing slash; a ConfigError unless it is an http(s) URL."""
    parts = urlsplit(proxy_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ConfigError(
            f"Config key 'ProxyUrl' has value {proxy_url!r}: expected an http:// or https:// "
            "URL such as 'http://localhost:3030' (a path is allowed, a query is not).",
            key="ProxyUrl",
        )
    return proxy_url.rstrip("/")


def drop_listed(headers: list[tuple[str, str]], extra: frozenset[str]) -> list[tuple[str, str]]:
    """Headers without the hop-by-hop ones, those in `extra` and those `Connection` names."""
    named = {
        token.strip().lower()
        for key, value in headers
        if key == "connection"
        for token in value.split(",")
    }
    return [(k, v) for k, v in headers if k not in extra and k not in named]


class ProxyEndpoint:
    def __init__(self, site: Site) -> None:
        self.site = site
        settings = site.settings
        self.base = upstream_base(settings.proxy_url)
        self.upstream_host = urlsplit(self.base).netloc.rpartition("@")[2]
        self.untracked = (
            re.compile(settings.proxy_url_filter) if settings.proxy_url_filter else None
        )
        self.force_json = settings.proxy_force_json
        self.proxy_options = settings.ignore_proxy_options
        self.limit = DailyLimit(settings.proxy_daily_limit) if settings.proxy_daily_limit else None
        self.client = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False, trust_env=False)

    async def close(self) -> None:
        await self.client.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        req = from_scope(scope)
        origin = req.headers.get("origin")
        if req.method == "OPTIONS" and not self.proxy_options:
            await respond(send, 200, b"", self.site.cors.preflight(origin))
            return
        headers = [*self.site.cors.headers(origin), HSTS]
        if self.limit is not None:
            ip = client.client_ip(req.peer, req.headers, self.site.ingest.trusted_proxies)
            retry_after = self.limit.take(ip)
            if retry_after is not None:
                body = error_body(429, "API limit reached: too many requests from this IP today.")
                headers.append((b"retry-after", str(retry_after).encode()))
                await respond(send, 429, body, headers, b"application/json")
                return
        try:
            await self.forward(req, scope, receive, send, headers)
        except ClientGone:
            return
        if self.untracked is None or not self.untracked.search(req.path):
            await self.track(req)

    def upstream_headers(self, req: RawRequest) -> list[tuple[str, str]]:
        out = drop_listed(req.header_pairs, NOT_FORWARDED)
        trusted = self.site.ingest.trusted_proxies.contains(req.peer)
        peer = client.clean_ip(req.peer)
        incoming = req.headers.get("x-forwarded-for", "").strip()
        forwarded_for = f"{incoming}, {peer}" if trusted and incoming else peer
        host = req.headers.get("x-forwarded-host") if trusted else None
        proto = req.headers.get("x-forwarded-proto") if trusted else None
        out += [
            ("x-forwarded-for", forwarded_for),
            ("x-forwarded-host", host or req.headers.get("host", "")),
            ("x-forwarded-proto", proto or req.scheme),
            ("x-origin-host", self.upstream_host),
        ]
        if self.force_json:
            out = [(k, v) for k, v in out if k != "content-type"]
            out.append(("content-type", "application/json"))
        return out

    async def forward(
        self, req: RawRequest, scope: Scope, receive: Receive, send: Send, headers: Headers
    ) -> None:
        raw_path: bytes = scope.get("raw_path") or req.path.encode()
        url = self.base + raw_path.decode("latin-1")
        if req.query_string:
            url += "?" + req.query_string
        has_body = "content-length" in req.headers or "transfer-encoding" in req.headers
        request = self.client.build_request(
            req.method,
            url,
            headers=self.upstream_headers(req),
            content=request_body(receive) if has_body else None,
        )
        try:
            upstream = await self.client.send(request, stream=True)
        except httpx.TimeoutException:
            await self.fail(send, headers, 504, "The /api/ upstream did not answer in time.")
            return
        except httpx.HTTPError:
            await self.fail(send, headers, 502, "The /api/ upstream could not be reached.")
            return
        try:
            out = [
                (k.lower(), v)
                for k, v in upstream.headers.raw
                if k.lower().decode("latin-1") not in HOP_BY_HOP
            ]
            names = {k for k, _ in out}
            out += [(k, v) for k, v in headers if k not in names]
            await send(
                {"type": "http.response.start", "status": upstream.status_code, "headers": out}
            )
            async for chunk in upstream.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except httpx.HTTPError:
            # The status line is gone; returning unfinished makes the server close the connection.
            log.warning("The /api/ upstream failed in the middle of a response")
        finally:
            await upstream.aclose()

    async def fail(self, send: Send, headers: Headers, status: int, message: str) -> None:
        log.warning("%s", message)
        await respond(send, status, error_body(status, message), headers, b"application/json")

    async def track(self, req: RawRequest) -> None:
        """Track the proxied request as a server event; a failure is counted, never answered."""
        ingest = self.site.ingest
        with contextlib.suppress(TrackerError):
            await ingest.track(ingest.arrive(req, API_SOURCE), [{"url": req.path}])


async def request_body(receive: Receive) -> AsyncIterator[bytes]:
    """The client's body, chunk by chunk as it arrives."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return
