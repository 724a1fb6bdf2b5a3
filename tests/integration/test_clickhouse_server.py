"""Server mode against a real ClickHouse server: runs only where TRACKER_TEST_CLICKHOUSE_URL is set
(e.g. http://default:@127.0.0.1:8123); this machine has no recent ClickHouse server package."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from tests.conftest import parse_rows, wait_until

from tracker.sinks.clickhouse import ClickHouseServerSink

URL = os.environ.get("TRACKER_TEST_CLICKHOUSE_URL", "")
pytestmark = [
    pytest.mark.clickhouse_server,
    pytest.mark.skipif(not URL, reason="TRACKER_TEST_CLICKHOUSE_URL is not set"),
]


@pytest.fixture
def database() -> Iterator[str]:
    name = f"tracker_test_{secrets.token_hex(4)}"
    yield name
    sink = ClickHouseServerSink(URL, "default")
    sink.query(f"DROP DATABASE IF EXISTS {name}", "TSV")
    sink.close()


def test_a_replayed_batch_is_stored_once_on_the_server(database: str) -> None:
    sink = ClickHouseServerSink(URL, database)
    sink.open()
    lines = [
        orjson.dumps({"eid": f"00000000-0000-0000-0000-{i:012d}", "ename": "e"}) for i in range(100)
    ]
    sink.write("events", lines, token="epoch-events-0-100")
    sink.write("events", lines, token="epoch-events-0-100")
    rows = orjson.loads(sink.query("SELECT count() AS n FROM events", "JSONEachRow"))
    assert int(rows["n"]) == 100
    hits = orjson.loads(sink.query("SELECT count() AS n FROM reqs", "JSONEachRow"))
    assert int(hits["n"]) >= 1
    sink.close()


def test_the_tracker_writes_events_to_the_server(make_server: Any, database: str) -> None:
    config = {
        "ClickHouseUrl": URL,
        "Notify": [{"Service": "clickhouse", "Context": database, "MaxBatchTime": "0.2s"}],
    }
    server = make_server(config=config)
    eid = httpx.post(f"{server.url}/tr/v1/str/", json={"ename": "server_mode"}).json()
    assert server.stop() == 0
    sink = ClickHouseServerSink(URL, database)
    sql = "SELECT toString(eid) AS eid FROM events WHERE ename = 'server_mode'"
    rows = wait_until(
        f"expected 1 row from {sql}",
        lambda: parse_rows(sink.query(sql, "JSONEachRow")),
        lambda rows: len(rows) == 1,
        timeout=10,
    )
    assert rows == [{"eid": eid}]
    sink.close()
