"""Server mode against ClickHouse's HTTP interface (the test server over chDB, a real engine):
the store down at start-up, the store going away under load, a row the server refuses, refused
credentials, the commands, and replayed batches."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from tests.conftest import WAIT, TrackerServer, cli, free_port, wait_until
from tests.support.clickhouse_process import ClickHouseProcess

from tracker.sinks.clickhouse import ClickHouseServerSink

FAST = {
    "Notify": [
        {"Service": "clickhouse", "Context": "sfpla", "MaxBatchSize": 500, "MaxBatchTime": "0.2s"}
    ]
}
OUTAGE_SECONDS = 10  # long enough for the writer's backoff to grow and the circuit to open


@pytest.fixture
def ch(tmp_path: Path) -> Iterator[ClickHouseProcess]:
    server = ClickHouseProcess(tmp_path / "clickhouse")
    yield server
    server.kill()


@pytest.fixture
def start_tracker(tmp_path: Path) -> Iterator[Callable[[ClickHouseProcess], TrackerServer]]:
    """`tracker serve` processes writing to ``ch`` (killed at the end if still running)."""
    servers: list[TrackerServer] = []

    def start(ch: ClickHouseProcess) -> TrackerServer:
        # A trial write 1 s after the circuit opens (default 30 s), so recovery is quick to see.
        env = {"TRACKER_CLICKHOUSE_URL": ch.dsn(), "TRACKER_CIRCUIT_BREAKER_RESET_SECONDS": "1"}
        servers.append(TrackerServer(tmp_path / f"data{len(servers)}", FAST, env))
        return servers[-1].start()

    yield start
    for server in servers:
        if server.running:
            server.stop(signal.SIGKILL)


def stored(ch: ClickHouseProcess, ename: str) -> dict[str, int]:
    """eid -> how often it is stored ({} while the tracker has not created the schema yet)."""
    if not ch.query("SELECT 1 FROM system.tables WHERE database = 'sfpla' AND name = 'events'"):
        return {}
    rows = ch.query(
        "SELECT toString(eid) AS eid, count() AS n FROM sfpla.events "
        f"WHERE ename = '{ename}' GROUP BY eid"
    )
    return {row["eid"]: int(row["n"]) for row in rows}


def wait_stored(ch: ClickHouseProcess, ename: str, ids: set[str], timeout: float = WAIT) -> None:
    wait_until(
        f"all {len(ids)} acknowledged {ename} events are stored",
        lambda: stored(ch, ename),
        lambda rows: ids <= rows.keys(),
        timeout=timeout,
        interval=0.3,
        seen=lambda rows: f"{len(ids - rows.keys())} of them missing",
    )


def test_the_tracker_starts_before_its_store_and_delivers_everything_without_a_restart(
    start_tracker: Callable[[ClickHouseProcess], TrackerServer], ch: ClickHouseProcess
) -> None:
    ch.port = free_port()  # nothing listens there yet
    server = start_tracker(ch)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["error"] == (
            "the store does not answer; events are kept in the spool until it does"
        )
        ids = {client.post("/tr/v1/str/", json={"ename": "early"}).json() for _ in range(30)}
        assert len(ids) == 30  # every one answered 200 with its id, from the spool
        pid = server.process.pid  # type: ignore[union-attr]
        ch.start()
        wait_stored(ch, "early", ids)
        wait_until("/health says healthy", lambda: client.get("/health").status_code, (200).__eq__)
    assert server.running
    assert server.process.pid == pid
    assert stored(ch, "early") == dict.fromkeys(ids, 1)
    assert server.stop() == 0
    log = server.log.read_text()
    assert "the store does not answer" in log
    assert "Traceback" not in log
    assert "urllib3" not in log


async def load(url: str, ename: str, acked: set[str], stop: asyncio.Event) -> None:
    """/str/ events from 8 clients until ``stop``; the acknowledged ids go into ``acked``."""

    async def client(http: httpx.AsyncClient) -> None:
        while not stop.is_set():
            try:
                response = await http.post(f"{url}/tr/v1/str/", json={"ename": ename})
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
                continue
            if response.status_code == 200:
                acked.add(response.json())

    async with httpx.AsyncClient(timeout=10) as http:
        await asyncio.gather(*(client(http) for _ in range(8)))


def test_the_store_going_away_under_load_loses_nothing_and_stores_nothing_twice(
    start_tracker: Callable[[ClickHouseProcess], TrackerServer], ch: ClickHouseProcess
) -> None:
    ch.start()
    server = start_tracker(ch)
    acked: set[str] = set()
    seen: dict[str, Any] = {}

    async def outage() -> None:
        stop = asyncio.Event()
        sending = asyncio.create_task(load(server.url, "outage", acked, stop))
        deadline = time.monotonic() + WAIT
        while len(acked) < 100:
            assert time.monotonic() < deadline, "the load did not start"
            assert not sending.done(), "the load stopped"
            await asyncio.sleep(0.05)
        await asyncio.to_thread(ch.kill)  # the database goes away, mid-load
        before = len(acked)
        await asyncio.sleep(OUTAGE_SECONDS)
        seen["during"] = len(acked) - before
        async with httpx.AsyncClient(timeout=10) as http:
            seen["health"] = (await http.get(f"{server.url}/health")).status_code
        await asyncio.to_thread(ch.start)  # back, on the same port with the same data
        await asyncio.sleep(1)  # the load goes on while the writer catches up
        stop.set()
        await sending

    asyncio.run(outage())
    assert seen["during"] > 0, "no request was acknowledged while the store was away"
    assert seen["health"] == 503
    wait_stored(ch, "outage", acked, timeout=90)
    counts = stored(ch, "outage")
    assert not acked - counts.keys(), "acknowledged events lost"
    assert {eid: n for eid, n in counts.items() if n != 1} == {}, "events stored twice"
    assert server.stop() == 0


def test_a_row_the_server_refuses_is_dead_lettered_and_the_rest_of_its_batch_stored(
    start_tracker: Callable[[ClickHouseProcess], TrackerServer], ch: ClickHouseProcess
) -> None:
    ch.start()
    server = start_tracker(ch)
    # The schema exists once the tracker answers; the server now refuses one kind of row.
    ch.query("ALTER TABLE sfpla.events ADD CONSTRAINT no_poison CHECK ename != 'poison'")
    body = [{"ename": "batch", "etyp": str(i)} for i in range(50)]
    body.insert(17, {"ename": "poison"})
    ids = httpx.post(f"{server.url}/tr/v1/str/", json=body, timeout=10).json()
    assert len(ids) == 51  # one request, one batch
    good = set(ids[:17] + ids[18:])
    wait_stored(ch, "batch", good)
    assert stored(ch, "poison") == {}
    dead = server.data_dir / "deadletter" / "clickhouse.jsonl"
    letters = wait_until(
        "one dead letter",
        lambda: dead.read_bytes().splitlines() if dead.exists() else [],
        lambda lines: len(lines) == 1,
    )
    letter = orjson.loads(letters[0])
    assert letter["table"] == "events"
    assert "poison" in letter["row"]
    assert "469" in letter["reason"] or "VIOLATED_CONSTRAINT" in letter["reason"]
    assert httpx.get(f"{server.url}/metrics").json()["dropped"]["sink_rejected"] == 1
    assert stored(ch, "batch") == dict.fromkeys(good, 1)


def test_refused_credentials_stop_the_start_up_with_a_clear_message(
    tmp_path: Path, ch: ClickHouseProcess
) -> None:
    ch.users = {"tracker": "right-9f3k"}
    ch.start()
    url = f"http://tracker:wrong-7q2x@127.0.0.1:{ch.port}"
    server = TrackerServer(tmp_path / "data", FAST, {"TRACKER_CLICKHOUSE_URL": url})
    with pytest.raises(AssertionError, match="tracker exited"):
        server.start()
    log = server.log.read_text()
    assert "the store refuses the tracker" in log
    assert "Authentication failed" in log
    assert "wrong-7q2x" not in log  # the password stays out of the log


def test_schema_load_and_query_work_against_the_server(
    tmp_path: Path, ch: ClickHouseProcess
) -> None:
    ch.start()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**FAST, "ClickHouseUrl": ch.dsn()}))
    loaded = cli("schema", "load", str(config), "--data-dir", str(tmp_path / "data"))
    assert f"schema loaded into ClickHouse at 127.0.0.1:{ch.port} (database sfpla)" in loaded.stdout
    assert ch.dsn() not in loaded.stdout + loaded.stderr
    tables = ch.query("SELECT count() AS n FROM system.tables WHERE database = 'sfpla'")
    assert tables[0]["n"] >= 40
    answer = cli("query", str(config), "--format", "JSONEachRow", "SELECT count() AS n FROM events")
    assert orjson.loads(answer.stdout) == {"n": 0}
    bad = cli("query", str(config), "SELECT nope FROM events", check=False)
    assert bad.returncode == 2
    assert "Code: 47" in bad.stderr
    assert "Traceback" not in bad.stderr
    wrong = cli("schema", "load", str(config), "--topology", "cluster", check=False)
    assert wrong.returncode == 2
    assert "--topology is for `schema render`" in wrong.stderr


def test_a_replayed_batch_is_stored_once_with_its_view_counters(ch: ClickHouseProcess) -> None:
    ch.start()
    sink = ClickHouseServerSink(ch.dsn(), "sfpla")
    sink.open()
    lines = [
        orjson.dumps({"eid": f"00000000-0000-0000-0000-{i:012d}", "ename": "e", "url": "//a/"})
        for i in range(100)
    ]
    for _ in range(2):
        sink.write("events", lines, token="epoch-events-0-100")
    assert ch.query("SELECT count() AS n FROM sfpla.events") == [{"n": 100}]
    assert ch.query("SELECT sum(total) AS n FROM sfpla.hits") == [{"n": 100}]
    sink.close()


def test_a_critical_store_that_does_not_answer_stops_the_start_up(tmp_path: Path) -> None:
    """`Critical: true` on the ClickHouse entry keeps the Go meaning: no store, no start."""
    critical = {"Notify": [{**FAST["Notify"][0], "Critical": True}]}
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    server = TrackerServer(tmp_path / "data", critical, {"TRACKER_CLICKHOUSE_URL": url})
    with pytest.raises(AssertionError, match="tracker exited"):
        server.start()
    assert "the store does not answer" in server.log.read_text()
