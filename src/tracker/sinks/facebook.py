"""The Facebook Conversions API: ``fb_events`` records sent in batches, off the request path.

A batch of records becomes one ``POST {GraphApiUrl}/{GraphApiVersion}/{pixel}/events`` request per
test-event code (almost always one), at most 1,000 events each (the API's limit). The token goes in
the body, so it never appears in a URL or a log line. Answers are sorted at this seam:

* 2xx: stored. Meta deduplicates by ``event_id`` (with the browser pixel, too), so a batch sent
  again after a crash or a lost answer counts once;
* 429, 5xx, 408, network errors, and the Graph API's throttling codes: `SinkUnreachable`, retried
  with backoff (``Retry-After`` is the floor);
* 401, 403 and error code 190 (a bad or expired token): also `SinkUnreachable`. Every event would
  fail the same way, so they wait in the spool until the operator fixes the token;
* any other 4xx: `SinkRejected` with Meta's answer; the writer splits the batch until the refused
  events stand alone and moves them, with that answer, to the dead-letter file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import orjson

from tracker.errors import SinkRejected, SinkUnreachable

MAX_EVENTS = 1000  # per request, the Conversions API's limit
THROTTLED = frozenset({4, 17, 32, 80004, 613})  # Graph API rate-limit error codes (sent with 400)
TOKEN_ERRORS = frozenset({102, 190})
_TEXT_LIMIT = 500


def retry_after(value: str | None) -> float:
    try:
        return max(float(value or 0), 0.0)
    except ValueError:
        return 0.0


def _error_code(response: httpx.Response) -> int | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) else None


class FacebookSink:
    def __init__(
        self,
        pixel: str,
        token: str,
        *,
        name: str = "facebook",
        base_url: str = "https://graph.facebook.com",
        version: str = "v24.0",
        attempt_all: bool = False,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.pixel = pixel
        self._token = token
        self.url = f"{base_url.rstrip('/')}/{version.strip('/')}/{pixel}/events"
        self.attempt_all = attempt_all
        self.timeout = timeout
        self._transport = transport
        self._client: httpx.Client | None = None

    def open(self) -> None:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, transport=self._transport)

    def healthcheck(self) -> bool:
        return self._client is not None

    def write(self, table: str, lines: Sequence[bytes], token: str | None = None) -> None:
        groups: dict[str, list[dict[str, Any]]] = {}
        for line in lines:
            event = orjson.loads(line)
            if not (self.attempt_all or event.pop("_fbx", False)):
                continue  # only events with `fbx`, unless AttemptAll
            event.pop("_fbx", None)
            groups.setdefault(event.pop("_test_event_code", ""), []).append(event)
        for code, events in groups.items():
            for start in range(0, len(events), MAX_EVENTS):
                self._send(events[start : start + MAX_EVENTS], code)

    def _send(self, events: list[dict[str, Any]], test_code: str) -> None:
        self.open()
        assert self._client is not None
        body: dict[str, Any] = {"data": events, "access_token": self._token}
        if test_code:
            body["test_event_code"] = test_code
        try:
            response = self._client.post(
                self.url,
                content=orjson.dumps(body),
                headers={"Content-Type": "application/json; charset=UTF-8"},
            )
        except httpx.HTTPError as exc:
            raise SinkUnreachable(f"Conversions API: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        text = response.text[:_TEXT_LIMIT]
        message = f"Conversions API answered {status}: {text}"
        code = _error_code(response)
        if status == 429 or status >= 500 or status == 408 or code in THROTTLED:
            raise SinkUnreachable(message, retry_after(response.headers.get("retry-after")))
        if status in (401, 403) or code in TOKEN_ERRORS:
            raise SinkUnreachable(f"{message} (check the access token)")
        raise SinkRejected(message)

    def query(
        self, sql: str, fmt: str = "JSONEachRow", params: Mapping[str, object] | None = None
    ) -> bytes:
        raise SinkRejected("the Facebook Conversions API answers no queries")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
