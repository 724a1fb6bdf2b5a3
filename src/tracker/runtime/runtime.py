"""The running service's parts, wired from settings: store, spool, writer, ingest, metrics.

`Runtime.build` takes the data directory (lock, IP-hash key, spool) without touching the store;
`start` starts the writer, which opens the store (schema, retention TTLs): a store that does not
answer is retried in the background while the spool takes traffic, and only a store that refuses
the tracker (credentials, grants, DDL) stops the start-up; `stop` drains against one deadline,
then closes everything. The HTTP layer (`tracker.http.app`) drives both from the ASGI
lifespan; nothing here knows about HTTP.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

from tracker.backup import write_backup
from tracker.batch.cursor import CursorJournal
from tracker.batch.deadletter import DeadLetters
from tracker.batch.writer import SinkWriter
from tracker.config import Settings
from tracker.control import ControlServer
from tracker.datadir import DataDir, DirLock
from tracker.metrics import Metrics, prometheus_text
from tracker.normalise.agent import AgentParser
from tracker.normalise.client import TrustedProxies
from tracker.normalise.event import NormaliseContext
from tracker.normalise.geoip.service import GeoService
from tracker.normalise.geoip.service import enabled as geoip_enabled
from tracker.normalise.urls import UrlFilter
from tracker.privacy.retention import apply_retention
from tracker.privacy.store import store_for
from tracker.runtime.ingest import Ingest
from tracker.runtime.owner import metrics_answer, spool_name, worker_writers
from tracker.runtime.policies import circuit_breaker, table_policies
from tracker.runtime.sinks import build_backends, clickhouse_takes, facebook_ready
from tracker.schema.migrate import CURRENT_VERSION, pending_version
from tracker.sinks.base import Sink
from tracker.sinks.chdb import ChdbSink
from tracker.sinks.clickhouse import ClickHouseServerSink
from tracker.sinks.faults import with_faults
from tracker.spool import LogSpool, open_spool

log = logging.getLogger(__name__)

HEALTH_CACHE_SECONDS = 1.0
BACKUP_PAUSE_SECONDS = 60.0  # how long a backup waits for the writer to finish its batch


class Source(Protocol):
    """A source started and stopped with the runtime (a broker consumer); HTTP is driven by ASGI."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def make_sink(settings: Settings, data_dir: DataDir) -> Sink:
    """The ClickHouse store: a server when ``ClickHouseUrl`` is set, else embedded chDB."""
    sink: Sink
    if settings.clickhouse_url:
        service = settings.clickhouse
        compress = service.enable_compression if service else True
        sink = ClickHouseServerSink(
            settings.clickhouse_url, settings.database, settings.clickhouse_cluster, compress
        )
    else:
        sink = ChdbSink(data_dir.clickhouse, database=settings.database)
    return with_faults(sink)


def normalise_context(
    settings: Settings, data_dir: DataDir, geoip: GeoService | None
) -> NormaliseContext:
    secret = (
        settings.ip_hash_secret.value.encode() if settings.ip_hash_secret else data_dir.ip_secret()
    )
    return NormaliseContext(
        url_filter=UrlFilter(settings.url_filter or None, settings.url_filter_match_group),
        ip_secret=secret,
        prefix_private_hash=settings.prefix_private_hash,
        account_hash_mixer=settings.account_hash_mixer,
        remove_ip=settings.use_remove_ip,
        geoip=geoip,
        use_region_descriptions=settings.use_region_descriptions,
        agents=AgentParser() if settings.parse_user_agents else None,
        cflags_analytics=settings.cflags_analytics,
        marketing=any(facebook_ready(s) for s in settings.enabled("facebook")),
        cflags_marketing=settings.cflags_marketing,
        cflags_ignore=settings.cflags_ignore,
        max_param_keys=settings.max_param_keys,
    )


def plural(count: int, one: str, many: str = "") -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


def describe(settings: Settings, data_dir: DataDir) -> list[str]:
    """Where events go, for the start-up log: the store and the spool."""
    database = settings.database
    if settings.clickhouse_url:
        parts = urlsplit(settings.clickhouse_url)  # no user name or password in a log
        where = f"ClickHouse server {parts.scheme}://{parts.hostname}:{parts.port or 8123}"
        if settings.clickhouse_cluster:
            where += f", cluster {settings.clickhouse_cluster}"
    else:
        where = f"embedded ClickHouse (chDB) in {data_dir.clickhouse}"
    if settings.spool_mode == "durable":
        spool = f"durable in {data_dir.root / 'spool'} (events are answered once on disk)"
    else:
        spool = "memory (events are answered at once and lost if the process dies unwritten)"
    return [f"store: {where}, database {database}", f"spool: {spool}"]


