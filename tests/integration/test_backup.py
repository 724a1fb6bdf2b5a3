"""`tracker backup` / `tracker restore`: a restored data directory holds every acknowledged event
once, whether the backup was taken of a stopped store or of a running server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
from tests.conftest import FAST_BATCHES, TrackerServer, cli

# Five rows make a batch; fewer wait 30 s, in the spool only.
SLOW_BATCHES = {
    "ApiVersion": 1,
    "Notify": [
        {"Service": "clickhouse", "Context": "sfpla", "MaxBatchSize": 5, "MaxBatchTime": "30s"}
    ],
}


def send(server: TrackerServer, names: list[str]) -> list[str]:
    eids = []
    for name in names:
        answer = httpx.post(f"{server.url}/tr/v1/str/", json={"ename": name}, timeout=10)
        assert answer.status_code == 200
        eids.append(answer.json())
    return eids


def stored(data_dir: Path, sql: str) -> list[dict[str, Any]]:
    out = cli("query", "--data-dir", str(data_dir), "--format", "JSONEachRow", sql).stdout
    return [orjson.loads(line) for line in out.splitlines() if line]


def test_a_stopped_store_is_restored_into_a_fresh_directory_with_its_counts_and_keys(
    make_server: Any, tmp_path: Path
) -> None:
    server: TrackerServer = make_server(config=FAST_BATCHES)
    send(server, ["a", "b", "c"])
    sql = "SELECT ename, toString(eid) AS eid FROM events ORDER BY ename"
    before = server.wait_for(sql, 3)
    assert server.stop() == 0
    backup, restored = tmp_path / "backup", tmp_path / "restored"

    saved = cli("backup", str(backup), "--data-dir", str(server.data_dir))
    assert "3 events" in saved.stdout
    assert cli("restore", str(backup), "--data-dir", str(restored)).returncode == 0

    assert stored(restored, sql) == before
    assert [row["ename"] for row in before] == ["a", "b", "c"]
    key = (restored / "ip-hash.key").read_text()
    assert key == (server.data_dir / "ip-hash.key").read_text()
    assert (restored / "ip-hash.key").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in (restored / "spool").iterdir()) == sorted(
        p.name for p in (server.data_dir / "spool").iterdir()
    )
    again = cli("restore", str(backup), "--data-dir", str(restored), check=False)
    assert again.returncode == 2
    assert "already holds a clickhouse" in again.stderr


def test_a_backup_of_a_running_server_holds_every_event_acknowledged_before_it_once(
    make_server: Any, tmp_path: Path
) -> None:
    server: TrackerServer = make_server(config=SLOW_BATCHES)
    first = send(server, [f"stored{i}" for i in range(5)])  # a whole batch: written at once
    server.wait_for("SELECT eid FROM events", 5)
    queued = send(server, [f"queued{i}" for i in range(4)])  # held 30 s: only in the spool
    assert server.query("SELECT count() AS n FROM events") == [{"n": 5}]
    backup = tmp_path / "backup"

    saved = cli("backup", str(backup), "--data-dir", str(server.data_dir))  # via the socket
    later = send(server, ["after"])  # taken while the writer resumes: not in the backup

    assert "5 events" in saved.stdout
    assert server.stop() == 0
    restored = tmp_path / "restored"
    cli("restore", str(backup), "--data-dir", str(restored))
    again = make_server(config=FAST_BATCHES, data_dir=restored)  # writes the spool's rows
    rows = again.wait_for("SELECT toString(eid) AS eid FROM events", 9)
    assert sorted(row["eid"] for row in rows) == sorted(first + queued)
    assert later[0] not in {row["eid"] for row in rows}
