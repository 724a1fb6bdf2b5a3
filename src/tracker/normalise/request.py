"""What an incoming request carries, before anything in it is trusted: `RawRequest` and its body.

The HTTP layer fills a `RawRequest` from the ASGI scope; every source (the tracking routes, the
WebSocket, redirects, the proxy) hands it to the ingest service, which derives the request's
`Origin` and value map from it. Cookies are parsed once, into the values the tracker reads and
the names Go's `Request.Cookies()` yields (which the JA4H fingerprint hashes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson

from tracker.errors import InvalidEvent, InvalidJson

__all__ = ["TOKEN_CHARS", "RawRequest", "parse_cookies", "parse_events"]

# RFC 9110 token characters.
TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


@dataclass(slots=True)
class RawRequest:
    method: str
    path: str
    query_string: str
    headers: dict[str, str]  # lowercase names; repeated Cookie headers joined with "; "
    header_pairs: list[tuple[str, str]]  # (lowercase name, value) in wire order
    peer: str
    scheme: str
    http_version: str
    _cookies: tuple[dict[str, str], list[str]] | None = field(default=None)

    @property
    def request_uri(self) -> str:
        return f"{self.path}?{self.query_string}" if self.query_string else self.path

    @property
    def cookies(self) -> dict[str, str]:
        """Cookie values by name, the first of a repeated name winning."""
        return self._parsed_cookies()[0]

    @property
    def cookie_names(self) -> list[str]:
        """Cookie names as Go's `Request.Cookies()` yields them (see `parse_cookies`)."""
        return self._parsed_cookies()[1]

    def _parsed_cookies(self) -> tuple[dict[str, str], list[str]]:
        if self._cookies is None:
            self._cookies = parse_cookies(self.headers.get("cookie", ""))
        return self._cookies

    def query_pairs(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query_string, keep_blank_values=True) if self.query_string else []


def _is_valid_cookie_value(value: str) -> bool:
    if len(value) > 1 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]
    return all(" " <= ch < "\x7f" and ch not in '";\\' for ch in value)


def parse_cookies(header: str) -> tuple[dict[str, str], list[str]]:
    """The values of a Cookie header (lenient: quotes removed, percent-decoded, first name wins)
    and its names as Go yields them (duplicates kept; a pair whose name is not a token or whose
    value has a byte Go rejects is skipped, as Go does)."""
    values: dict[str, str] = {}
    names: list[str] = []
    for part in header.split(";"):
        pair = part.strip(" \t\r\n")
        if not pair:
            continue
        name, sep, value = pair.partition("=")
        if name and set(name) <= TOKEN_CHARS and _is_valid_cookie_value(value):
            names.append(name)
        name = name.strip()
        if sep and name and name not in values:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            values[name] = unquote(value)
    return values, names


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
