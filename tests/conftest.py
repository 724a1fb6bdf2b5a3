"""Shared fixtures: a real tracker process on a real socket, with its store in ``tmp_path``."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import pytest
from tests.support.clickhouse_process import ClickHouseProcess

from tracker.control import remote_query
from tracker.sinks.base import Sink
from tracker.sinks.chdb import ChdbSink
from tracker.sinks.clickhouse import ClickHouseServerSink

# The backend tests' real parts (nats-server, moto's S3, a Graph API stand-in) as fixtures.
pytest_plugins = ("tests.integration.backends",)

ROOT = Path(__file__).resolve().parent.parent
WAIT = 30.0  # seconds; only reached when a test fails, so generous for a loaded machine

T = TypeVar("T")


def wait_until(
    what: str,
    probe: Callable[[], T],
    until: Callable[[T], bool] = bool,
    *,
    timeout: float = WAIT,
    interval: float = 0.05,
    seen: Callable[[T], str] = repr,
) -> T:
    """Call ``probe`` until ``until`` holds for its value, and return that value.

    On timeout raise AssertionError naming ``what`` was awaited and the last value seen (through
    ``seen``): a wait that returned quietly would leave the assertion after it to fail for the
    wrong reason, or to pass on whatever had arrived by then.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if until(value):
            return value
        if time.monotonic() >= deadline:
            shown = seen(value)
            if len(shown) > 2000:
                shown = f"{shown[:2000]}… ({len(shown)} characters)"
            raise AssertionError(f"{what}: not so after {timeout:g} s, last saw {shown}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(
    *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "tracker", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"tracker {' '.join(args)} exited {result.returncode}: {result.stderr}"
        )
    return result


def parse_rows(output: bytes | str) -> list[dict[str, Any]]:
    text = output.decode() if isinstance(output, bytes) else output
    return [orjson.loads(line) for line in text.splitlines() if line.strip()]


