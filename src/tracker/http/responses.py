"""Building responses for raw ASGI: the one JSON error shape, CORS, cookies, the pixel."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta

import orjson

from tracker.errors import TrackerError, Unavailable
from tracker.http.request import Send

Headers = list[tuple[bytes, bytes]]

# A 1x1 transparent GIF89a (with a graphic-control extension), unlike the Go tracker's white one.
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
NO_STORE: Headers = [
    (b"cache-control", b"no-store, no-cache, must-revalidate, max-age=0"),
    (b"pragma", b"no-cache"),
    (b"expires", b"0"),
]
PREFLIGHT_ALLOW_HEADERS = b"Authorization,Accept,User,Content-Type"
PREFLIGHT_ALLOW_METHODS = b"GET,POST,HEAD,PUT,DELETE"
COOKIE_DAYS = 99999


def error_body(status: int, message: str) -> bytes:
    return orjson.dumps({"ok": False, "error": message, "status": status})


class Cors:
    """CORS as the Go tracker meant it (http-api.md §1.1.2, §9 item 22 fixed).

    ``AllowOrigin`` "*" echoes the request's Origin, so credentials (the vid cookie) work;
    a configured origin list echoes the Origin only when it is on the list.
    """

    def __init__(self, allow_origin: str) -> None:
        origins = [o.strip() for o in allow_origin.split(",") if o.strip()] or ["*"]
        self.any = "*" in origins
        self.origins = frozenset(origins)
        self.fallback = origins[0].encode()

    def headers(self, origin: str | None) -> Headers:
        if origin and (self.any or origin in self.origins):
            return [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-credentials", b"true"),
                (b"vary", b"Origin"),
            ]
        return [(b"access-control-allow-origin", self.fallback)]

    def preflight(self, origin: str | None) -> Headers:
        return [
            *self.headers(origin),
            (b"access-control-allow-headers", PREFLIGHT_ALLOW_HEADERS),
            (b"access-control-allow-methods", PREFLIGHT_ALLOW_METHODS),
            (b"access-control-max-age", b"1728000"),
        ]


@functools.lru_cache(maxsize=2)
def _expires(now: int) -> str:
    """The cookie expiry text, formatted once per second rather than once per request."""
    expires = datetime.fromtimestamp(now, UTC) + timedelta(days=COOKIE_DAYS)
    return expires.strftime("Expires=%a, %d %b %Y %H:%M:%S GMT")


def cookie(
    name: str, value: str, domain: str | None, secure: bool, persistent: bool
) -> tuple[bytes, bytes]:
    parts = [f"{name}={value}", "Path=/"]
    if persistent:
        parts.append(_expires(int(time.time())))
    if domain:
        parts.append(f"Domain={domain}")
    if secure:
        parts.extend(("Secure", "SameSite=None"))
    return b"set-cookie", "; ".join(parts).encode("latin-1")


async def respond(
    send: Send,
    status: int,
    body: bytes = b"",
    headers: Headers | None = None,
    content_type: bytes | None = None,
) -> None:
    out: Headers = list(headers) if headers else []
    if content_type is not None:
        out.append((b"content-type", content_type))
    out.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


async def respond_error(send: Send, exc: TrackerError, headers: Headers | None = None) -> None:
    out: Headers = list(headers) if headers else []
    if isinstance(exc, Unavailable):
        out.append((b"retry-after", str(exc.retry_after).encode()))
    await respond(send, exc.status, error_body(exc.status, exc.message), out, b"application/json")
