"""The test ClickHouse server (``clickhouse_http``) as a process the tests start, kill and restart.

chDB lets one process own a data directory, so each server is its own process over its own
``tmp_path`` directory. ``kill()`` is a real outage (connections refused); ``start()`` again on
the same port and directory brings the same data back.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent.parent


class ClickHouseProcess:
    def __init__(self, path: Path, users: dict[str, str] | None = None) -> None:
        self.path = path
        self.users = users or {"default": ""}
        self.port = 0  # chosen by the first start, kept by the next ones
        self.process: subprocess.Popen[bytes] | None = None
        self.log = path.parent / f"{path.name}-clickhouse.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def dsn(self, user: str = "default") -> str:
        return f"http://{user}:{self.users[user]}@127.0.0.1:{self.port}"

    def start(self) -> ClickHouseProcess:
        assert self.process is None, "the ClickHouse server is already running"
        args = [sys.executable, "-m", "tests.support.clickhouse_http", "--path", str(self.path)]
        args += ["--port", str(self.port)]
        for user, password in self.users.items():
            args += ["--user", f"{user}:{password}"]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                args,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=log,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()  # blocks until READY or exit
        if not line.startswith("READY "):
            self.process.wait(10)
            self.process = None
            raise AssertionError(
                f"the test ClickHouse server did not start:\n{self.log.read_text()}"
            )
        self.port = int(line.split()[1])
        return self

    def kill(self) -> None:
        """An outage: the process dies at once (kill -9); connections are refused until start()."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self.process = None

    def query(self, sql: str, **params: str) -> list[dict[str, Any]]:
        """Rows of ``sql`` (JSONEachRow), straight from the server, as the tests' own client."""
        user = next(iter(self.users))
        response = httpx.post(
            self.url,
            params={"default_format": "JSONEachRow", **params},
            content=sql.encode(),
            headers={"X-ClickHouse-User": user, "X-ClickHouse-Key": self.users[user]},
            timeout=60,
        )
        if response.status_code != 200:
            raise AssertionError(f"{sql!r} failed ({response.status_code}): {response.text}")
        return [orjson.loads(line) for line in response.content.splitlines() if line.strip()]


_REFERENCE = """
import base64, json, os, sys
from chdb import session
s = session.Session(sys.argv[1])
out = []
for sql, fmt in json.load(sys.stdin):
    try:
        out.append({"data": base64.b64encode(s.query(sql, fmt).bytes()).decode()})
    except Exception as exc:
        out.append({"error": str(exc)})
print(json.dumps(out), flush=True)
os._exit(0)
"""


def chdb_answers(path: Path, queries: list[tuple[str, str]]) -> list[bytes | str]:
    """chDB's own answers to ``queries`` ((sql, format) pairs), run in a process of their own on
    ``path`` (a process may own one chDB path): bytes, or the error text."""
    result = subprocess.run(
        [sys.executable, "-c", _REFERENCE, str(path)],
        input=orjson.dumps(queries),
        capture_output=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"chDB reference run failed: {result.stderr.decode()}")
    answers: list[bytes | str] = []
    for item in orjson.loads(result.stdout):
        answers.append(base64.b64decode(item["data"]) if "data" in item else item["error"])
    return answers
