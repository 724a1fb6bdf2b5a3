"""Limits of the HTTP server: the connection slots, the `/api/` daily limit, header size and timeouts.

* `Slots` is the Go tracker's `MaximumConnections` semaphore: a request on a slot-taking route
  takes a slot without waiting or gets 503 with `Retry-After: 1`. 0 means unlimited (Go answered
  every request 503), and a slot is given back on every exit path (Go leaked it on panics).
* `DailyLimit` is `ProxyDailyLimit`: it counts the proxied requests themselves, per client IP and
  UTC day, in memory on this node, so a new IP starts at 0 (Go counted client events only and
  treated an IP without a row as over the limit).
* `server_options` maps the listener settings onto uvicorn: it is the one place that does. uvicorn's
  httptools protocol has no header-size limit, no read or write timeouts and no cap on open
  sockets, so `LimitedHttpTools` adds `MaxHeaderBytes` (431), `ReadHeaderTimeoutSeconds` /
  `ReadTimeoutSeconds` (408, or the connection is closed once the response has started),
  `WriteTimeoutSeconds` (a response the client stops reading for that long: the connection is
  closed) and `MaxOpenConnections` (a socket over the cap gets a 503 with `Retry-After: 1` at
  once and is closed: idle sockets cannot take every descriptor and deny service to everyone).
  `IdleTimeoutSeconds` is uvicorn's keep-alive timeout. The defaults are what a public endpoint
  needs (docs/limits.md).
* `raise_open_files_limit` lifts the soft open-file limit to the hard one at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import math
import resource
import time
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tracker.config import Settings
from tracker.errors import Unavailable
from tracker.http.request import Scope, Send
from tracker.http.responses import Cors, error_body, respond_error

log = logging.getLogger(__name__)

DAY_SECONDS = 86_400
DAILY_LIMIT_MAX_IPS = 200_000  # ~30 MB of counters; beyond it new IPs pass uncounted (logged)
NO_SLOT_PATHS = frozenset({"/status", "/ping", "/clear", "/health", "/metrics"})
UVICORN_KEEP_ALIVE = 5  # uvicorn's default, used when neither IdleTimeout nor ReadTimeout is set
MAX_OPEN_CONNECTIONS = 10_000  # the automatic cap's ceiling (MaxOpenConnections 0)
OPEN_FILES_CEILING = 1_048_576  # what the soft limit is raised to when the hard one is unlimited
BUSY_MESSAGE = "Too many open connections on this node; retry shortly."
TURN_AWAY_SECONDS = 0.5  # a socket over the cap is closed this long after its 503


class Slots:
    """Requests in flight, capped at `maximum` (0: uncapped); `metrics.connections` mirrors the count."""

    def __init__(self, maximum: int, on_change: Callable[[int], None]) -> None:
        self.maximum = maximum
        self.in_use = 0
        self.on_change = on_change

    def take(self) -> bool:
        if self.maximum and self.in_use >= self.maximum:
            return False
        self.in_use += 1
        self.on_change(self.in_use)
        return True

    def release(self) -> None:
        self.in_use -= 1
        self.on_change(self.in_use)


def takes_slot(path: str, method: str, ws_path: str, proxied_options: bool) -> bool:
    """Whether a request takes a slot: not health, status, ping, clear, ws or a CORS preflight."""
    if path in NO_SLOT_PATHS or path == ws_path:
        return False
    if method == "OPTIONS":
        return proxied_options and path.startswith("/api/")
    return True


class DailyLimit:
    """At most `limit` requests per client IP per UTC day; `take` counts one and says if it may pass."""

    def __init__(
        self, limit: int, max_ips: int = DAILY_LIMIT_MAX_IPS, clock: Callable[[], float] = time.time
    ) -> None:
        self.limit = limit
        self.max_ips = max_ips
        self.clock = clock
        self.day = -1
        self.counts: dict[str, int] = {}
        self.warned = False

    def take(self, ip: str) -> int | None:
        """None when the request may pass (and is counted); else seconds until the next UTC day."""
        now = self.clock()
        day = int(now // DAY_SECONDS)
        if day != self.day:
            self.day, self.counts, self.warned = day, {}, False
        count = self.counts.get(ip)
        if count is None and len(self.counts) >= self.max_ips:
            if not self.warned:
                log.warning(
                    "ProxyDailyLimit: %d IPs counted today; new IPs pass uncounted", self.max_ips
                )
                self.warned = True
            return None
        count = count or 0
        if count >= self.limit:
            return max(math.ceil((day + 1) * DAY_SECONDS - now), 1)
        self.counts[ip] = count + 1
        return None


class LimitedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header-size limit, read and write timeouts and a cap
    on open sockets."""

    max_header_bytes = 1_048_576
    header_timeout: float | None = None
    read_timeout: float | None = None
    write_timeout: float | None = None
    max_connections: int = 0  # open sockets (HTTP and WebSocket) of this server; 0: no cap

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0  # exact: request line and headers as parsed
        self._raw_head = 0  # bytes received while the head is still incomplete
        self._head_done = False
        self._head_too_large = False
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._over_cap = False

    def _start(self, name: str, seconds: float | None) -> None:
        if seconds and name not in self._timers:
            self._timers[name] = self.loop.call_later(seconds, self._expired, name)

    def _cancel(self, *names: str) -> None:
        for name in names:
            timer = self._timers.pop(name, None)
            if timer is not None:
                timer.cancel()

    def _expired(self, name: str) -> None:
        self._timers.pop(name, None)
        if self.transport.is_closing():
            return
        if self._head_done or name == "write":
            self.transport.close()  # mid-body or mid-response: the handler sees a disconnect
        else:
            self._refuse(408, "The request was not received in time.")

    def _refuse(self, status: int, message: str) -> None:
        self._cancel("head", "read")
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a pipelined earlier response is still being written
            return
        body = error_body(status, message)
        phrase = b"Request Header Fields Too Large" if status == 431 else b"Request Timeout"
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, phrase, len(body), body)
        )
        self.transport.close()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_header_bytes:
            self._head_too_large = True
            raise ValueError("request head over MaxHeaderBytes")  # httptools aborts the parse

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.max_connections and len(self.connections) > self.max_connections:
            self._turn_away()
            return
        self._start("head", self.header_timeout)  # a client that connects and sends nothing

    def _turn_away(self) -> None:
        """Answer 503 at once (the client knows to retry), read and drop what the client sends
        meanwhile, and close after a moment: closing with its request unread would reset the
        connection before the client could read the answer."""
        self._over_cap = True
        body = error_body(503, BUSY_MESSAGE)
        self.transport.write(
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nretry-after: 1\r\nconnection: close\r\n\r\n%s"
            % (len(body), body)
        )
        self.loop.call_later(TURN_AWAY_SECONDS, self.transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel("head", "read", "write")
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        """The client stopped reading (the socket's buffer is full): it has `write_timeout`."""
        super().pause_writing()
        self._start("write", self.write_timeout)

    def resume_writing(self) -> None:
        self._cancel("write")
        super().resume_writing()

    def data_received(self, data: bytes) -> None:
        if self._over_cap:
            return  # turned away: the answer is sent, the request is not read
        in_head = not self._head_done
        if in_head:
            self._start("head", self.header_timeout)
            self._start("read", self.read_timeout)
        super().data_received(data)
        if in_head and not self._head_done and not self.transport.is_closing():
            self._raw_head += len(data)  # one huge header is buffered whole before on_header
            if self._raw_head > self.max_header_bytes:
                self._head_too_large = True
                self._refuse(431, self._too_large_message())

    def send_400_response(self, msg: str) -> None:
        if self._head_too_large:
            self._refuse(431, self._too_large_message())
        else:
            super().send_400_response(msg)

    def _too_large_message(self) -> str:
        return f"The request headers are over the limit of {self.max_header_bytes} bytes."

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = self._raw_head = 0
        self._head_done = self._head_too_large = False

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_done = True
        self._cancel("head")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._cancel("read")
        super().on_message_complete()
        self._head_done = False

    def handle_websocket_upgrade(self) -> None:
        self._cancel("head", "read", "write")  # like Go, an upgraded connection has no deadlines
        super().handle_websocket_upgrade()


def open_connections_cap(settings: Settings) -> int:
    """`MaxOpenConnections`, or half the open-file limit (the store needs the rest), at most
    MAX_OPEN_CONNECTIONS."""
    if settings.max_open_connections:
        return settings.max_open_connections
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_OPEN_CONNECTIONS
    return max(min(soft // 2, MAX_OPEN_CONNECTIONS), 64)


def raise_open_files_limit() -> int:
    """Lift the soft open-file limit to the hard one (the store opens many files, and each
    client socket is one); return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = OPEN_FILES_CEILING if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, target, exc)
            return soft
        log.info("open-file limit raised from %d to %d", soft, target)
        return target
    return soft


def http_protocol(settings: Settings) -> type[LimitedHttpTools]:
    """`LimitedHttpTools` configured from the settings (0 means none, as in Go)."""
    read = settings.read_timeout_seconds or None
    header = settings.read_header_timeout_seconds or read

    class Configured(LimitedHttpTools):
        pass

    Configured.max_header_bytes = settings.max_header_bytes or 1_048_576
    Configured.header_timeout = header
    Configured.read_timeout = read
    Configured.write_timeout = settings.write_timeout_seconds or None
    Configured.max_connections = open_connections_cap(settings)
    return Configured


class OneLineProtocolErrors(logging.Filter):
    """uvicorn logs a whole traceback for every WebSocket text frame that is not UTF-8 (a client's
    mistake, answered with close code 1007): one line is enough."""

    MESSAGES = frozenset({"Invalid UTF-8 sequence received from client."})

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in self.MESSAGES:
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_protocol_errors() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, OneLineProtocolErrors) for f in logger.filters):
        logger.addFilter(OneLineProtocolErrors())


def ws_max_size(limit: int) -> int:
    """Largest WebSocket frame: an LZ4 frame of `limit` incompressible bytes is a little longer."""
    return limit + limit // 255 + 64


def server_options(settings: Settings, ws_limit: int) -> dict[str, Any]:
    """uvicorn.Config keyword arguments for the listener's limits and timeouts."""
    quiet_protocol_errors()
    return {
        "http": http_protocol(settings),
        "ws": "websockets-sansio",
        "ws_max_size": ws_max_size(ws_limit),
        "ws_per_message_deflate": False,  # as Go: clients compress with LZ4 themselves
        # uvicorn would otherwise rewrite the client address from X-Forwarded-For for any
        # request from 127.0.0.1; forwarding headers are judged by TrustedProxies alone.
        "proxy_headers": False,
        "timeout_keep_alive": settings.idle_timeout_seconds
        or settings.read_timeout_seconds
        or UVICORN_KEEP_ALIVE,
    }


async def refuse_busy(scope: Scope, send: Send, cors: Cors) -> None:
    """503 with `Retry-After: 1` in the JSON error shape: no slot is free."""
    origin = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"origin"), None)
    exc = Unavailable("Maximum clients reached on this node.", retry_after=1)
    await respond_error(send, exc, cors.headers(origin))
