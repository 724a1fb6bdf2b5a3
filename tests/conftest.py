"""Shared fixtures: a real tracker process on a real socket, with its store in ``tmp_path``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tracker.control import remote_query

ROOT = Path(__file__).resolve().parent.parent


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
        return parse_rows(
            cli("query", "--data-dir", str(self.data_dir), "--format", "JSONEachRow", sql).stdout
        )

    def wait_for(self, sql: str, expected: int, timeout: float = 30) -> list[dict[str, Any]]:
        """Poll ``sql`` until it returns ``expected`` rows (batches land after their policy's delay).

        The timeout only matters when a test fails; it is generous for a loaded machine.
        """
        deadline = time.monotonic() + timeout
        rows = self.query(sql)
        while len(rows) != expected and time.monotonic() < deadline:
            time.sleep(0.2)
            rows = self.query(sql)
        return rows


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Any]:
    servers: list[TrackerServer] = []

    def make(
        config: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        data_dir: Path | None = None,
    ) -> TrackerServer:
        server = TrackerServer(data_dir or tmp_path / f"data{len(servers)}", config, env)
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
