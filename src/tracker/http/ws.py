"""The WebSocket event stream `/tr/v{N}/ws`, as a raw ASGI endpoint.

At the upgrade the connection's IP, User-Agent, host, JA4H, cookies, `User` header and query
string are fixed; each message is then tracked like a POST to `/tr/`: a client event whose
body is the message (a JSON object, or an array of objects as a batch). Text frames carry JSON;
binary frames carry LZ4: a 4-byte little-endian uncompressed length, then one raw LZ4 block.
A message whose events are all stored gets no answer (the Go clients read none). Otherwise the
server sends one text message: ``{"ok": true, "stored": N, "refused": [{"index", "status",
"error"}]}`` when some events of a batch were refused (the others are stored), or the JSON error
``{"ok": false, "error", "status"}`` when none could be.

Unlike the Go tracker (docs/differences.md):

* the Origin must be allowed by `AllowOrigin` (a request without Origin, i.e. not from a browser,
  is accepted); otherwise the upgrade is refused with 403;
* a message, or the length an LZ4 frame declares, over `MaxBodyBytes` closes the connection with
  1009 (message too big); the declared length is checked before anything is decompressed;
* `null`, non-objects and unreadable messages are skipped (counted as `invalid`, answered with
  the error), the connection stays open; the literal `null` no longer records an empty event;
* one bad event in a batch is refused alone: the others are stored (Go dropped the whole frame);
* when the spool is full the connection is closed with 1013 (try again later), so the client
  knows to resend, instead of events being lost.
"""

from __future__ import annotations

import logging

import lz4.block
import orjson

from tracker.errors import InvalidEvent, PayloadTooLarge, TrackerError, Unavailable
from tracker.http.request import Message, Receive, Scope, Send, from_scope
from tracker.http.responses import error_body, respond
from tracker.http.site import Site
from tracker.normalise.request import parse_events
from tracker.runtime import Arrival, Source

log = logging.getLogger(__name__)

WS_SOURCE = Source("/ws", is_server=False)
LZ4_HEADER_BYTES = 4
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN_LATER = 1013
WS_VERSION = (b"sec-websocket-version", b"13")


def close_code(exc: TrackerError) -> int | None:
    """The close code for a message that was not tracked; None keeps the connection open."""
    log.debug("WebSocket message not tracked: %s", exc.message)
    if isinstance(exc, PayloadTooLarge):
        return CLOSE_TOO_BIG
    if isinstance(exc, Unavailable):
        return CLOSE_TRY_AGAIN_LATER
    return None


class WebSocketEndpoint:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.limit = site.max_body_bytes  # largest message (and declared LZ4 length) in bytes

    def origin_allowed(self, origin: str | None) -> bool:
        cors = self.site.cors
        return origin is None or cors.any or origin in cors.origins

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A plain HTTP request to the WebSocket route: the CORS preflight, or 426."""
        req = from_scope(scope)
        if req.method == "OPTIONS":
            await respond(send, 200, b"", self.site.cors.preflight(req.headers.get("origin")))
            return
        body = error_body(426, "This route takes a WebSocket: GET with 'Upgrade: websocket'.")
        headers = [(b"upgrade", b"websocket"), (b"connection", b"Upgrade"), WS_VERSION]
        await respond(send, 426, body, headers, b"application/json")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        req = from_scope({**scope, "method": "GET"})
        if not self.origin_allowed(req.headers.get("origin")):
            await self.refuse(scope, send, 403, "This Origin is not allowed (AllowOrigin).")
            return
        await send({"type": "websocket.accept"})
        arrival = self.site.ingest.arrive(req, WS_SOURCE)
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return  # websocket.disconnect
            code = await self.track(message, arrival, send)
            if code is not None:
                await send({"type": "websocket.close", "code": code})
                return

    async def refuse(self, scope: Scope, send: Send, status: int, message: str) -> None:
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008})  # the server answers 403
            return
        body = error_body(status, message)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})

    async def track(self, message: Message, arrival: Arrival, send: Send) -> int | None:
        """Track one message; the close code when the connection must end, else None."""
        ingest = self.site.ingest
        try:
            bodies = parse_events(self.payload(message), "")
            if not bodies:
                raise InvalidEvent("The message is empty.")
        except TrackerError as exc:
            ingest.refused(exc)
            return await self.refuse_message(send, exc)
        try:
            tracked = await ingest.track(arrival.restamped(), bodies)
        except TrackerError as exc:
            return await self.refuse_message(send, exc)
        if tracked.refused:
            log.debug("WebSocket message: %d of its events refused", len(tracked.refused))
            await send({"type": "websocket.send", "text": orjson.dumps(tracked.partial()).decode()})
        return None

    async def refuse_message(self, send: Send, exc: TrackerError) -> int | None:
        """Tell the client why its message was not tracked, unless the connection must end."""
        code = close_code(exc)
        if code is None:
            await send(
                {"type": "websocket.send", "text": error_body(exc.status, exc.message).decode()}
            )
        return code

    def payload(self, message: Message) -> bytes:
        """The message's JSON bytes: a text frame as is, a binary frame decompressed from LZ4."""
        text = message.get("text")
        if text is not None:
            data: bytes = text.encode()
            if len(data) > self.limit:
                raise PayloadTooLarge(f"The message is over the limit of {self.limit} bytes.")
            return data
        frame: bytes = message.get("bytes") or b""
        if len(frame) < LZ4_HEADER_BYTES:
            raise InvalidEvent("A binary message must start with a 4-byte LZ4 length.")
        declared = int.from_bytes(frame[:LZ4_HEADER_BYTES], "little")
        if declared > self.limit:  # checked before anything is allocated or decompressed
            raise PayloadTooLarge(
                f"The LZ4 message declares {declared} bytes; the limit is {self.limit} bytes."
            )
        if declared == 0:
            raise InvalidEvent("The LZ4 message declares a length of 0.")
        try:
            result: bytes = lz4.block.decompress(frame)
        except lz4.block.LZ4BlockError as exc:
            raise InvalidEvent("The binary message is not a valid LZ4 block.") from exc
        return result
