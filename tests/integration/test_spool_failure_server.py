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
from tests.conftest import free_port
from tests.unit.test_spool_failure import FaultyOs, syncers

import tracker.spool.segmented as spool_log
from tracker.config import load_settings
from tracker.http.app import TrackerApp
from tracker.spool import decode
from tracker.spool.segmented import SegmentedLog

WAIT = 10.0  # seconds; only reached when a test fails


class InProcessServer:
    def __init__(self, data_dir: Path) -> None:
        settings = load_settings(None, env={}, overrides={"DataDir": str(data_dir)})[0]
        self.app = TrackerApp(settings)
        self.url = f"http://127.0.0.1:{free_port()}"
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=int(self.url.rsplit(":", 1)[1]),
            loop="asyncio",
            lifespan="off",
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
        assert disk.calls == 1  # the second was refused without touching the disk

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
    assert events[0]["ename"] == "before_failure"
    assert all(event["ename"] != "during_failure_1" for event in events)  # never even queued
