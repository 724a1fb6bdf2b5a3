"""`tracker serve` with `Workers` > 1: one store owner and N HTTP workers, supervised.

The process started by the user is the supervisor; it serves nothing itself. It checks the
settings, prepares what the children share (the IP-hash and dashboard keys, each worker's spool
directory and epoch, a converted GeoIP CSV), takes the listeners' ports (bound with
`SO_REUSEPORT`, never listening, so a `Port` of 0 is resolved once and stays reserved), then starts

* the **owner** (`tracker serve --role owner`): the data-directory lock, the store, a writer per
  spool, the control socket, broker consumers; no HTTP;
* once the owner answers on the control socket, **N workers** (`--role worker --worker-index K
  --listen-ports ...`): uvicorn on every listener with `SO_REUSEPORT`, each with its own spool.

A child that dies (`kill -9`, a crash) is started again after a capped backoff; its spool stays
on disk, so nothing it acknowledged is lost. SIGTERM or SIGINT stops the workers first (they
finish the requests in flight and sync their spools), then the owner (which writes every spool
to the store within `ShutdownTimeoutSeconds`). Children get SIGTERM if the supervisor dies.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

from tracker.cli.common import UsageError
from tracker.config import Settings
from tracker.control import remote_command
from tracker.datadir import DataDir
from tracker.errors import TrackerError
from tracker.spool.shared import SharedState, ensure_epoch, worker_dir

log = logging.getLogger("tracker.supervisor")

PR_SET_PDEATHSIG = 1
OWNER_READY_SECONDS = 300.0  # a store's schema migration may take a while
POLL_SECONDS = 0.1
RESTART_BASE = 0.5  # seconds before a died child is started again, doubling to RESTART_CAP
RESTART_CAP = 30.0
STABLE_SECONDS = 30.0  # a child that ran this long starts again without delay
STOP_GRACE_SECONDS = 60.0  # beyond ShutdownTimeoutSeconds, before a child is killed


def check(settings: Settings) -> None:
    """What `Workers` > 1 cannot do yet: a UsageError saying what to change."""
    n = settings.workers
    if settings.spool_mode != "durable":
        raise UsageError(
            f"Workers {n} needs SpoolMode durable (got {settings.spool_mode!r}): the store owner "
            "reads each worker's spool from disk."
        )
    if settings.use_acme and not settings.use_local_tls:
        raise UsageError(
            f"Workers {n} does not run ACME (UseAcme): use Workers 1, or UseLocalTLS with "
            "certificate files renewed by another tool."
        )
    others = [name for name in ("duckdb", "nats", "facebook") if settings.enabled(name)]
    if others:
        raise UsageError(
            f"Workers {n} writes only the ClickHouse store; the {', '.join(others)} Notify "
            "entries need Workers 1."
        )


def cores() -> int:
    return len(os.sched_getaffinity(0))


def prepare(settings: Settings) -> None:
    """Make once what every child reads, so that no two children race to create it."""
    data_dir = DataDir(settings.data_dir)
    data_dir.create()
    if settings.ip_hash_secret is None:
        data_dir.ip_secret()
    if settings.dashboard and settings.dashboard_secret is None:
        data_dir.dashboard_key()
    for index in range(settings.workers):
        directory = worker_dir(data_dir.root / "spool", index)
        ensure_epoch(directory)
        SharedState(directory).close()
    if settings.workers > cores():
        log.warning(
            "Workers %d is more than the %d cores this process may run on: the workers will "
            "take turns on them",
            settings.workers,
            cores(),
        )
    _convert_geoip(settings)


def _convert_geoip(settings: Settings) -> None:
    """An IP2Location CSV is converted here, once, rather than by every worker at once."""
    from tracker.normalise.geoip.service import NeedsConversion, open_configured
    from tracker.normalise.geoip.service import enabled as geoip_enabled

    if not geoip_enabled(settings):
        return
    try:
        open_configured(settings, persist=True, convert=False)
    except NeedsConversion:
        log.info("converting the GeoIP CSV once for every worker")
        open_configured(settings, persist=True)
    except (OSError, ValueError) as exc:  # each worker reports it and uses its fallback
        log.warning("GeoIP database not checked before the workers start: %s", exc)


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the supervisor dies (even by SIGKILL)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    args: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    next_start: float = 0.0
    codes: list[int] = field(default_factory=list)

    def start(self) -> None:
        self.process = subprocess.Popen(self.args, preexec_fn=_die_with_parent)
        self.started_at = time.monotonic()
        log.info("%s started (PID %d)", self.name, self.process.pid)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def reap(self, now: float) -> bool:
        """True when the child has exited since the last look (and schedules its restart)."""
        if self.process is None or self.process.poll() is None:
            return False
        code = self.process.returncode
        self.codes.append(code)
        self.process = None
        ran = now - self.started_at
        self.failures = 0 if ran >= STABLE_SECONDS else self.failures + 1
        delay = min(RESTART_BASE * 2 ** max(self.failures - 1, 0), RESTART_CAP)
        self.next_start = now + (delay if self.failures else 0.0)
        log.error("%s exited with %d after %.1f s; starting it again", self.name, code, ran)
        return True

    def terminate(self) -> None:
        if self.alive:
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        if self.process is None:
            return 0
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("%s did not stop within %.0f s; killing it", self.name, timeout)
            self.process.kill()
            code = self.process.wait()
        self.process = None
        return code


def child_args(args: argparse.Namespace, settings: Settings, role: list[str]) -> list[str]:
    out = [sys.executable, "-m", "tracker", "serve"]
    if args.config is not None:
        out.append(str(args.config))
    out += ["--data-dir", str(settings.data_dir), "--workers", str(settings.workers)]
    if args.clickhouse_url is not None:
        out += ["--clickhouse-url", args.clickhouse_url]
    if args.host is not None:
        out += ["--host", args.host]
    return out + role


class Supervisor:
    def __init__(self, args: argparse.Namespace, settings: Settings, ports: list[int]) -> None:
        self.settings = settings
        self.socket = DataDir(settings.data_dir).control_socket
        listen = ",".join(map(str, ports))
        self.owner = Child("store owner", child_args(args, settings, ["--role", "owner"]))
        self.workers = [
            Child(
                f"worker {k}",
                child_args(
                    args,
                    settings,
                    ["--role", "worker", "--worker-index", str(k), "--listen-ports", listen],
                ),
            )
            for k in range(settings.workers)
        ]
        self.stopping = False

    def _stop(self, sig: int, frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> int:
        previous = {s: signal.signal(s, self._stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            if not self._start_owner():
                self._shutdown()
                return 1
            for worker in self.workers:
                worker.start()
            self._watch()
            return self._shutdown()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _start_owner(self) -> bool:
        self.owner.start()
        deadline = time.monotonic() + OWNER_READY_SECONDS
        while not self.stopping and time.monotonic() < deadline:
            if not self.owner.alive:
                log.error("the store owner stopped during start-up; see its messages above")
                return False
            try:
                remote_command(self.socket, "health", timeout=5.0)
            except TrackerError:
                time.sleep(POLL_SECONDS)
                continue
            return True
        if not self.stopping:
            log.error("the store owner did not answer within %.0f s", OWNER_READY_SECONDS)
        return False

    def _watch(self) -> None:
        children = [self.owner, *self.workers]
        while not self.stopping:
            now = time.monotonic()
            for child in children:
                child.reap(now)
                if child.process is None and now >= child.next_start and not self.stopping:
                    child.start()
            time.sleep(POLL_SECONDS)

    def _shutdown(self) -> int:
        grace = self.settings.shutdown_timeout_seconds + STOP_GRACE_SECONDS
        for worker in self.workers:
            worker.terminate()
        codes = [worker.wait(grace) for worker in self.workers]
        self.owner.terminate()
        codes.append(self.owner.wait(grace))
        log.info("stopped: every worker and the store owner exited (%s)", codes)
        return 0 if not any(codes) else 1


def reserve_ports(settings: Settings) -> tuple[list[int], list[object]]:
    """The listeners' ports, bound here with `SO_REUSEPORT` (never listening: they take no
    connection) so that a `Port` of 0 is chosen once and every worker binds the same one."""
    from tracker.http.listeners import bind, plan

    sockets = [bind(listener, reuse_port=True) for listener in plan(settings)]
    return [sock.getsockname()[1] for sock in sockets], list(sockets)


def serve_workers(args: argparse.Namespace, settings: Settings) -> int:
    check(settings)
    prepare(settings)
    ports, held = reserve_ports(settings)
    log.info("serving with %d HTTP workers on port(s) %s", settings.workers, ports)
    try:
        return Supervisor(args, settings, ports).run()
    finally:
        for sock in held:
            sock.close()  # type: ignore[attr-defined]


def run_owner(settings: Settings) -> int:
    """The store owner: the runtime without HTTP, until SIGTERM or SIGINT."""
    import asyncio

    from tracker.consume import consumers
    from tracker.runtime import Runtime

    rt = Runtime.build(settings)
    for consumer in consumers(settings, rt.ingest):
        rt.attach(consumer)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await rt.start()
        log.info("store owner ready: control socket %s", rt.data_dir.control_socket)
        await stop.wait()
        await rt.stop()

    asyncio.run(main())
    return 0


def run_worker(settings: Settings, index: int, ports: list[int]) -> int:
    """HTTP worker ``index``: every listener on the supervisor's ports, its own spool."""
    from tracker.http.app import TrackerApp
    from tracker.http.limits import raise_open_files_limit
    from tracker.http.servers import Servers

    raise_open_files_limit()
    header = [("x-tracker-worker", f"{index}/{os.getpid()}")]
    servers = Servers(settings, ports=ports, headers=header)
    servers.bind()
    app = TrackerApp(settings, worker=index)
    return 0 if servers.run(app) else 1


def parse_ports(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part]
    except ValueError:
        raise UsageError(
            f"--listen-ports must be ports separated by commas, got {text!r}"
        ) from None
