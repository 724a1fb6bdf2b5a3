"""An HTTP worker's runtime (`Workers` > 1, docs/workers.md): its own spool, the store elsewhere.

A worker takes requests exactly as the single process does (`Ingest` appends to a durable spool
and the request is answered once the entry is on disk), but into its own spool,
``<DataDir>/spool/worker-K/``, which the store owner's writer reads (`runtime/owner.py`). What
needs the store on the request path (short links, accounts, forget, the dashboard, `/health`,
`/metrics`) goes to the owner over the control socket: `RemoteSink.query` runs SQL there, and the
``health``, ``offsets`` and ``metrics`` commands answer what the owner alone knows.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from tracker.config import Settings
from tracker.control import remote_command, remote_query
from tracker.datadir import DataDir
from tracker.errors import DataDirInUse, SinkRejected, TrackerError
from tracker.metrics import Metrics, prometheus_text
from tracker.normalise.client import TrustedProxies
from tracker.normalise.geoip.service import GeoService
from tracker.normalise.geoip.service import enabled as geoip_enabled
from tracker.runtime.ingest import Ingest
from tracker.runtime.runtime import HEALTH_CACHE_SECONDS, Source, normalise_context
from tracker.spool import LogSpool
from tracker.spool.shared import SharedState, open_worker_spool, publish_figures, worker_dir

log = logging.getLogger(__name__)

FIGURES_SECONDS = 0.5  # how often a worker publishes its figures and reclaims released space
HEALTH_TIMEOUT = 5.0
OWNER_DOWN = "the store owner process does not answer; events are kept in the workers' spools"


class RemoteSink:
    """The store, reached through the owner's control socket (reads only: a worker's events go
    to its spool, which the owner writes)."""

    name = "clickhouse"

    def __init__(self, socket: Path) -> None:
        self.socket = socket

    def open(self) -> None:
        return None

    def healthcheck(self) -> bool:
        try:
            remote_command(self.socket, "health", timeout=HEALTH_TIMEOUT)
        except TrackerError:
            return False
        return True

    def write(self, table: str, lines: Sequence[bytes], token: str | None = None) -> None:
        raise SinkRejected("an HTTP worker never writes to the store: the owner reads its spool")

    def query(
        self, sql: str, fmt: str = "JSONEachRow", params: Mapping[str, object] | None = None
    ) -> bytes:
        return remote_query(self.socket, sql, fmt, params=params)

    def close(self) -> None:
        return None


class WorkerLock:
    """One process per worker spool: an exclusive ``flock`` on ``worker.lock`` in it."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "worker.lock"
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        handle = open(self.path, "a+")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise DataDirInUse(f"The worker spool {self.path.parent} is in use.") from None
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


