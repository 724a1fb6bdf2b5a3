"""The tracker started with a config.json written as the Go tracker's shipped one, unchanged,
and the timings of the Go repository's own shell tests against it."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from tests.conftest import TrackerServer, cli

# The shape of the Go tracker's shipped config.json: its ClickHouse entry carries the batching
# keys (BatchFlushInterval in milliseconds), the other backends are disabled (a trailing `_`, or
# Skip), and it names GeoIP files and timeouts this machine does not have or enforce.
GO_SHIPPED: dict[str, Any] = {
    "Domains": ["localhost"],
    "SchemaVersion": 3,
    "ApiVersion": 1,
    "StaticDirectory": "public",
    "MaximumConnections": 150000,
    "ReadTimeoutSeconds": 20,
    "ReadHeaderTimeoutSeconds": 20,
    "WriteTimeoutSeconds": 20,
    "IdleTimeoutSeconds": 20,
    "MaxHeaderBytes": 1048576,
    "AllowOrigin": "*",
    "UseGeoIP": True,
    "IPv4GeoIPZip": "./.setup/geoip/IP2LOCATION-LITE-DB11.CSV.ZIP",
    "IPv4GeoIPCSVDest": "IP2LOCATION-LITE-DB11.CSV",
    "IgnoreQueryParamsKey": "igqp",
    "Notify": [
        {
            "Service": "duckdb_",
            "Skip": True,
            "Context": "./data/duck.db",
            "ProxyRealtimeStorageServiceName": "clickhouse_realtime",
            "ProxyRealtimeStorageServiceTables": 18446744060824649724,
        },
        {
            "Service": "clickhouse",
            "Context": "sfpla",
            "BatchingEnabled": True,
            "MaxBatchSize": 1000,
            "BatchFlushInterval": 1000,
            "EnableCompression": True,
        },
        {"Service": "cassandra_", "Hosts": ["127.0.0.1"], "Context": "sfpla"},
        {"Service": "nats_", "Hosts": ["tls://localhost:4222"], "Context": "toc.track.notify"},
        {"Service": "facebook_", "Context": "123456789"},
    ],
    "Consume": [{"Service": "http_", "Note": "Not implemented"}],
}


@pytest.fixture(scope="module")
def go_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerServer]:
    server = TrackerServer(tmp_path_factory.mktemp("go") / "data", GO_SHIPPED).start()
    yield server
    server.stop()


def messaging_event(tid: str, etyp: str) -> dict[str, Any]:
    return {
        "tid": tid,
        "oid": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
        "vid": "14fb0860-b4bf-11e9-8971-7b80435315ac",
        "ename": "full_field_test",
        "etyp": etyp,
        "subject": "Complete Field Test Subject Line",
        "msg": "A message",
        "provider": "email",
        "medium": "campaign",
        "url": "https://test.com/comprehensive-field-test",
    }


def test_messaging_rows_are_queryable_four_seconds_after_the_posts(
    go_server: TrackerServer,
) -> None:
    """The Go repository's tests/test_comprehensive_fields.sh: three POSTs to /tr/, then
    `sleep 3`, a flush, `sleep 1`, and SELECTs on mthreads, mstore and mtriage."""
    tids = [str(uuid.uuid4()) for _ in range(3)]
    with httpx.Client(base_url=go_server.url, timeout=10) as client:
        for tid, etyp in zip(tids, ("conversion", "high_value_action", "conversion"), strict=True):
            assert client.post("/tr/v1/tr/", json=messaging_event(tid, etyp)).status_code == 200
    posted = time.monotonic()
    listed = ", ".join(f"'{tid}'" for tid in tids)
    for table in ("mthreads", "mstore", "mtriage"):
        left = max(posted + 4.0 - time.monotonic(), 0.0)
        go_server.wait_for(f"SELECT tid FROM {table} WHERE tid IN ({listed})", 3, timeout=left)


def test_batch_flush_interval_1000_is_one_second(go_server: TrackerServer) -> None:
    """With the shipped `"BatchFlushInterval": 1000`, an events batch waits a second, not 1000 s
    (the first row after a quiet spell is written at once, so the second one shows the age)."""
    marker = uuid.uuid4().hex
    for n in range(2):
        body = {"ename": f"{marker}-{n}", "etyp": "view"}
        assert httpx.post(f"{go_server.url}/tr/v1/str/", json=body, timeout=10).status_code == 200
        go_server.wait_for(
            f"SELECT eid FROM events WHERE ename LIKE '{marker}-%'", n + 1, timeout=10
        )


def test_the_go_trackers_shipped_config_starts_without_a_warning(go_server: TrackerServer) -> None:
    # duckdb_ with Skip is never read, as in Go; WriteTimeoutSeconds is enforced.
    log = go_server.log.read_text()
    assert [line for line in log.splitlines() if "warning:" in line] == []


def test_other_commands_do_not_repeat_the_warnings_and_take_sql_and_config_in_either_order(
    go_server: TrackerServer,
) -> None:
    assert go_server.config_path is not None
    config, data = str(go_server.config_path), ("--data-dir", str(go_server.data_dir))
    for args in (
        ("query", config, "SELECT 1 AS one", "--format", "TSV", *data),
        ("query", "SELECT 1 AS one", config, "--format", "TSV", *data),  # the wrong order
    ):
        result = cli(*args)
        assert (result.stdout, result.stderr) == ("one\n1\n", ""), args


def test_geoip_lookup_falls_back_as_serve_does(go_server: TrackerServer) -> None:
    """The config names an IP2Location zip this machine lacks: serve answers from the built-in
    countries, and so does `geoip lookup`, with the same one warning."""
    assert go_server.config_path is not None
    warning = (
        "GeoIP database not loaded ([Errno 2] No such file or directory: "
        "'.setup/geoip/IP2LOCATION-LITE-DB11.CSV.ZIP'); using built-in countries (iptocc)"
    )
    result = cli("geoip", "lookup", "8.8.8.8", str(go_server.config_path), "--data-dir",
                 str(go_server.data_dir))  # fmt: skip
    assert result.stderr == f"tracker: warning: {warning}\n"
    assert orjson.loads(result.stdout)["country"] == "United States"
    served = httpx.get(f"{go_server.url}/tr/v1/ppi/geoip", params={"ip": "8.8.8.8"}, timeout=10)
    assert served.json() == orjson.loads(result.stdout)
    assert go_server.log.read_text().count(warning) == 1


def test_prometheus_metrics_have_process_metrics_and_latency_per_route(
    go_server: TrackerServer,
) -> None:
    def count(text: str, route: str) -> float:
        found = re.search(rf'^tracker_request_duration_seconds_count{{route="{route}"}} (\S+)$',
                          text, re.MULTILINE)  # fmt: skip
        return float(found[1]) if found else 0.0

    url = go_server.url
    before = httpx.get(f"{url}/metrics", params={"format": "prometheus"}, timeout=10).text
    assert httpx.post(f"{url}/tr/v1/tr/", json={"ename": "m"}, timeout=10).status_code == 200
    assert httpx.get(f"{url}/health", timeout=10).status_code == 200
    assert httpx.get(f"{url}/no-such-short-link", timeout=10).status_code == 404
    text = httpx.get(f"{url}/metrics", headers={"Accept": "text/plain"}, timeout=10).text
    for route in ("/tr/v1/tr/", "/health", "/{rest:path}"):
        assert count(text, route) == count(before, route) + 1, route
    assert re.search(r'^tracker_request_duration_seconds_bucket\{le="0.005",route="/health"\} ',
                     text, re.MULTILINE)  # fmt: skip
    for name in ("process_resident_memory_bytes", "process_cpu_seconds_total",
                 "process_open_fds", "python_info{"):  # fmt: skip
        assert re.search(rf"^{re.escape(name)}", text, re.MULTILINE), name
