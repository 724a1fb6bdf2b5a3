"""All four Notify backends at once: an event reaches every one, and one backend's outage neither
loses events nor holds back the others (ClickHouse, DuckDB with S3, NATS, Facebook)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from tests.conftest import TrackerServer, wait_until
from tests.integration.backends import GraphApi, MotoServer, NatsServer, TcpGate, metrics
from tests.integration.test_duckdb import BUCKET, parquet_eids

SUBJECT = "toc.track.notify"
PROMPT = 8.0  # seconds: a backend that is not held back stores an event well within this


def test_an_event_reaches_all_four_backends_and_an_outage_holds_back_none_of_the_others(
    make_server: Any,
    nats_server: NatsServer,
    moto_server: MotoServer,
    graph_api: GraphApi,
    tmp_path: Path,
) -> None:
    nats_server.add_stream("TRACK", [SUBJECT])
    moto_server.client().create_bucket(Bucket=BUCKET)
    gate = TcpGate(moto_server.port).open()
    faults = tmp_path / "faults.json"
    config = {
        "CFlagsIgnore": True,
        "CircuitBreakerResetSeconds": 0.5,
        "S3Bucket": BUCKET,
        "S3Prefix": "all",
        "S3Region": "us-east-1",
        "S3AccessKeyID": "test",
        "S3SecretAccessKey": "test",
        "S3EndpointUrl": gate.url,
        "HealthCheckInterval": 1,
        "Notify": [
            {"Service": "clickhouse", "MaxBatchSize": 200, "MaxBatchTime": "0.2s"},
            {"Service": "duckdb", "MaxBatchTime": "0.2s"},
            {"Service": "nats", "Hosts": [nats_server.url], "Context": SUBJECT, "Timeout": 1000},
            {
                "Service": "facebook",
                "Context": "1234567890",
                "Key": "token",
                "GraphApiUrl": graph_api.url,
                "MaxBatchTime": "0.2s",
                "AttemptAll": True,
            },
        ],
    }
    tracker: TrackerServer = make_server(config=config, env={"TRACKER_FAULTS_FILE": str(faults)})
    client = httpx.Client(base_url=tracker.url, headers={"User-Agent": "Mozilla/5.0 test"})

    def send(n: int, name: str) -> list[str]:
        return [client.post("/tr/v1/str/", json={"ename": name}).json() for _ in range(n)]

    def in_clickhouse() -> set[str]:
        return {r["eid"] for r in tracker.query("SELECT toString(eid) AS eid FROM events")}

    def in_nats() -> set[str]:
        return {m["eid"] for m in nats_server.stream_messages("TRACK", SUBJECT)}

    def in_facebook() -> set[str]:
        return {e["event_id"] for e in list(graph_api.accepted)}

    def in_duckdb() -> int:
        return int(metrics(tracker.url)["spool"]["sinks"]["duckdb"]["rows"])

    def in_s3() -> set[str]:
        return {e for eids in parquet_eids(moto_server, tmp_path).values() for e in eids}

    first = set(send(1, "everywhere"))
    for what, probe in (
        ("ClickHouse", in_clickhouse),
        ("NATS", in_nats),
        ("Facebook", in_facebook),
        ("S3", in_s3),
    ):
        wait_until(f"the event in {what}", probe, lambda found: first <= found)
    assert in_duckdb() == 1

    # NATS, the Graph API and S3 go down: ClickHouse and DuckDB keep storing at once.
    nats_server.stop()
    graph_api.down = True
    gate.close()
    started = time.monotonic()
    during = set(send(10, "outage"))
    wait_until(
        "ClickHouse stores during the others' outage",
        in_clickhouse,
        lambda f: during <= f,
        timeout=PROMPT,
    )
    wait_until(
        "DuckDB stores during the others' outage", in_duckdb, lambda n: n == 11, timeout=PROMPT
    )
    assert time.monotonic() - started < PROMPT
    sinks = metrics(tracker.url)["spool"]["sinks"]
    wait_until(
        "NATS and Facebook report failures",
        lambda: metrics(tracker.url)["spool"]["sinks"],
        lambda s: s["nats"]["failed_batches"] >= 1 and s["facebook"]["failed_batches"] >= 1,
    )
    assert sinks["clickhouse"]["failed_batches"] == 0

    # They come back, and ClickHouse goes down: the other three get new events at once.
    nats_server.start()
    graph_api.down = False
    gate.open()
    faults.write_text(json.dumps({"unreachable": True, "sinks": ["clickhouse"]}))
    later = set(send(10, "clickhouse_down"))
    wait_until("NATS has everything", in_nats, lambda f: first | during | later <= f, timeout=30)
    wait_until(
        "Facebook has everything", in_facebook, lambda f: first | during | later <= f, timeout=30
    )
    wait_until("DuckDB has everything", in_duckdb, lambda n: n == 21, timeout=PROMPT)
    assert not later & in_clickhouse()

    faults.unlink()
    everything = first | during | later
    wait_until("ClickHouse has everything", in_clickhouse, lambda f: everything <= f)
    wait_until("S3 has everything", in_s3, lambda f: everything <= f, timeout=30)
    tracker.caught_up()
    sinks = metrics(tracker.url)["spool"]["sinks"]
    assert {name: sinks[name]["cursor_lag_bytes"] for name in sinks} == dict.fromkeys(
        ("clickhouse", "duckdb", "nats", "facebook"), 0
    )
    assert len(in_clickhouse()) == 21
    assert graph_api.problems == []
    text = httpx.get(tracker.url + "/metrics", headers={"Accept": "text/plain"}).text
    for name in ("clickhouse", "duckdb", "nats", "facebook"):
        assert f'tracker_sink_batches_total{{sink="{name}"}}' in text
        assert f'tracker_sink_cursor_lag_bytes{{sink="{name}"}} 0.0' in text
    client.close()
    gate.close()
