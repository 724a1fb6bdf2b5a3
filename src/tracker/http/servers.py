"""Running the planned listeners (`tracker.http.listeners`) as uvicorn servers in one event loop.

`Servers(settings)` plans the listeners and loads the certificate files (a bad pair stops
start-up); `bind()` takes every socket; `run(app)` serves until SIGTERM or SIGINT:

1. the listener serving every route first runs the application's lifespan (the runtime starts),
   then every listener starts accepting, and the certificate watchers start (file reload, ACME);
2. on a signal every listener stops accepting; the others drain first, then the lifespan one,
   whose lifespan shutdown stops the runtime once no listener handles a request any more.

Every listener gets the same limits from `http.limits.server_options`. The TLS listener adds
`Strict-Transport-Security` with `HSTSSeconds`, and HTTP/2 (ALPN `h2`, uvicorn's zttp protocol)
with `HTTP2`; its HTTP/1.1 connections keep the limited protocol of `server_options`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar

import uvicorn
from uvicorn.protocols.http.zttp_h2_impl import ZttpH2Protocol

from tracker.config import Settings
from tracker.http.acme import AcmeCertificates, Challenges
from tracker.http.https_redirect import HttpsRedirect
from tracker.http.limits import server_options
from tracker.http.listeners import Listener, bind, plan, redirect_port
from tracker.http.request import Receive, Scope, Send
from tracker.http.tls import HTTP1, HTTP2, CertificateFiles, Certificates

log = logging.getLogger(__name__)

RELOAD_SECONDS = 2.0  # how often the certificate files are looked at (two stat calls)


class Hsts:
    """Adds `Strict-Transport-Security: max-age=N` to every HTTP response of the TLS listener."""

    def __init__(self, app: Any, seconds: int) -> None:
        self.app = app
        self.header = (b"strict-transport-security", f"max-age={seconds}".encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(name == self.header[0] for name, _ in headers):  # /api/ sets its own
                    message = {**message, "headers": [*headers, self.header]}
            await send(message)

        await self.app(scope, receive, send_with_header)


def negotiated(http1: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """A protocol that hands each TLS connection to HTTP/2 when ALPN chose `h2`, else to `http1`
    (the limited HTTP/1.1 protocol of `server_options`)."""

    class Negotiated(asyncio.Protocol):
        alpn_protocols: ClassVar[list[str]] = list(HTTP2)

        def __init__(self, **kwargs: Any) -> None:
            self.kwargs = kwargs

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            ssl_object = transport.get_extra_info("ssl_object")
            h2 = ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2"
            protocol = (ZttpH2Protocol if h2 else http1)(**self.kwargs)
            transport.set_protocol(protocol)
            protocol.connection_made(transport)

    return Negotiated


class Servers:
    """The listeners of one `tracker serve` process."""

    def __init__(
        self,
        settings: Settings,
        *,
        ports: list[int] | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        """``ports`` (an HTTP worker of `Workers`): the listeners' ports, chosen by the
        supervisor, bound with `SO_REUSEPORT`; ``headers``: added to every response."""
        self.settings = settings
        self.listeners: list[Listener] = plan(settings)
        self.reuse_port = ports is not None
        if ports is not None:
            self.listeners = [
                replace(listener, port=port)
                for listener, port in zip(self.listeners, ports, strict=True)
            ]
        self.headers = headers or []
        self.sockets: list[socket.socket] = []
        self.challenges = Challenges()
        self.certificates = Certificates(HTTP2 if settings.http2 else HTTP1)
        self.files: CertificateFiles | None = None
        self.acme: AcmeCertificates | None = None
        if settings.use_local_tls:
            self.files = CertificateFiles(
                Path(settings.tls_cert), Path(settings.tls_key), self.certificates
            )
        elif settings.use_acme:
            self.acme = AcmeCertificates(settings, self.certificates, self.challenges)

    def bind(self) -> list[Listener]:
        """Bind every listener's socket (ListenError names the one that failed); the listeners
        with their real ports (a `Port` of 0 gets a free one)."""
        try:
            for listener in self.listeners:
                self.sockets.append(bind(listener, self.reuse_port))
        except BaseException:
            self.close()
            raise
        self.listeners = [
            replace(listener, port=sock.getsockname()[1])
            for listener, sock in zip(self.listeners, self.sockets, strict=True)
        ]
        return self.listeners

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.sockets = []

    def describe(self) -> list[str]:
        return [listener.describe() for listener in self.listeners]

    def _config(self, app: Any, listener: Listener, lifespan: bool) -> uvicorn.Config:
        settings = self.settings
        options = server_options(settings, ws_limit=settings.max_body_bytes)
        extra: dict[str, Any] = {}
        if listener.role == "tls":
            if settings.http2:
                options["http"] = negotiated(options["http"])
            if settings.hsts_seconds:
                app = Hsts(app, settings.hsts_seconds)
            extra["ssl_context_factory"] = lambda config, default: self.certificates.context()
        elif listener.role == "redirect":
            app = HttpsRedirect(redirect_port(settings), settings.domains, self.challenges)
        return uvicorn.Config(
            app,
            host=listener.host,
            port=listener.port,
            loop="uvloop",
            lifespan="on" if lifespan else "off",
            access_log=False,
            log_level="info" if settings.debug else "warning",
            timeout_graceful_shutdown=max(int(settings.shutdown_timeout_seconds), 1),
            headers=self.headers,
            **options,
            **extra,
        )

    def run(self, app: Any) -> bool:
        """Serve until SIGTERM or SIGINT; whether the servers started. Binds first if needed."""
        if not self.sockets:
            self.bind()
        configs = [
            self._config(app, listener, lifespan=i == 0)
            for i, listener in enumerate(self.listeners)
        ]
        with asyncio.Runner(loop_factory=configs[0].get_loop_factory()) as runner:
            return runner.run(self.serve(configs))

    async def serve(self, configs: list[uvicorn.Config]) -> bool:
        servers = [uvicorn.Server(config) for config in configs]
        for server in servers:
            server.config.load()
            server.lifespan = server.config.lifespan_class(server.config)
        main, others = servers[0], servers[1:]
        main_socket, other_sockets = self.sockets[0], self.sockets[1:]
        watcher: asyncio.Task[None] | None = None
        if self.acme is not None:
            self.acme.load()  # the kept certificates (or a stand-in) before the first handshake
        with _signals_stop(servers):
            await main.startup(sockets=[main_socket])  # the lifespan: the runtime starts
            try:
                for server, sock in zip(others, other_sockets, strict=True):
                    await server.startup(sockets=[sock])
                for line in self.describe() if main.started else ():
                    log.info("ready: %s", line)
                if self.files is not None:
                    watcher = asyncio.create_task(self._watch_files(self.files))
                if self.acme is not None:
                    self.acme.start()
                await asyncio.gather(*(server.main_loop() for server in servers))
            finally:
                for server in servers:
                    server.should_exit = True
                if watcher is not None:
                    watcher.cancel()
                if self.acme is not None:
                    self.acme.stop()
                started = [(s, k) for s, k in zip(others, other_sockets, strict=True) if s.started]
                await asyncio.gather(*(s.shutdown(sockets=[k]) for s, k in started))
                if main.started:
                    await main.shutdown(sockets=[main_socket])
        self.sockets = []
        return main.started

    async def _watch_files(self, files: CertificateFiles) -> None:
        while True:
            await asyncio.sleep(RELOAD_SECONDS)
            try:
                files.poll()
            except Exception:  # supervised: a surprise is logged and the next look tried
                log.exception("Looking for a changed TLS certificate failed")


@contextlib.contextmanager
def _signals_stop(servers: list[uvicorn.Server]) -> Iterator[None]:
    """SIGTERM and SIGINT stop every server gracefully; a second SIGINT forces it."""

    def stop(sig: int, frame: FrameType | None) -> None:
        for server in servers:
            if server.should_exit and sig == signal.SIGINT:
                server.force_exit = True
            server.should_exit = True

    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, stop) for sig in handled}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
