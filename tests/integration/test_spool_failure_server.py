"""A spool the disk refuses, seen from HTTP: 503 with Retry-After, and the server keeps serving.

The `server` fixtures run the tracker in a subprocess, where the disk cannot be faked (the fault
hook, `TRACKER_FAULTS_FILE`, sits at the sink seam, not the spool). So this runs the real ASGI app
under uvicorn on a real socket in a thread of the test process, with the OS boundary of
`tracker.spool.log` faked as in `tests/unit/test_spool_failure.py`. The lifespan is off: the store
(chDB) and the sink writer are not started, only the request path and the spool are exercised.
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import uvicorn
from tests.conftest import free_port, wait_until
from tests.unit.test_spool_failure import FaultyOs, syncers

import tracker.batch.cursor as cursor_module
import tracker.spool.segmented as spool_log
from tracker.config import load_settings
from tracker.http.app import TrackerApp
from tracker.spool import decode
from tracker.spool.segmented import SegmentedLog

WAIT = 10.0  # seconds; only reached when a test fails


class InProcessServer:
    """The app under uvicorn in a thread; with ``lifespan`` the store and the writer run too."""

    def __init__(
        self, data_dir: Path, lifespan: bool = False, config: dict[str, object] | None = None
    ) -> None:
        overrides = {"DataDir": str(data_dir), **(config or {})}
        settings = load_settings(None, env={}, overrides=overrides)[0]
        self.lifespan = lifespan
        self.app = TrackerApp(settings)
        self.url = f"http://127.0.0.1:{free_port()}"
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=int(self.url.rsplit(":", 1)[1]),
            loop="asyncio",
            lifespan="on" if lifespan else "off",
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=1,  # a request stuck on the spool must not hold the stop
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="test-uvicorn", daemon=True)
        self.stopped = False

    def start(self) -> InProcessServer:
        self.thread.start()
        deadline = time.monotonic() + WAIT
        while not self.server.started:
            assert self.thread.is_alive(), "uvicorn exited during start-up"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.server.should_exit = True
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "uvicorn did not stop"
        if self.lifespan:
            return  # the lifespan's shutdown closed everything
        rt = self.app.rt  # what the lifespan's shutdown would close
        rt.spool.close()
        rt.sink.close()
        rt.lock.release()


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> FaultyOs:
    faulty = FaultyOs()
    monkeypatch.setattr(spool_log, "os", faulty)
    return faulty


@pytest.fixture
def served(tmp_path: Path) -> Iterator[InProcessServer]:
    before = set(syncers())
    server = InProcessServer(tmp_path / "data").start()
    try:
        yield server
    finally:
        server.stop()
    assert set(syncers()) <= before, "a spool syncer thread is still running"


@pytest.mark.parametrize(
    ("call", "code"),
    [
        pytest.param("fdatasync", errno.EIO, id="sync-EIO"),
        pytest.param("write", errno.ENOSPC, id="write-ENOSPC"),
    ],
)
def test_a_spool_the_disk_refuses_answers_503_and_the_server_stays_up(
    served: InProcessServer, disk: FaultyOs, tmp_path: Path, call: str, code: int
) -> None:
    with httpx.Client(base_url=served.url, timeout=WAIT) as client:
        assert client.post("/tr/v1/tr/", json={"ename": "before_failure"}).status_code == 200

        disk.arm(call, code)
        for attempt in range(2):  # the failing append, then one refused at once
            refused = client.post("/tr/v1/tr/", json={"ename": f"during_failure_{attempt}"})
            assert refused.status_code == 503
            assert refused.headers["content-type"] == "application/json"
            assert int(refused.headers["retry-after"]) > 0
            body = orjson.loads(refused.content)
            assert body == {"ok": False, "error": body["error"], "status": 503}
            assert isinstance(body["error"], str)
            assert body["error"]

        ping = client.get("/ping")
        assert (ping.status_code, ping.text) == (200, "pong")
        assert served.app.rt.metrics.dropped["spool_error"] == 2
        assert served.app.rt.metrics.dropped["spool_full"] == 0

    served.stop()  # the "restart": the spool directory opened afresh, the disk healthy again
    disk.disarm()
    log = SegmentedLog(tmp_path / "data" / "spool")
    try:
        events = [
            orjson.loads(line)
            for entry in log.read(0, 1 << 20)
            for table, line in decode(entry.payload)
            if table == "events"
        ]
    finally:
        log.close()
    # Nothing answered 503 was kept: a client that retries it makes no duplicate.
    assert [event["ename"] for event in events] == ["before_failure"]


def test_health_is_503_while_the_disk_refuses_and_200_again_without_a_restart(
    tmp_path: Path, disk: FaultyOs
) -> None:
    served = InProcessServer(tmp_path / "data", lifespan=True, config=FAST).start()
    try:
        with httpx.Client(base_url=served.url, timeout=WAIT) as client:
            assert client.get("/health").status_code == 200
            assert client.post("/tr/v1/tr/", json={"ename": "before"}).status_code == 200
            disk.arm("write", errno.ENOSPC)
            assert client.post("/tr/v1/tr/", json={"ename": "refused"}).status_code == 503
            health = client.get("/health")
            assert health.status_code == 503
            assert health.json()["problems"] == [
                "the spool cannot be written (disk error or full disk)"
            ]
            disk.disarm()  # the space comes back
            wait_until(
                "/health is 200 again", lambda: client.get("/health").status_code, (200).__eq__
            )
            assert client.post("/tr/v1/tr/", json={"ename": "after"}).status_code == 200
            rows = wait_until(
                "the event sent after the recovery is stored",
                lambda: stored_names(served),
                lambda names: "after" in names,
            )
            assert rows == ["after", "before"]
    finally:
        served.stop()


def test_health_is_503_while_the_writer_cannot_make_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal_disk = FaultyOs()
    monkeypatch.setattr(cursor_module, "os", journal_disk)
    served = InProcessServer(tmp_path / "data", lifespan=True, config=FAST).start()
    try:
        with httpx.Client(base_url=served.url, timeout=WAIT) as client:
            journal_disk.arm("write", errno.ENOSPC)  # the cursor journal's disk is full
            assert client.post("/tr/v1/tr/", json={"ename": "waits"}).status_code == 200
            health = wait_until(
                "/health is 503", lambda: client.get("/health"), lambda r: r.status_code == 503
            )
            [problem] = health.json()["problems"]
            assert problem.startswith("the clickhouse writer cannot make progress: OSError")
            journal_disk.disarm()
            wait_until(
                "/health is 200 again", lambda: client.get("/health").status_code, (200).__eq__
            )
            wait_until("the event is stored", lambda: stored_names(served), ["waits"].__eq__)
            threads = client.get("/metrics").json()["threads"]
            assert threads["writer-clickhouse"]["restarts"] >= 1
            prometheus = client.get("/metrics?format=prometheus").text
            assert 'tracker_thread_restarts_total{thread="writer-clickhouse"}' in prometheus
    finally:
        served.stop()


FAST = {"MaxBatchTime": "0.1s"}


def stored_names(served: InProcessServer) -> list[str]:
    output = served.app.rt.sink.query("SELECT ename FROM events ORDER BY ename", "JSONEachRow")
    return [orjson.loads(line)["ename"] for line in output.splitlines() if line.strip()]
