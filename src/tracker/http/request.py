"""Reading a request straight from the ASGI scope (no framework on the hot path)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from tracker.errors import BadRequest, PayloadTooLarge
from tracker.normalise.request import RawRequest

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def from_scope(scope: Scope) -> RawRequest:
    pairs: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        pairs.append((name, value))
        if name == "cookie" and name in headers:
            headers[name] += "; " + value
        else:
            headers[name] = value
    client = scope.get("client")
    return RawRequest(
        method=scope["method"],
        path=scope["path"],
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        header_pairs=pairs,
        peer=client[0] if client else "",
        scheme=scope.get("scheme", "http"),
        http_version=scope.get("http_version", "1.1"),
    )


async def read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The body is {declared} bytes; the limit is {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":  # a cut-off body must not become an event
            raise BadRequest("The client disconnected before the body was complete.")
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"The body is over the limit of {limit} bytes.")
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
