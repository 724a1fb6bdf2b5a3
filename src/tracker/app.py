"""Wiring: settings → store, writer, spool, HTTP app; start-up and shutdown.

Start-up opens the store and checks it before taking traffic; shutdown stops admission, writes
everything queued against one deadline, then closes the store. Both run from the ASGI lifespan,
so uvicorn's SIGTERM/SIGINT handling drives them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from starlette.applications import Starlette

from tracker.batch.policy import policies
from tracker.batch.writer import BatchWriter
from tracker.config import Settings
from tracker.control import ControlServer
from tracker.datadir import DataDir, DirLock
from tracker.http.hot import TrackingEndpoint
from tracker.http.request import Receive, Scope, Send
from tracker.http.responses import Cors
from tracker.http.routes import build_routes
from tracker.metrics import Metrics
from tracker.normalise.client import TrustedProxies
from tracker.normalise.event import NormaliseContext
from tracker.normalise.urls import UrlFilter
from tracker.sinks.base import Sink
from tracker.sinks.chdb import ChdbSink
from tracker.spool import MemorySpool, Spool

log = logging.getLogger(__name__)

HEALTH_CACHE_SECONDS = 1.0


def clickhouse_batching(settings: Settings) -> tuple[int | None, float | None]:
    for service in settings.notify:
        if service.service == "clickhouse" and not service.skip:
            return service.max_batch_size, service.max_batch_time
    return None, None


def make_sink(settings: Settings, data_dir: DataDir) -> Sink:
    return ChdbSink(data_dir.clickhouse, database=settings.database)


@dataclass
class Runtime:
    settings: Settings
    data_dir: DataDir
    sink: Sink
    writer: BatchWriter
    spool: Spool
    metrics: Metrics
    cors: Cors
    normalise_ctx: NormaliseContext
    trusted_proxies: TrustedProxies
    ignore_query_key: str
    max_body_bytes: int
    lock: DirLock
    control: ControlServer
    _health_at: float = 0.0
    _healthy: bool = False
    _started: bool = field(default=False)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        data_dir = DataDir(settings.data_dir)
        metrics = Metrics()
        sink = make_sink(settings, data_dir)
        max_rows, max_seconds = clickhouse_batching(settings)
        writer = BatchWriter(sink, policies(max_rows, max_seconds), metrics)
        secret = settings.ip_hash_secret.value.encode() if settings.ip_hash_secret else None
        ctx = NormaliseContext(
            url_filter=UrlFilter(settings.url_filter or None, settings.url_filter_match_group),
            ip_secret=secret or b"",
            prefix_private_hash=settings.prefix_private_hash,
            account_hash_mixer=settings.account_hash_mixer,
            remove_ip=settings.use_remove_ip,
        )
        return cls(
            settings=settings,
            data_dir=data_dir,
            sink=sink,
            writer=writer,
            spool=MemorySpool(writer),
            metrics=metrics,
            cors=Cors(settings.allow_origin),
            normalise_ctx=ctx,
            trusted_proxies=TrustedProxies(settings.trusted_proxies),
            ignore_query_key=settings.ignore_query_params_key,
            max_body_bytes=settings.max_body_bytes,
            lock=DirLock(data_dir),
            control=ControlServer(data_dir.control_socket, sink.query),
        )

    async def start(self) -> None:
        self.lock.acquire()
        try:
            if not self.normalise_ctx.ip_secret:
                self.normalise_ctx = NormaliseContext(
                    url_filter=self.normalise_ctx.url_filter,
                    ip_secret=self.data_dir.ip_secret(),
                    prefix_private_hash=self.normalise_ctx.prefix_private_hash,
                    account_hash_mixer=self.normalise_ctx.account_hash_mixer,
                    remove_ip=self.normalise_ctx.remove_ip,
                )
            self.sink.open()
            self.writer.start()
            await self.control.start()
        except BaseException:
            self.sink.close()
            self.lock.release()
            raise
        self.metrics.health_status = "healthy"
        self._started = True
        log.info("tracker ready; data in %s", self.data_dir.root)

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self.control.stop()
        landed = self.writer.stop(self.settings.shutdown_timeout_seconds)
        if not landed:
            log.error("%d rows were not written before the shutdown deadline", self.writer.queued)
        self.sink.close()
        self.lock.release()

    def check_health(self) -> bool:
        now = time.monotonic()
        if now - self._health_at > HEALTH_CACHE_SECONDS:
            self._healthy = self.sink.healthcheck()
            self._health_at = now
            self.metrics.health_status = "healthy" if self._healthy else "unhealthy"
        return self._healthy


class TrackerApp:
    """The ASGI entry: hot tracking routes by prefix, everything else to Starlette."""

    def __init__(self, settings: Settings) -> None:
        self.rt = Runtime.build(settings)
        self.prefix = f"/tr/v{settings.api_version}/"
        self.tracking = TrackingEndpoint(self.rt)
        self.routes: Starlette = build_routes(self.rt)

    def hot_route(self, path: str) -> str | None:
        if not path.startswith(self.prefix):
            return None
        name, _, _ = path[len(self.prefix) :].partition("/")
        return name if name in ("tr", "str", "img") else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            route = self.hot_route(scope["path"])
            if route is not None:
                await self.tracking(scope, receive, send, route)
                return
        elif kind == "lifespan":
            await self.lifespan(receive, send)
            return
        await self.routes(scope, receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.rt.start()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.rt.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