def prepare_store(settings: Settings, sink: Sink) -> None:
    """What follows the schema once the writer has opened the store: DataRetentionDays as table
    TTLs, and on a server (migrated explicitly, `tracker schema migrate`) a version check."""
    if settings.clickhouse_url:
        version = pending_version(sink.query, settings.database)
        if version is not None:
            log.error(
                "the schema of database %s is at version %s and this tracker needs %s:"
                " run `tracker schema migrate` with the same config (see docs/upgrading.md)",
                settings.database,
                version,
                CURRENT_VERSION,
            )
    apply_retention(store_for(settings, sink.query), settings.data_retention_days)


def health_error(answers: bool, store: str) -> str:
    """Why `/health` answers 503 ("" when it does not): no addresses, the details are logged."""
    if store == "refused":
        return "the store refuses the tracker (credentials, grants or schema); see the log"
    if not answers:
        return "the store does not answer; events are kept in the spool until it does"
    if store != "ok":
        return "the store answers but is not open yet; events are kept in the spool"
    return ""


@dataclass
class Runtime:
    settings: Settings
    data_dir: DataDir
    lock: DirLock
    sink: Sink
    spool: LogSpool
    writer: SinkWriter
    metrics: Metrics
    ingest: Ingest
    control: ControlServer
    geoip: GeoService | None = None  # None when GeoIP is off; `/ppi/geoip` answers from it
    backends: Sequence[SinkWriter] = ()  # DuckDB, NATS, Facebook: a writer each (runtime/sinks)
    followers: Sequence[SinkWriter] = ()  # the store's writers of the worker spools (owner.py)
    sources: list[Source] = field(default_factory=list)  # consumers, started after the writers
    _backup_lock: threading.Lock = field(default_factory=threading.Lock)
    _health_at: float = 0.0
    _healthy: bool = False
    _store_ok: bool = False
    health_error: str = ""  # why /health says 503 (no addresses: the details are in the log)
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
        spool = open_spool(
            data_dir.root / "spool",
            durable=settings.spool_mode == "durable",
            max_bytes=settings.spool_max_bytes,
        )

        def release() -> None:  # the spool keeps what any writer still needs
            spool.release(min(w.safe for w in (writer, *backends.writers)))

        writer = SinkWriter(
            sink,
            spool,
            CursorJournal(data_dir.root / "spool" / f"cursor-{sink.name}.json", spool.durable),
            table_policies(settings),
            metrics,
            DeadLetters(data_dir.root / "deadletter", sink.name),
            breaker=circuit_breaker(settings),
            on_progress=release,
            takes=clickhouse_takes(settings),
            on_open=lambda: prepare_store(settings, sink),
        )
        backends = build_backends(settings, data_dir, spool, metrics, release)
        followers = worker_writers(settings, data_dir, sink, metrics, writer)
        geoip = GeoService(settings) if geoip_enabled(settings) else None
        ingest = Ingest(
            normalise_context(settings, data_dir, geoip),
            TrustedProxies(settings.trusted_proxies),
            spool,
            metrics,
            settings.ignore_query_params_key,
            planners=backends.planners,
        )
        return cls(
            settings=settings,
            data_dir=data_dir,
            lock=lock,
            sink=sink,
            spool=spool,
            writer=writer,
            metrics=metrics,
            ingest=ingest,
            control=ControlServer(data_dir.control_socket, sink.query),
            geoip=geoip,
            backends=backends.writers,
            followers=followers,
        )

    def backup(self, request: dict[str, object]) -> bytes:
        """The control socket's ``backup``: the store and spool as of one moment, the writer
        held between two batches meanwhile (requests are still taken)."""
        target = Path(str(request["dir"]))
        embedded = not self.settings.clickhouse_url
        with contextlib.ExitStack() as held:
            held.enter_context(self._backup_lock)
            for writer in (self.writer, *self.followers):
                held.enter_context(writer.paused(BACKUP_PAUSE_SECONDS))
            manifest = write_backup(
                target,
                self.data_dir,
                self.sink.query if embedded else None,
                self.settings.database,
            )
        return manifest.to_json()

    def _offsets(self, request: dict[str, object]) -> bytes:
        """The ``offsets`` control command: `accepted` and `stored` (a worker's forget)."""
        return orjson.dumps({"accepted": self.accepted(), "stored": self.stored()})

    def _health(self, request: dict[str, object]) -> bytes:
        """The ``health`` control command: the store's health, for a worker's `/health`."""
        healthy = self.check_health()
        return orjson.dumps(
            {
                "ok": healthy,
                "error": self.health_error,
                "problems": self.problems(),
                "queued_rows": self.metrics.queued_items,
            }
        )

    def _metrics(self, request: dict[str, object]) -> bytes:
        spool_root = self.data_dir.root / "spool"
        return metrics_answer(self.metrics, spool_root, str(request.get("format", "json")))

    def accepted(self) -> dict[str, int]:
        """Where each spool ends now: this process's (``""``) and every worker's (a forget
        waits until `stored` has reached them all)."""
        ends = {"": self.spool.end}
        for follower in self.followers:
            ends[spool_name(follower)] = follower.spool.end
        return ends

    def stored(self) -> dict[str, int]:
        """How far each spool's rows are stored in every store (`accepted`'s names)."""
        done = {"": min(writer.safe for writer in (self.writer, *self.backends))}
        for follower in self.followers:
            done[spool_name(follower)] = follower.safe
        return done

    def metrics_json(self) -> dict[str, Any]:
        return self.metrics.as_json()

    def metrics_text(self) -> bytes:
        return prometheus_text(self.metrics)

    async def start(self) -> None:
        self.control.commands["backup"] = self.backup
        self.control.commands["offsets"] = self._offsets
        self.control.commands["health"] = self._health
        self.control.commands["metrics"] = self._metrics
        try:
            # Opens the store, or keeps trying while the spool takes traffic (unless Critical).
            service = self.settings.clickhouse
            for backend in self.backends:
                backend.sink.open()  # local checks only: brokers and APIs connect on first write
            self.writer.start(require_store=bool(service and service.critical))
            for backend in self.backends:
                backend.start()
            for follower in self.followers:
                follower.start()
            await self.control.start()
            if self.geoip is not None:
                self.geoip.start()  # on its own thread: a CSV conversion must not hold the listener
            for source in self.sources:
                await source.start()
        except BaseException:
            self.spool.close()
            for follower in self.followers:
                follower.spool.close()
            self.sink.close()
            for backend in self.backends:
                backend.sink.close()
            self.lock.release()
            raise
        self.metrics.health_status = "healthy" if self.writer.opener.is_open else "unhealthy"
        self._started = True
        for line in describe(self.settings, self.data_dir):
            log.info("%s", line)

    async def stop(self) -> None:
        """Admission has stopped (the listeners are closed): drain within the deadline."""
        if not self._started:
            return
        self._started = False
        began = time.monotonic()
        rows, batches = self.metrics.total_items, self.metrics.total_batches
        for source in self.sources:
            await source.stop()
        await self.control.stop()
        timeout = self.settings.shutdown_timeout_seconds
        writers = (self.writer, *self.backends, *self.followers)
        for writer in writers:  # every sink drains at once, against the same deadline
            writer.begin_stop(timeout)
        landed = [writer.join(timeout) for writer in writers]  # join every one, not the first
        drained = all(landed)
        own = min(writer.safe for writer in (self.writer, *self.backends))
        left = max(self.spool.end - own, 0)
        left += sum(max(w.spool.end - w.safe, 0) for w in self.followers)
        if not drained:
            log.error(
                "shutdown deadline passed: undelivered events stay in the spool for the next start"
            )
        self.spool.close()
        for follower in self.followers:
            follower.spool.close()
        self.sink.close()
        for backend in self.backends:
            backend.sink.close()
        self.lock.release()
        m = self.metrics
        log.info(
            "stopped in %.2f s: wrote %s in %s while stopping; since the start, %s accepted "
            "and %s written; %s",
            time.monotonic() - began,
            plural(m.total_items - rows, "row"),
            plural(m.total_batches - batches, "batch", "batches"),
            plural(m.event_count, "event"),
            plural(m.total_items, "row"),
            "nothing is left in the spool"
            if drained
            else f"{left} bytes of events stay in the spool for the next start",
        )

    def attach(self, source: Source) -> None:
        """Start ``source`` with the runtime (after the writers) and stop it before them."""
        self.sources.append(source)

    def check_health(self) -> bool:
        """The store answers (checked at most once a second) and nothing in `problems`."""
        now = time.monotonic()
        if now - self._health_at > HEALTH_CACHE_SECONDS:
            answers = self.sink.healthcheck()
            self._store_ok = answers and self.writer.opener.is_open
            self.health_error = health_error(answers, self.writer.opener.state)
            self._health_at = now
        self._healthy = self._store_ok and not self.problems()
        self.metrics.health_status = "healthy" if self._healthy else "unhealthy"
        return self._healthy

    def problems(self) -> list[str]:
        """What keeps events from being taken or stored, besides the store's own health check:
        a writer that cannot make progress, a spool that cannot take writes."""
        out = [
            f"the {writer.sink.name} writer cannot make progress: {writer.failing}"
            for writer in (self.writer, *self.backends, *self.followers)
            if writer.failing is not None
        ]
        if (reason := self.spool.refusing()) is not None:
            out.append(reason)
        return out
