"""The processes of a benchmark: a server pinned to one core, a load generator pinned to another.

`Server` starts `tracker serve` (or the floor app) under ``taskset``, samples its CPU time and peak
RSS from ``/proc``, and stops it with SIGTERM (graceful: everything queued is written). `run_wrk`
and `run_ws` drive load and return the counts the Lua scripts (or the WebSocket client) printed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
WRK_SCRIPTS = BENCH / "wrk"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(core: int | str | None, argv: list[str]) -> list[str]:
    return argv if core is None else ["taskset", "-c", str(core), *argv]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of every thread of ``pid`` so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15)


def tree_cpu_seconds(pid: int) -> float:
    """`cpu_seconds` of ``pid`` and every process below it (`Workers` > 1: the supervisor, the
    store owner and the HTTP workers); a child that ended since is not counted."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += cpu_seconds(current)
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue  # it ended meanwhile
        todo += [int(child) for child in children]
    return total


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Server:
    """One server process; ``argv`` gets ``--port`` appended by `start`."""

    name: str
    argv: list[str]
    log_path: Path
    core: int | str | None
    env: dict[str, str] | None = None  # added to this process's environment
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 90.0) -> Server:
        self.port = free_port()
        argv = pinned(self.core, [*self.argv, "--port", str(self.port)])
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(self.env or {})}
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(self.url + "/ping", timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(
            f"{self.name} did not answer /ping within {timeout} s; see {self.log_path}"
        )

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as answer:
            return json.loads(answer.read())

    def stop(self, timeout: float = 180.0) -> int:
        """SIGTERM and wait: the tracker drains its spool into the store before it exits."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            code = -9
        self.process = None
        return code

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


def tracker_server(
    data_dir: Path, config: dict[str, Any], core: int | str | None, source: Path | None = None
) -> Server:
    """`tracker serve`; ``source`` runs another checkout's ``src`` (a baseline to compare with)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config_path = data_dir.parent / f"{data_dir.name}.json"
    config_path.write_text(json.dumps(config))
    argv = [sys.executable, "-m", "tracker", "serve", str(config_path)]
    argv += ["--host", "127.0.0.1", "--data-dir", str(data_dir)]
    env = {"PYTHONPATH": str(source)} if source is not None else None
    return Server("tracker", argv, data_dir.parent / f"{data_dir.name}.log", core, env)


def floor_server(work: Path, core: int | None) -> Server:
    argv = [sys.executable, str(BENCH / "floor_app.py"), "--host", "127.0.0.1"]
    return Server("floor", argv, work / "floor.log", core)


def count_rows(data_dir: Path, sql: str) -> int:
    """A count from the stopped tracker's store, through `tracker query` as a user would."""
    config_path = data_dir.parent / f"{data_dir.name}.json"
    argv = [sys.executable, "-m", "tracker", "query", str(config_path), sql]
    argv += ["--data-dir", str(data_dir), "--format", "TabSeparated"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"tracker query failed: {result.stderr.strip()}")
    return int(result.stdout.strip())


def run_wrk(
    url: str,
    script: str,
    *,
    seconds: float,
    per_request: int,
    connections: int,
    core: int | None,
    grace: float = 5.0,
) -> dict[str, Any]:
    """Send for ``seconds``, then let the last answers arrive; the counts the script printed."""
    duration = max(int(seconds + grace + 0.999), 1)
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    argv += ["-s", str(WRK_SCRIPTS / script), url, "--", str(seconds), str(per_request)]
    result = subprocess.run(
        pinned(core, argv), capture_output=True, text=True, timeout=duration + 60, check=False
    )
    for line in result.stdout.splitlines():
        if line.startswith("BENCH "):
            counts: dict[str, Any] = json.loads(line[len("BENCH ") :])
            counts["wrk_output"] = result.stdout
            return counts
    raise RuntimeError(f"wrk printed no summary (exit {result.returncode}): {result.stderr}")


def run_ws(
    url: str, *, seconds: float, per_frame: int, connections: int, core: int | None
) -> dict[str, Any]:
    """The WebSocket LZ4 client (`ws_client.py`) for ``seconds``; the counts it printed."""
    ws_url = url.replace("http://", "ws://") + "/tr/v1/ws"
    argv = [sys.executable, str(BENCH / "ws_client.py"), ws_url]
    argv += ["--seconds", str(seconds), "--per-frame", str(per_frame)]
    argv += ["--connections", str(connections)]
    result = subprocess.run(
        pinned(core, argv), capture_output=True, text=True, timeout=seconds + 400, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"ws_client failed: {result.stderr.strip()}")
    counts: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return counts


def missing_tools() -> list[str]:
    return [tool for tool in ("wrk", "taskset") if shutil.which(tool) is None]
