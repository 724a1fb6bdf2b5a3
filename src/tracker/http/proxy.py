"""The `/api/` reverse proxy to `ProxyUrl`, served only when it is set.

Per request: the CORS preflight (unless `IgnoreProxyOptions`), the daily per-IP limit (429 with
`Retry-After` until the next UTC midnight), then the request is streamed to the upstream and the
answer streamed back with HSTS and CORS added; 502 (504 on a timeout) when the upstream fails.
Afterwards the request is tracked as a server event with `url` = the API path, unless its path
matches `ProxyUrlFilter` (a "don't track these" pattern). The body went upstream unread, so the
event holds the path pairs after `/api/`, the query, the cookies and the `User` header.

Unlike the Go tracker (see docs/differences.md): the scheme and path of `ProxyUrl` are honoured
(`http://h/base` + `/api/x` → `http://h/base/api/x`); the path is confined under it: dot segments
(also percent-encoded) are resolved and must stay under `/api/`, and encoded slashes or
backslashes are refused (400), so `/api/../../etc/passwd` never leaves the prefix; the upstream
sees its own `Host` (the client's is in `X-Forwarded-Host`); the client-identity headers a client
could forge (`X-Real-IP`, `Forwarded`, `X-Client-IP`, `CF-Connecting-IP`, `True-Client-IP`,
`X-Forwarded-*`, …) are dropped and `X-Forwarded-For` and `X-Real-IP` set to the client IP as
`TrustedProxies` decides it; an empty `ProxyUrlFilter` tracks every request; the limit counts
proxied requests in memory (a new IP starts at 0) and a 429 gives its slot back. Proxied URLs
(their query strings may hold tokens) are never logged.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx

from tracker.config import ConfigError
from tracker.errors import BadRequest, TrackerError
from tracker.http.limits import DailyLimit
from tracker.http.request import Receive, Scope, Send, from_scope
from tracker.http.responses import Headers, error_body, respond, respond_error
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
# Who the client is: set by us from TrustedProxies, never passed on as the client sent it.
CLIENT_IDENTITY = frozenset(
    {"x-real-ip", "forwarded", "x-forwarded", "x-client-ip", "cf-connecting-ip"}
    | {"true-client-ip", "x-cluster-client-ip", "fastly-client-ip", "x-original-forwarded-for"}
    | {"x-original-host", "x-host", "x-original-url", "x-rewrite-url"}
)
NOT_FORWARDED = HOP_BY_HOP | CLIENT_IDENTITY | {"host"}
ENCODED_SEPARATORS = re.compile(r"%(2f|5c|00)", re.IGNORECASE)
DOT_SEGMENTS = {".": ".", "%2e": ".", "..": "..", ".%2e": "..", "%2e.": "..", "%2e%2e": ".."}
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
    """Headers without the hop-by-hop ones, those in `extra`, every `X-Forwarded-*` and those
    `Connection` names."""
    named = {
        token.strip().lower()
        for key, value in headers
        if key == "connection"
        for token in value.split(",")
    }
    return [
        (k, v)
        for k, v in headers
        if k not in extra and k not in named and not k.startswith("x-forwarded-")
    ]


def confined_path(raw_path: str) -> str:
    """The request path with its dot segments resolved (``%2e`` is a dot too); BadRequest when
    it holds an encoded separator or would leave ``/api/``, as a server behind could read it."""
    if "\\" in raw_path or ENCODED_SEPARATORS.search(raw_path):
        raise BadRequest("The /api/ path must not hold encoded slashes, backslashes or NUL.")
    out: list[str] = []
    segments = raw_path.split("/")[1:]
    for index, segment in enumerate(segments):
        dots = DOT_SEGMENTS.get(segment.lower())
        if dots == "..":
            if out:
                out.pop()
        elif dots is None:
            out.append(segment)
        if dots is not None and index == len(segments) - 1:
            out.append("")  # "/api/x/.." is the directory "/api/"
    path = "/" + "/".join(out)
    if not path.startswith(API_PREFIX):
        raise BadRequest("The /api/ path leaves /api/ once its '..' segments are resolved.")
    return path


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
        # httpx logs every request's URL, query string (tokens) included, at INFO.
        logging.getLogger("httpx").setLevel(logging.WARNING)

    async def close(self) -> None:
        await self.client.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        req = from_scope(scope)
        origin = req.headers.get("origin")
        if req.method == "OPTIONS" and not self.proxy_options:
            await respond(send, 200, b"", self.site.cors.preflight(origin))
            return
        headers = [*self.site.cors.headers(origin), HSTS]
        try:
            path = confined_path((scope.get("raw_path") or req.path.encode()).decode("latin-1"))
        except BadRequest as exc:
            await respond_error(send, exc, headers)
            return
        if self.limit is not None:
            ip = client.client_ip(req.peer, req.headers, self.site.ingest.trusted_proxies)
            retry_after = self.limit.take(ip)
            if retry_after is not None:
                body = error_body(429, "API limit reached: too many requests from this IP today.")
                headers.append((b"retry-after", str(retry_after).encode()))
                await respond(send, 429, body, headers, b"application/json")
                return
        try:
            await self.forward(req, path, receive, send, headers)
        except ClientGone:
            return
        if self.untracked is None or not self.untracked.search(req.path):
            await self.track(req)

    def upstream_headers(self, req: RawRequest) -> list[tuple[str, str]]:
        out = drop_listed(req.header_pairs, NOT_FORWARDED)
        proxies = self.site.ingest.trusted_proxies
        trusted = proxies.contains(req.peer)
        ip = client.client_ip(req.peer, req.headers, proxies)
        host = req.headers.get("x-forwarded-host") if trusted else None
        proto = client.request_scheme(req.scheme, req.headers, trusted)
        out += [
            ("x-forwarded-for", ip),
            ("x-real-ip", ip),
            ("x-forwarded-host", host or req.headers.get("host", "")),
            ("x-forwarded-proto", proto),
            ("x-origin-host", self.upstream_host),
        ]
        if self.force_json:
            out = [(k, v) for k, v in out if k != "content-type"]
            out.append(("content-type", "application/json"))
        return out

    async def forward(
        self, req: RawRequest, path: str, receive: Receive, send: Send, headers: Headers
    ) -> None:
        url = self.base + path
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
