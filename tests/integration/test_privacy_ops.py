"""Prune, retention, forget and IP-key rotation on a real chDB store in ``tmp_path``."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import Storage, cli, parse_rows
from tracker.config import Settings, load_settings
from tracker.datadir import DataDir
from tracker.errors import TrackerError
from tracker.plan.event_rows import record
from tracker.privacy import Store, apply_retention, person_tables, prune
from tracker.privacy.prune import state_path
from tracker.privacy.retention import EXEMPT, RETENTION
from tracker.sinks.base import Sink

NOW = datetime.now(UTC).replace(microsecond=0)
OLD = NOW - timedelta(days=90)
OLDER = NOW - timedelta(days=400)  # another month, so another partition
RECENT = NOW - timedelta(days=2)


@pytest.fixture
def sink(tmp_path: Path, store: Storage) -> Iterator[Sink]:
    opened = store.sink(tmp_path / "data")
    yield opened
    opened.close()


def put(sink: Sink, table: str, *rows: dict[str, Any]) -> None:
    sink.write(table, [record(table, row)[1] for row in rows])


def rows(sink: Sink, sql: str) -> list[dict[str, Any]]:
    return parse_rows(sink.query(sql, "JSONEachRow"))


def settings_for(tmp_path: Path, **config: Any) -> Settings:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"ApiVersion": 1, **config}))
    return load_settings(path, env={}, overrides={"DataDir": str(tmp_path / "data")})[0]


def ip_rule(**extra: Any) -> dict[str, Any]:
    fields = [{"Id": "ip", "DestParamHash": "iphash"}, {"Id": "city"}]
    rule = {"Table": "events", "TTL": 30 * 86400, "Fields": fields, **extra}
    return {"Notify": [{"Service": "clickhouse", "Prune": [rule]}]}


def go_hash(value: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha1(value.encode()).digest()).decode()


def event(at: datetime, ip: str = "", **values: Any) -> dict[str, Any]:
    return {"eid": str(uuid.uuid4()), "created_at": at, "ip": ip, **values}


def test_prune_clears_expired_fields_keeps_a_hash_and_spares_recent_and_ignored_rows(
    tmp_path: Path, sink: Sink
) -> None:
    put(
        sink,
        "events",
        event(OLD, "198.51.100.7", city="Oslo", params={"page": 3, "tag": "a"}, cflags=2),
        event(OLD, "198.51.100.8", city="Rome", cflags=1024 | 2),  # CFlagsIgnore: kept as is
        event(RECENT, "198.51.100.9", city="Nice"),  # younger than the TTL
    )
    settings = settings_for(tmp_path, **ip_rule(CFlagsIgnore=[1024, 4096]))
    report = prune(Store(sink.query, "sfpla"), settings)
    assert report.rows == {"events": 1}
    found = {r["city"] or r["params"]["iphash"]: r for r in rows(sink, "SELECT * FROM events")}
    pruned = found[go_hash("198.51.100.7")]
    assert (pruned["ip"], pruned["city"]) == ("", "")
    assert pruned["params"] == {"page": 3, "tag": "a", "iphash": go_hash("198.51.100.7")}
    assert (found["Rome"]["ip"], found["Nice"]["ip"]) == ("198.51.100.8", "198.51.100.9")
    again = prune(Store(sink.query, "sfpla"), settings)  # pruned rows are not touched twice
    assert again.rows == {}
    assert not state_path(settings.data_dir).exists()


def test_clear_params_replaces_params_with_the_hashes_and_clear_all_deletes(
    tmp_path: Path, sink: Sink
) -> None:
    put(
        sink,
        "events",
        event(OLD, "203.0.113.1", params={"email": "x"}),
        event(RECENT, "203.0.113.2"),
    )
    put(sink, "agreements", {"vid": str(uuid.uuid4()), "created_at": OLD, "cflags": 1})
    put(sink, "agreements", {"vid": str(uuid.uuid4()), "created_at": OLD, "cflags": 8})
    rules = [
        {"Table": "visitors", "TTL": 7 * 86400, "ClearParams": True, "Fields": [{"Id": "ip", "DestParamHash": "h"}]},
        {"Table": "agreements", "TTL": 86400, "ClearAll": True, "CFlagsIgnore": [8]},
    ]  # fmt: skip
    settings = settings_for(tmp_path, Notify=[{"Service": "clickhouse", "Prune": rules}])
    report = prune(Store(sink.query, "sfpla"), settings)
    assert report.rows == {"visitors": 1, "agreements": 1}
    params = [r["params"] for r in rows(sink, "SELECT params FROM events ORDER BY created_at")]
    assert params == [{"h": go_hash("203.0.113.1")}, {}]
    assert [r["cflags"] for r in rows(sink, "SELECT cflags FROM agreements")] == [8]


def test_prune_limit_stops_after_exactly_that_many_rows_and_the_next_run_goes_on(
    tmp_path: Path, sink: Sink
) -> None:
    put(sink, "events", *(event(OLDER + timedelta(minutes=i), f"192.0.2.{i}") for i in range(3)))
    put(sink, "events", *(event(OLD + timedelta(minutes=i), f"192.0.2.{10 + i}") for i in range(4)))
    settings = settings_for(tmp_path, PruneLimit=4, **ip_rule())
    store = Store(sink.query, "sfpla")
    first = prune(store, settings)
    assert (first.rows, first.limit_reached) == ({"events": 4}, True)
    left = rows(sink, "SELECT ip FROM events WHERE ip != '' ORDER BY created_at")
    assert [r["ip"] for r in left] == ["192.0.2.11", "192.0.2.12", "192.0.2.13"]  # oldest first
    assert state_path(settings.data_dir).exists()
    second = prune(store, settings)
    assert (second.rows, second.resumed, second.limit_reached) == ({"events": 3}, True, False)
    assert rows(sink, "SELECT count() AS n FROM events WHERE ip != ''") == [{"n": 0}]
    assert not state_path(settings.data_dir).exists()


def test_a_rule_on_a_key_column_is_refused_before_anything_changes(
    tmp_path: Path, sink: Sink
) -> None:
    put(sink, "events", event(OLD, "192.0.2.1"))
    rules = [
        {"Table": "events", "TTL": 1, "Fields": [{"Id": "ip"}]},
        {"Table": "events", "TTL": 1, "Fields": [{"Id": "eid"}]},
    ]
    settings = settings_for(tmp_path, Notify=[{"Service": "clickhouse", "Prune": rules}])
    with pytest.raises(TrackerError, match="'eid' is part of the table's key"):
        prune(Store(sink.query, "sfpla"), settings)
    assert rows(sink, "SELECT ip FROM events") == [{"ip": "192.0.2.1"}]


@pytest.mark.both_stores
def test_seed_prune_command_runs_the_rules_and_logs_only_prunes_only_logs(
    tmp_path: Path, sink: Sink, store: Storage
) -> None:
    put(sink, "events", event(OLD, "192.0.2.50"))
    put(sink, "logs", {"created_at": OLD, "msg": "old"}, {"created_at": RECENT, "msg": "new"})
    sink.close()
    settings_for(tmp_path, **ip_rule())
    config, data = str(tmp_path / "config.json"), str(tmp_path / "data")
    query = ["query", "--data-dir", data, "--format", "JSONEachRow"]
    both = "SELECT ip, (SELECT groupArray(msg) FROM logs) AS logs FROM events"
    logs_only = cli("--prune", "--logs-only", config, "--data-dir", data, env=store.env)
    assert "prune logs: 1 rows" in logs_only.stdout
    answer = cli(*query, both, env=store.env).stdout
    assert parse_rows(answer) == [{"ip": "192.0.2.50", "logs": ["new"]}]
    full = cli("--prune", config, "--data-dir", data, env=store.env)
    assert "prune events: 1 rows" in full.stdout
    assert parse_rows(cli(*query, both, env=store.env).stdout) == [{"ip": "", "logs": ["new"]}]


def test_retention_sets_ttls_once_and_removes_them_when_unset(sink: Sink) -> None:
    store = Store(sink.query, "sfpla")
    assert set(apply_retention(store, 30)) == set(RETENTION)
    assert store.table_ttl("events") == "created_at + toIntervalDay(30)"
    assert store.table_ttl("dailies") == "day + toIntervalDay(30)"
    assert apply_retention(store, 30) == {}
    assert set(apply_retention(store, 7)) == set(RETENTION)
    assert set(apply_retention(store, None)) == set(RETENTION)
    assert store.table_ttl("events") == ""
    assert apply_retention(store, None) == {}


def test_every_table_holding_people_has_a_retention_decision() -> None:
    undecided = set(person_tables()) - set(RETENTION) - set(EXEMPT)
    assert not undecided, f"add these to RETENTION or EXEMPT in privacy/retention.py: {undecided}"


def test_ip_key_rotation_keeps_the_old_key_and_refuses_a_configured_secret(tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path / "data")
    old = data_dir.ip_secret()
    out = cli("ip-key", "rotate", "--data-dir", str(data_dir.root))
    assert "next starts" in out.stdout
    assert data_dir.ip_secret() != old
    kept = list(data_dir.root.glob("ip-hash.key.2*"))
    assert [bytes.fromhex(path.read_text()) for path in kept] == [old]
    settings_for(tmp_path, IPHashSecret="a configured secret of some length")
    refused = cli("ip-key", "rotate", str(tmp_path / "config.json"), check=False)
    assert refused.returncode == 2
    assert "IPHashSecret" in refused.stderr