@dataclass
class WorkerRuntime:
    settings: Settings
    data_dir: DataDir
    index: int
    lock: WorkerLock
    sink: RemoteSink
    spool: LogSpool
    state: SharedState
    metrics: Metrics
    ingest: Ingest
    geoip: GeoService | None = None
    sources: list[Source] = field(default_factory=list)
    health_error: str = ""
    _health_at: float = 0.0
    _healthy: bool = False
    _owner_problems: list[str] = field(default_factory=list)
    _publisher: asyncio.Task[None] | None = None

    @property
    def directory(self) -> Path:
        return worker_dir(self.data_dir.root / "spool", self.index)

    @classmethod
    def build(cls, settings: Settings, index: int) -> WorkerRuntime:
        data_dir = DataDir(settings.data_dir)
        lock = WorkerLock(worker_dir(data_dir.root / "spool", index))
        lock.acquire()
        try:
            spool, state = open_worker_spool(lock.path.parent, settings.spool_max_bytes)
        except BaseException:
            lock.release()
            raise
        metrics = Metrics()
        geoip = GeoService(settings) if geoip_enabled(settings) else None
        ingest = Ingest(
            normalise_context(settings, data_dir, geoip),
            TrustedProxies(settings.trusted_proxies),
            spool,
            metrics,
            settings.ignore_query_params_key,
        )
        return cls(
            settings=settings,
            data_dir=data_dir,
            index=index,
            lock=lock,
            sink=RemoteSink(data_dir.control_socket),
            spool=spool,
            state=state,
            metrics=metrics,
            ingest=ingest,
            geoip=geoip,
        )

    async def start(self) -> None:
        if self.geoip is not None:
            self.geoip.start()
        self.metrics.health_status = "healthy"
        self._publisher = asyncio.create_task(self._publish_loop())
        log.info("worker %d: spool %s (answered once on disk)", self.index, self.directory)

    async def stop(self) -> None:
        """Admission has stopped: close the spool (a final sync); the owner writes the rest."""
        if self._publisher is not None:
            self._publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publisher
            self._publisher = None
        self.spool.close()
        self._publish()
        self.state.close()
        self.lock.release()
        log.info("worker %d stopped: %d events accepted", self.index, self.metrics.event_count)

    def attach(self, source: Source) -> None:
        self.sources.append(source)

    async def _publish_loop(self) -> None:
        while True:
            await asyncio.sleep(FIGURES_SECONDS)
            try:
                self.spool.release(self.state.released)
                self._publish()
            except OSError as exc:  # supervised: the next round tries again
                log.warning("worker %d: publishing its figures failed: %s", self.index, exc)

    def _publish(self) -> None:
        m = self.metrics
        publish_figures(
            self.directory,
            {
                "pid": os.getpid(),
                "updated": time.time(),
                "event_count": m.event_count,
                "error_count": m.error_count,
                "campaign_events": m.campaign_events,
                "total_latency_ns": m.total_latency_ns,
                "connections": m.connections,
                "last": m.last_processed,
                "dropped": dict(m.dropped),
                "dropped_keys": dict(m.dropped_keys),
                "spool_bytes": self.spool.size_bytes,
            },
        )

    # -- what the owner answers -----------------------------------------------------------------
    def _ask(self, command: str, timeout: float = HEALTH_TIMEOUT, **args: object) -> bytes:
        return remote_command(self.data_dir.control_socket, command, timeout=timeout, **args)

    def check_health(self) -> bool:
        """The owner's health (checked at most once a second) and this worker's spool."""
        now = time.monotonic()
        if now - self._health_at > HEALTH_CACHE_SECONDS:
            try:
                answer = orjson.loads(self._ask("health"))
                owner_ok, self.health_error = bool(answer["ok"]), str(answer["error"])
                self._owner_problems = [str(p) for p in answer["problems"]]
                self.metrics.queued_items = int(answer["queued_rows"])
            except (TrackerError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                owner_ok, self.health_error, self._owner_problems = False, OWNER_DOWN, []
            self._healthy = owner_ok
            self._health_at = now
        healthy = self._healthy and self.spool.refusing() is None
        self.metrics.health_status = "healthy" if healthy else "unhealthy"
        return healthy

    def problems(self) -> list[str]:
        out = list(self._owner_problems)
        if (reason := self.spool.refusing()) is not None:
            out.append(f"worker {self.index}: {reason}")
        return out

    def accepted(self) -> dict[str, int]:
        """Where every spool ends now, as the owner sees them ({} while it does not answer)."""
        return self._offsets().get("accepted", {})

    def stored(self) -> dict[str, int]:
        """How far every spool is stored ({} while the owner does not answer)."""
        return self._offsets().get("stored", {})

    def _offsets(self) -> dict[str, dict[str, int]]:
        try:
            answer = orjson.loads(self._ask("offsets"))
        except (TrackerError, orjson.JSONDecodeError):
            return {}
        return answer if isinstance(answer, dict) else {}

    def metrics_json(self) -> dict[str, Any]:
        """Every worker's request figures added up, with the owner's store figures; this
        worker's own when the owner does not answer (``"error"`` says so)."""
        try:
            body: dict[str, Any] = orjson.loads(self._ask("metrics", format="json"))
        except (TrackerError, orjson.JSONDecodeError):
            body = {**self.metrics.as_json(), "error": OWNER_DOWN}
        body["answered_by"] = {"worker": self.index, "pid": os.getpid()}
        return body

    def metrics_text(self) -> bytes:
        try:
            return self._ask("metrics", format="prometheus")
        except TrackerError:
            return prometheus_text(self.metrics)
