"""Building responses: the one JSON error shape, CORS, the identity cookies, the pixel.

Raw ASGI endpoints send with `respond`; Starlette endpoints return a `Response` and add the same
header lists with `with_headers`. Every error, from either, is rendered by `render_error`.
"""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta

import orjson
from starlette.responses import Response

from tracker.errors import TooManyRequests, TrackerError, Unavailable
from tracker.http.request import Send
from tracker.runtime import Identity

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


def render_error(exc: TrackerError) -> tuple[int, bytes, Headers]:
    """An error's status, JSON body and the headers its kind asks for."""
    headers: Headers = [(b"content-type", b"application/json")]
    if isinstance(exc, Unavailable | TooManyRequests):
        headers.append((b"retry-after", str(exc.retry_after).encode()))
    elif exc.status == 401:
        headers.append((b"www-authenticate", b'Basic realm="tracker", charset="UTF-8"'))
    return exc.status, error_body(exc.status, exc.message), headers


def with_headers(response: Response, headers: Headers) -> Response:
    """A Starlette response with the given raw headers added (CORS, cookies)."""
    response.raw_headers.extend(headers)
    return response


def error_response(exc: TrackerError, headers: Headers) -> Response:
    """The JSON error as a Starlette response, for the routes that run on Starlette."""
    status, body, error_headers = render_error(exc)
    return with_headers(Response(body, status), [*headers, *error_headers])


class Cors:
    """CORS as the Go tracker meant it (docs/differences.md, "CORS").

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
    # Over HTTPS, cross-site requests (a page on another site sending to the tracker) carry the
    # cookies too; over plain HTTP browsers refuse SameSite=None, and Lax (their default, said
    # out loud) keeps them on same-site requests. Not HttpOnly: the tracker's script reads vid.
    parts.extend(("Secure", "SameSite=None") if secure else ("SameSite=Lax",))
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
    status, body, error_headers = render_error(exc)
    await respond(send, status, body, [*(headers or ()), *error_headers])


def identity_cookies(identity: Identity | None, secure: bool) -> Headers:
    """The ``vid`` (persistent) and ``sid`` (session) cookies naming a client event's visitor."""
    if identity is None:
        return []
    return [
        cookie("vid", identity.vid, identity.domain, secure, persistent=True),
        cookie("sid", identity.sid, identity.domain, secure, persistent=False),
    ]
