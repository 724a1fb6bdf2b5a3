"""Reading what a request carries, straight from the ASGI scope (no framework on the hot path)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson

from tracker.errors import BadRequest, InvalidEvent, InvalidJson, PayloadTooLarge

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    header_pairs: list[tuple[str, str]]
    peer: str
    scheme: str
    http_version: str
    _cookies: dict[str, str] | None = field(default=None)

    @property
    def request_uri(self) -> str:
        return f"{self.path}?{self.query_string}" if self.query_string else self.path

    @property
    def cookies(self) -> dict[str, str]:
        if self._cookies is None:
            self._cookies = parse_cookies(self.headers.get("cookie", ""))
        return self._cookies

    def headers_all(self, name: str) -> list[str]:
        return [value for key, value in self.header_pairs if key == name]

    def query_pairs(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query_string, keep_blank_values=True) if self.query_string else []


def from_scope(scope: Scope) -> Request:
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
    return Request(
        method=scope["method"],
        path=scope["path"],
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        header_pairs=pairs,
        peer=client[0] if client else "",
        scheme=scope.get("scheme", "http"),
        http_version=scope.get("http_version", "1.1"),
    )


def parse_cookies(header: str) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.partition("=")
        name = name.strip()
        if sep and name and name not in cookies:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            cookies[name] = unquote(value)
    return cookies


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


def parse_events(body: bytes, content_type: str) -> list[dict[str, Any]] | None:
    """The event objects a body holds: one, several (a JSON array), or None for no body.

    JSON is accepted whatever the Content-Type (the Go tracker's clients send text/plain);
    a form body is read as one event.
    """
    if not body or body.isspace():
        return None
    form = content_type.lower().startswith("application/x-www-form-urlencoded")
    if form and body.lstrip()[:1] not in (b"{", b"["):
        # curl -d sends JSON as a form unless told otherwise; JSON-looking bodies are read as JSON
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError as exc:
            raise InvalidEvent("The form body is not UTF-8.") from exc
        fields: dict[str, Any] = {}
        for key, value in pairs:  # the first value of a repeated key wins, as in a query string
            fields.setdefault(key, value)
        return [fields]
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(f"The body is not valid JSON: {exc.msg} at position {exc.pos}.") from exc
    if isinstance(parsed, dict):
        return [parsed]
    if isinstance(parsed, list):
        for index, item in enumerate(parsed):
            if not isinstance(item, dict):
                raise InvalidEvent(f"Element {index} of the array is not a JSON object.")
        return parsed
    raise InvalidEvent("The body must be a JSON object or an array of objects.")