class TrackerServer:
    """One `tracker serve` process; `query` works while it runs and after it stopped."""

    def __init__(
        self,
        data_dir: Path,
        config: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path: Path | None = None
        if config is not None:
            self.config_path = data_dir.parent / f"config-{self.port}.json"
            self.config_path.write_text(json.dumps(config))
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"tracker-{self.port}.log"

    def start(self) -> TrackerServer:
        args = [
            sys.executable,
            "-m",
            "tracker",
            "serve",
            "--port",
            str(self.port),
            "--host",
            "127.0.0.1",
            "--data-dir",
            str(self.data_dir),
        ]
        if self.config_path is not None:
            args.append(str(self.config_path))
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"tracker exited {self.process.returncode}:\n{self.log.read_text()}"
                )
            try:
                if httpx.get(self.url + "/ping", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"tracker did not start:\n{self.log.read_text()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self.process = None
        return code

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def query(self, sql: str) -> list[dict[str, Any]]:
        if self.running:
            return parse_rows(remote_query(self.data_dir / "tracker.sock", sql, "JSONEachRow"))
        args = ["query", "--data-dir", str(self.data_dir), "--format", "JSONEachRow", sql]
        if self.config_path is not None:
            args.insert(1, str(self.config_path))
        return parse_rows(cli(*args, env=self.env).stdout)

    def wait_for(self, sql: str, expected: int, timeout: float = WAIT) -> list[dict[str, Any]]:
        """Poll ``sql`` until it returns exactly ``expected`` rows (batches land after their
        policy's delay); raise AssertionError with the last rows seen if it never does."""
        return self.wait_until(
            sql,
            lambda rows: len(rows) == expected,
            f"expected {expected} rows from {sql}",
            timeout=timeout,
        )

    def wait_until(
        self,
        sql: str,
        until: Callable[[list[dict[str, Any]]], bool],
        what: str,
        timeout: float = WAIT,
    ) -> list[dict[str, Any]]:
        """Poll ``sql`` until ``until`` holds for its rows; raise AssertionError naming ``what``
        and the last rows seen if it never does."""
        return wait_until(
            what,
            lambda: self.query(sql),
            until,
            timeout=timeout,
            interval=0.1,
            seen=lambda rows: f"{len(rows)}: {rows!r}",
        )

    def caught_up(self, timeout: float = WAIT) -> None:
        """Wait until every sink has written everything the spool holds (nothing queued, no
        cursor lag), so that every row of every request answered before is stored.

        The writer updates these gauges each time round its loop: call this once a row of the
        last request has landed, when the writer has read that far and a zero lag is not stale.
        """

        def lag() -> dict[str, Any]:
            metrics = httpx.get(self.url + "/metrics", timeout=10).json()
            sinks = metrics["spool"]["sinks"]
            return {
                "queued_items": metrics["batching"]["queued_items"],
                **{name: sink["cursor_lag_bytes"] for name, sink in sinks.items()},
            }

        wait_until(
            "every sink caught up with the spool",
            lag,
            lambda seen: len(seen) > 1 and not any(seen.values()),
            timeout=timeout,
        )


class Storage:
    """Where a test's trackers keep their events: embedded chDB in their data directory, or a
    ClickHouse server (the test HTTP interface over chDB, in its own process)."""

    def __init__(self, kind: str, clickhouse: ClickHouseProcess | None = None) -> None:
        self.kind = kind
        self.clickhouse = clickhouse

    @property
    def env(self) -> dict[str, str]:
        """The environment that points a tracker (or a command) at this store."""
        if self.clickhouse is None:
            return {}
        return {"TRACKER_CLICKHOUSE_URL": self.clickhouse.dsn()}

    def sink(self, data_dir: Path) -> Sink:
        """An opened sink on this store (the embedded one lives under ``data_dir``)."""
        sink: Sink
        if self.clickhouse is None:
            sink = ChdbSink(data_dir / "clickhouse")
        else:
            sink = ClickHouseServerSink(self.clickhouse.dsn())
        sink.open()
        return sink


STORES = ("embedded", "server")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`store_kind` is "embedded", or both kinds for a test marked `both_stores` (module scope:
    a module's trackers are started once per kind)."""
    if "store_kind" in metafunc.fixturenames:
        marked = metafunc.definition.get_closest_marker("both_stores") is not None
        metafunc.parametrize("store_kind", STORES if marked else STORES[:1], scope="module")


@contextlib.contextmanager
def open_store(kind: str, root: Path) -> Iterator[Storage]:
    """A store of ``kind``; for "server", a ClickHouse server process over ``root``."""
    if kind == "embedded":
        yield Storage(kind)
        return
    clickhouse = ClickHouseProcess(root / "clickhouse").start()
    try:
        yield Storage(kind, clickhouse)
    finally:
        clickhouse.kill()


@contextlib.contextmanager
def serving(
    kind: str, root: Path, config: dict[str, Any] | None, stop: int = signal.SIGTERM
) -> Iterator[TrackerServer]:
    """A tracker on a store of ``kind``, for a module-scoped fixture; ``stop`` ends it."""
    with open_store(kind, root) as opened:
        server = TrackerServer(root / "data", config, opened.env).start()
        try:
            yield server
        finally:
            if server.running:
                server.stop(stop)


@pytest.fixture
def store(store_kind: str, tmp_path: Path) -> Iterator[Storage]:
    with open_store(store_kind, tmp_path) as opened:
        yield opened


@pytest.fixture
def make_server(tmp_path: Path, store: Storage) -> Iterator[Any]:
    servers: list[TrackerServer] = []

    def make(
        config: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        data_dir: Path | None = None,
    ) -> TrackerServer:
        server = TrackerServer(
            data_dir or tmp_path / f"data{len(servers)}", config, {**store.env, **(env or {})}
        )
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        if server.running:
            server.stop(signal.SIGKILL)


FAST_BATCHES = {
    "ApiVersion": 1,
    "Notify": [
        {"Service": "clickhouse", "Context": "sfpla", "MaxBatchSize": 1000, "MaxBatchTime": "0.2s"}
    ],
}


@pytest.fixture
def server(make_server: Any) -> TrackerServer:
    """A server whose events land within ~0.2 s."""
    result: TrackerServer = make_server(config=FAST_BATCHES)
    return result
