"""Nothing acknowledged is lost: crashes, a failing store, a full spool (real server processes)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import WAIT, TrackerServer, wait_until

FAST = {
    "Notify": [
        {"Service": "clickhouse", "Context": "sfpla", "MaxBatchSize": 200, "MaxBatchTime": "0.2s"}
    ]
}


async def hammer(url: str, acked: set[str], stop: asyncio.Event, concurrency: int = 32) -> None:
    """Send /str/ events as fast as the server takes them until ``stop`` is set; each worker
    finishes the request it has in flight. The acknowledged event ids go into ``acked``."""

    async def worker(client: httpx.AsyncClient, n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                response = await client.post(
                    f"{url}/tr/v1/str/", json={"ename": "crash_test", "etyp": f"w{n}-{i}"}
                )
            except httpx.HTTPError:
                await asyncio.sleep(0.01)
                continue
            if response.status_code == 200:
                acked.add(response.json())

    async with httpx.AsyncClient(timeout=5) as client:
        await asyncio.gather(*(worker(client, n) for n in range(concurrency)))


def stored_counts(server: TrackerServer) -> dict[str, int]:
    rows = server.query(
        "SELECT toString(eid) AS eid, count() AS n FROM events WHERE ename = 'crash_test' GROUP BY eid"
    )
    return {row["eid"]: int(row["n"]) for row in rows}


def wait_stored(server: TrackerServer, ids: Collection[str], timeout: float = WAIT) -> None:
    """Wait until every one of ``ids`` is stored (how often is for the caller to check)."""
    wanted = set(ids)
    wait_until(
        f"all {len(wanted)} acknowledged events are stored",
        lambda: stored_counts(server),
        lambda stored: wanted <= stored.keys(),
        timeout=timeout,
        interval=0.3,
        seen=lambda stored: f"{len(wanted - stored.keys())} of them missing",
    )


@pytest.mark.both_stores
def test_every_acknowledged_event_survives_kill_9_exactly_once(
    make_server: Any, tmp_path: Path
) -> None:
    server: TrackerServer = make_server(config=FAST)
    acked: set[str] = set()

    async def crash() -> None:
        stop = asyncio.Event()
        sending = asyncio.create_task(hammer(server.url, acked, stop))
        deadline = time.monotonic() + WAIT
        while len(acked) < 200:  # into the load: a full batch's worth (MaxBatchSize) acknowledged
            assert time.monotonic() < deadline, f"200 events acknowledged: only {len(acked)}"
            assert not sending.done(), "the load stopped early"
            await asyncio.sleep(0.01)
        assert server.process is not None
        server.process.send_signal(signal.SIGKILL)  # with 32 requests in flight
        stop.set()
        await sending

    asyncio.run(crash())
    server.process.wait(10)  # type: ignore[union-attr]
    server.process = None

    again: TrackerServer = make_server(config=FAST, data_dir=server.data_dir)
    wait_stored(again, acked, timeout=60)  # replayed by the running tracker, not by its shutdown
    assert again.stop() == 0
    stored = stored_counts(again)
    missing = acked - stored.keys()
    assert not missing, f"{len(missing)} acknowledged events lost"
    duplicated = {eid: n for eid, n in stored.items() if n != 1}
    assert not duplicated, f"{len(duplicated)} events stored more than once"


def test_a_failing_store_opens_the_circuit_and_everything_lands_after_recovery(
    make_server: Any, tmp_path: Path
) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"unreachable": True}))
    config = {**FAST, "CircuitBreakerFailures": 2, "CircuitBreakerResetSeconds": 0.5}
    server: TrackerServer = make_server(config=config, env={"TRACKER_FAULTS_FILE": str(faults)})
    with httpx.Client(base_url=server.url) as client:
        ids = [client.post("/tr/v1/str/", json={"ename": "crash_test"}).json() for _ in range(200)]
        sink = wait_until(
            "the circuit trips",
            lambda: client.get("/metrics").json()["spool"]["sinks"].get("clickhouse", {}),
            lambda sink: sink.get("circuit_trips", 0) >= 1,
        )
        assert sink["circuit"] in ("open", "half_open")
        assert client.get("/health").status_code == 503
        text = client.get("/metrics", headers={"Accept": "text/plain"}).text
        assert 'tracker_sink_circuit_open{sink="clickhouse"} 1.0' in text
        assert "tracker_spool_bytes " in text
    assert stored_counts(server) == {}
    faults.unlink()
    wait_stored(server, ids)
    assert stored_counts(server) == dict.fromkeys(ids, 1)
    assert server.stop() == 0


def test_a_full_spool_answers_503_with_retry_after_and_loses_nothing(
    make_server: Any, tmp_path: Path
) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"unreachable": True}))
    config = {**FAST, "SpoolMaxBytes": 40_000, "CircuitBreakerResetSeconds": 0.2}
    server: TrackerServer = make_server(config=config, env={"TRACKER_FAULTS_FILE": str(faults)})
    acked: list[str] = []
    refused = None
    with httpx.Client(base_url=server.url) as client:
        for _ in range(2000):
            response = client.post("/tr/v1/str/", json={"ename": "crash_test"})
            if response.status_code == 503:
                refused = response
                break
            acked.append(response.json())
        assert refused is not None, "the spool never filled"
        assert int(refused.headers["retry-after"]) > 0
        assert refused.json()["ok"] is False
        assert client.get("/metrics").json()["dropped"]["spool_full"] >= 1
        faults.unlink()
        wait_stored(server, acked)
        server.caught_up()  # the writer has also released the spool space (right after storing)
        assert client.post("/tr/v1/str/", json={"ename": "after"}).status_code == 200
    assert stored_counts(server) == dict.fromkeys(acked, 1)
    assert server.stop() == 0


def test_memory_mode_acknowledges_without_a_spool_file(make_server: Any) -> None:
    server: TrackerServer = make_server(config={**FAST, "SpoolMode": "memory"})
    with httpx.Client(base_url=server.url) as client:
        ids = [client.post("/tr/v1/str/", json={"ename": "crash_test"}).json() for _ in range(20)]
    assert server.stop() == 0
    assert not list((server.data_dir / "spool").glob("*.log"))
    assert stored_counts(server) == dict.fromkeys(ids, 1)
