"""Wiring: settings → store, writer, spool, HTTP app; start-up and shutdown.

Start-up opens the store and checks it before taking traffic; shutdown stops admission, writes
everything queued against one deadline, then closes the store. Both run from the ASGI lifespan,
so uvicorn's SIGTERM/SIGINT handling drives them.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field, replace

from starlette.applications import Starlette

from tracker.batch.breaker import CircuitBreaker
from tracker.batch.cursor import CursorJournal
from tracker.batch.deadletter import DeadLetters
from tracker.batch.policy import DEFAULT, MB, Policy, Strategy, policies
from tracker.batch.writer import SinkWriter
from tracker.config import BatchPolicyConfig, Service, Settings
from tracker.control import ControlServer
from tracker.datadir import DataDir, DirLock
from tracker.http.hot import TrackingEndpoint
from tracker.http.limits import Slots, refuse_busy, takes_slot
from tracker.http.proxy import API_PREFIX, ProxyEndpoint
from tracker.http.request import Receive, Scope, Send
from tracker.http.responses import Cors
from tracker.http.routes import build_routes
from tracker.http.static import StaticEndpoint
from tracker.http.ws import WebSocketEndpoint
from tracker.metrics import Metrics
from tracker.normalise.agent import AgentParser
from tracker.normalise.client import TrustedProxies
from tracker.normalise.event import NormaliseContext
from tracker.normalise.geoip.service import GeoService
from tracker.normalise.geoip.service import enabled as geoip_enabled
from tracker.normalise.urls import UrlFilter
from tracker.privacy.retention import apply_retention
from tracker.privacy.store import store_for
from tracker.sinks.base import Sink
from tracker.sinks.chdb import ChdbSink
from tracker.sinks.clickhouse import ClickHouseServerSink
from tracker.sinks.faults import with_faults
from tracker.spool import LogSpool
from tracker.spool.log import Log, MemoryLog, SegmentedLog

log = logging.getLogger(__name__)

HEALTH_CACHE_SECONDS = 1.0


def clickhouse_service(settings: Settings) -> Service | None:
    for service in settings.notify:
        if service.service == "clickhouse" and not service.skip:
            return service
    return None


def make_sink(settings: Settings, data_dir: DataDir) -> Sink:
    """The ClickHouse store: a server when ``ClickHouseUrl`` is set, else embedded chDB."""
    sink: Sink
    if settings.clickhouse_url:
        service = clickhouse_service(settings)
        compress = service.enable_compression if service else True
        sink = ClickHouseServerSink(
            settings.clickhouse_url, settings.database, settings.clickhouse_cluster, compress
        )
    else:
        sink = ChdbSink(data_dir.clickhouse, database=settings.database)
    return with_faults(sink)


def table_policies(settings: Settings) -> dict[str, Policy]:
    """Built-in defaults < the ClickHouse entry's MaxBatchSize/MaxBatchTime (or
    BatchFlushInterval) < `BatchPolicies`; `BatchingEnabled: false` makes every table immediate."""
    service = clickhouse_service(settings)
    max_rows = service.max_batch_size if service else None
    max_seconds = service.max_batch_time if service else None
    if service and max_seconds is None:
        max_seconds = service.batch_flush_interval
    base = policies(max_rows, max_seconds)
    if service and not service.batching_enabled:
        base = {
            table: replace(policy, strategy=Strategy.IMMEDIATE) for table, policy in base.items()
        }
    overrides = {
        table: apply_policy(base.get(table, DEFAULT), cfg) for table, cfg in settings.batch_policies
    }
    return {**base, **overrides}


def apply_policy(policy: Policy, cfg: BatchPolicyConfig) -> Policy:
    changes: dict[str, object] = {}
    if cfg.strategy is not None:
        changes["strategy"] = Strategy(cfg.strategy)
    for attr, value in (
        ("max_rows", cfg.max_batch_size),
        ("max_seconds", cfg.max_batch_time),
        ("retries", cfg.retries),
        ("min_rows", cfg.min_batch_size),
        ("target_latency_ms", cfg.target_latency_ms),
    ):
        if value is not None:
            changes[attr] = value
    if cfg.max_memory_mb is not None:
        changes["max_bytes"] = int(cfg.max_memory_mb * MB)
    return replace(policy, **changes)  # type: ignore[arg-type]


def open_spool(settings: Settings, data_dir: DataDir) -> tuple[LogSpool, str]:
    """The spool and its epoch (a random id per spool, part of every deduplication token)."""
    durable = settings.spool_mode == "durable"
    log: Log
    if durable:
        directory = data_dir.root / "spool"
        log = SegmentedLog(directory)
        epoch_file = directory / "epoch"
        if not epoch_file.exists():
            epoch_file.write_text(secrets.token_hex(6))
        epoch = epoch_file.read_text().strip()
    else:
        log, epoch = MemoryLog(), secrets.token_hex(6)
    return LogSpool(log, max_bytes=settings.spool_max_bytes, durable=durable), epoch


@dataclass
class Runtime:
    settings: Settings
    data_dir: DataDir
    sink: Sink
    writer: SinkWriter
    spool: LogSpool
    metrics: Metrics
    cors: Cors
    normalise_ctx: NormaliseContext
    trusted_proxies: TrustedProxies
    ignore_query_key: str
    max_body_bytes: int
    lock: DirLock
    control: ControlServer
    geoip: GeoService | None = None  # None when GeoIP is off; `/ppi/geoip` answers from it
    _health_at: float = 0.0
    _healthy: bool = False
    _started: bool = field(default=False)

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        """Take the data directory (lock, IP-hash key, spool); the store opens in `start`."""
        data_dir = DataDir(settings.data_dir)
        lock = DirLock(data_dir)
        lock.acquire()
        try:
            return cls._build(settings, data_dir, lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _build(cls, settings: Settings, data_dir: DataDir, lock: DirLock) -> Runtime:
        metrics = Metrics()
        sink = make_sink(settings, data_dir)
        spool, epoch = open_spool(settings, data_dir)
        durable = spool.durable
        journal = CursorJournal(
            data_dir.root / "spool" / f"cursor-{sink.name}.json", persist=durable
        )
        writer = SinkWriter(
            sink,
            spool,
            journal,
            table_policies(settings),
            metrics,
            DeadLetters(data_dir.root / "deadletter", sink.name),
            epoch=epoch,
            breaker=CircuitBreaker(
                time.monotonic,
                threshold=settings.circuit_breaker_failures,
                reset_seconds=settings.circuit_breaker_reset_seconds,
            ),
            on_progress=lambda: spool.release(writer.safe),
        )
        secret = (
            settings.ip_hash_secret.value.encode()
            if settings.ip_hash_secret
            else data_dir.ip_secret()
        )
        geoip = GeoService(settings) if geoip_enabled(settings) else None
        ctx = NormaliseContext(
            url_filter=UrlFilter(settings.url_filter or None, settings.url_filter_match_group),
            ip_secret=secret,
            prefix_private_hash=settings.prefix_private_hash,
            account_hash_mixer=settings.account_hash_mixer,
            remove_ip=settings.use_remove_ip,
            geoip=geoip,
            use_region_descriptions=settings.use_region_descriptions,
            agents=AgentParser() if settings.parse_user_agents else None,
            cflags_analytics=settings.cflags_analytics,
        )
        return cls(
            settings=settings,
            data_dir=data_dir,
            sink=sink,
            writer=writer,
            spool=spool,
            metrics=metrics,
            cors=Cors(settings.allow_origin),
            normalise_ctx=ctx,
            trusted_proxies=TrustedProxies(settings.trusted_proxies),
            ignore_query_key=settings.ignore_query_params_key,
            max_body_bytes=settings.max_body_bytes,
            lock=lock,
            control=ControlServer(data_dir.control_socket, sink.query),
            geoip=geoip,
        )

    async def start(self) -> None:
        try:
            self.sink.open()
            # DataRetentionDays as table TTLs, before traffic (a failure stops the start-up).
            apply_retention(
                store_for(self.settings, self.sink.query), self.settings.data_retention_days
            )
            self.writer.start()
            await self.control.start()
            if self.geoip is not None:
                self.geoip.start()  # on its own thread: a CSV conversion must not hold the listener
        except BaseException:
            self.spool.close()
            self.sink.close()
            self.lock.release()
            raise
        self.metrics.health_status = "healthy"
        self._started = True
        log.info(
            "tracker ready; data in %s (spool: %s)", self.data_dir.root, self.settings.spool_mode
        )

    async def stop(self) -> None:
        """Admission has stopped (uvicorn closed the listener): drain within the deadline."""
        if not self._started:
            return
        self._started = False
        await self.control.stop()
        if not self.writer.stop(self.settings.shutdown_timeout_seconds):
            log.error(
                "shutdown deadline passed: undelivered events stay in the spool for the next start"
            )
        self.spool.close()
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
        self.ws_path = f"{self.prefix}ws"
        self.ws = WebSocketEndpoint(self.rt, self.tracking, settings.max_body_bytes)
        self.pub_prefix = f"{self.prefix}pub/"
        self.static = StaticEndpoint(self.rt, self.tracking, self.pub_prefix)
        self.proxy = ProxyEndpoint(self.rt, self.tracking, settings) if settings.proxy_url else None
        self.proxied_options = self.proxy is not None and settings.ignore_proxy_options
        self.slots = Slots(settings.maximum_connections, self._count_slots)

    def _count_slots(self, in_use: int) -> None:
        self.rt.metrics.connections = in_use

    def hot_route(self, path: str) -> str | None:
        if not path.startswith(self.prefix):
            return None
        name, _, _ = path[len(self.prefix) :].partition("/")
        return name if name in ("tr", "str", "img") else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if not takes_slot(scope["path"], scope["method"], self.ws_path, self.proxied_options):
                await self.http(scope, receive, send)
            elif not self.slots.take():
                await refuse_busy(scope, send, self.rt.cors)
            else:
                try:
                    await self.http(scope, receive, send)
                finally:
                    self.slots.release()
            return
        if kind == "websocket" and scope["path"] == self.ws_path:
            await self.ws(scope, receive, send)
            return
        if kind == "lifespan":
            await self.lifespan(receive, send)
            return
        await self.routes(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        route = self.hot_route(path)
        if route is not None:
            await self.tracking(scope, receive, send, route)
        elif path == self.ws_path:
            await self.ws.http(scope, receive, send)
        elif path.startswith(self.pub_prefix):
            await self.static(scope, receive, send)
        elif self.proxy is not None and path.startswith(API_PREFIX):
            await self.proxy(scope, receive, send)
        else:
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
                if self.proxy is not None:
                    await self.proxy.close()
                await self.rt.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
