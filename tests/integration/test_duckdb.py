"""DuckDB files, their Parquet export read back with DuckDB, and S3 uploads to moto's server."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path
from typing import Any

import duckdb
import httpx
from tests.conftest import TrackerServer, wait_until
from tests.integration.backends import MotoServer, TcpGate

from tracker.plan.rows import record
from tracker.sinks.duckdb import DuckDbSink, rows
from tracker.sinks.duckdb_export import ExportPolicy

BUCKET = "tracker-archive"


def parquet_eids(moto: MotoServer, tmp_path: Path) -> dict[str, list[str]]:
    """Each uploaded events file's key → the event ids it holds (read back with DuckDB)."""
    client = moto.client()
    found: dict[str, list[str]] = {}
    for key in moto.objects(BUCKET):
        if "/events/" not in key:
            continue
        local = tmp_path / "download" / key
        local.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(BUCKET, key, str(local))
        with duckdb.connect() as con:
            found[key] = [
                str(row[0])
                for row in con.execute("SELECT eid FROM read_parquet(?)", [str(local)]).fetchall()
            ]
    return found


def test_a_shard_rotates_at_its_size_and_its_parquet_files_are_hive_partitioned(
    tmp_path: Path,
) -> None:
    lines = [record("events", {"eid": str(uuid.uuid4()), "ename": "e"})[1] for _ in range(10)]
    size = sum(map(len, lines[:2])) + 1  # more than two rows, fewer than ten
    sink = DuckDbSink(tmp_path / "duckdb", ExportPolicy(interval=3600, max_shard_bytes=size))
    sink.open()
    sink.write("events", lines[:2], "t-1")
    sink.maintain()
    assert not list((tmp_path / "duckdb" / "export").rglob("*.parquet"))  # under the size
    sink.write("events", lines[2:], "t-2")
    sink.write("events", lines[2:], "t-2")  # a replayed batch: stored once
    sink.maintain()
    sink.close()
    files = sorted((tmp_path / "duckdb" / "export").rglob("*.parquet"))
    assert files
    assert all("year=" in str(f) and "/month=" in str(f) and "/day=" in str(f) for f in files)
    with duckdb.connect() as con:
        read = con.execute(
            "SELECT count(*), count(DISTINCT eid), min(year) FROM read_parquet(?, hive_partitioning = true)",
            [str(tmp_path / "duckdb" / "export" / "*" / "events" / "*" / "*" / "*" / "*.parquet")],
        ).fetchall()
    assert read[0][:2] == (10, 10)
    assert rows(tmp_path / "duckdb" / "tracker.duckdb", "SELECT count(*) FROM events") == [(0,)]


def test_events_reach_duckdb_and_s3_and_an_interrupted_upload_resumes_once(
    make_server: Any, moto_server: MotoServer, tmp_path: Path
) -> None:
    moto_server.client().create_bucket(Bucket=BUCKET)
    gate = TcpGate(moto_server.port).open()
    config = {
        "S3Bucket": BUCKET,
        "S3Prefix": "v1/tracker",
        "S3Region": "us-east-1",
        "S3AccessKeyID": "test",
        "S3SecretAccessKey": "test",
        "S3EndpointUrl": gate.url,
        "HealthCheckInterval": 1,
        "Notify": [
            {"Service": "clickhouse", "MaxBatchSize": 200, "MaxBatchTime": "0.2s"},
            {"Service": "duckdb", "MaxBatchTime": "0.2s"},
        ],
    }
    tracker: TrackerServer = make_server(config=config)

    def send(n: int) -> list[str]:
        with httpx.Client(base_url=tracker.url) as client:
            return [client.post("/tr/v1/str/", json={"ename": "duck"}).json() for _ in range(n)]

    first = send(10)
    uploaded = wait_until(
        "the first events in S3",
        lambda: parquet_eids(moto_server, tmp_path),
        lambda found: sorted(e for eids in found.values() for e in eids) == sorted(first),
    )
    before = {key: item["LastModified"] for key, item in moto_server.objects(BUCKET).items()}
    assert all(key.startswith("v1/tracker/events/year=") for key in uploaded)

    gate.close()  # S3 unreachable: the next shard is exported locally, its upload fails
    second = send(10)
    export = tracker.data_dir / "duckdb" / "export"
    wait_until("a shard waiting for its upload", lambda: list(export.rglob("*.parquet")))
    assert tracker.process is not None
    tracker.process.send_signal(signal.SIGKILL)  # the upload is interrupted by a crash
    tracker.process.wait(10)
    tracker.process = None

    gate.open()
    again: TrackerServer = make_server(config=config, data_dir=tracker.data_dir)
    found = wait_until(
        "every event in S3 after the restart",
        lambda: parquet_eids(moto_server, tmp_path),
        lambda found: sorted(e for eids in found.values() for e in eids) == sorted(first + second),
    )
    assert sum(len(eids) for eids in found.values()) == 20  # none twice, none skipped
    after = moto_server.objects(BUCKET)
    assert {key: after[key]["LastModified"] for key in before} == before  # not uploaded again
    assert not list(export.rglob("*.parquet"))  # uploaded files are removed locally
    assert again.stop() == 0
    duck = tracker.data_dir / "duckdb" / "tracker.duckdb"
    assert rows(duck, "SELECT count(*), bool_and(uploaded) FROM _tracker_files")[0][1] is True
    assert again.query("SELECT count() AS n FROM events") == [{"n": "20"}] or again.query(
        "SELECT count() AS n FROM events"
    ) == [{"n": 20}]
    gate.close()
