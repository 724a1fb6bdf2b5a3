"""Forgetting a person on a real chDB store: afterwards no table holds their ids."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from conftest import Storage, cli
from tracker.errors import BadRequest
from tracker.normalise.hashing import iphash
from tracker.normalise.ids import ZERO_UUID
from tracker.plan.event_rows import record
from tracker.privacy import Store, forget, person_tables
from tracker.sinks.base import Sink
from tracker.sinks.chdb import ChdbSink

SECRET = b"k" * 32


def put(sink: Sink, table: str, *rows: dict[str, Any]) -> None:
    sink.write(table, [record(table, row)[1] for row in rows])


def everything(sink: Sink) -> dict[str, str]:
    """Every storage table's rows as JSON text, to grep."""
    tables = sink.query(
        "SELECT name FROM system.tables WHERE database = 'sfpla' AND engine LIKE '%MergeTree'",
        "TSV",
    ).split()
    return {
        t.decode(): sink.query(f"SELECT * FROM {t.decode()}", "JSONEachRow").decode()
        for t in tables
    }


def person(sink: Sink, vid: str, uid: str, ip: str, invoice: str) -> None:
    """Rows of one person in every table that can hold them, as the tracker writes them."""
    for table in person_tables():
        if table != "events":
            put(sink, table, {"vid": vid, "uid": uid, "invid": invoice, "ip": ip})
    put(sink, "events", {"vid": vid, "uid": uid, "ip": ip, "iphash": iphash(ip, SECRET)})
    put(sink, "dailies", {"ip": ip}, {"ip": iphash(ip, SECRET)})
    put(
        sink,
        "ltv",
        {"id": vid, "id_type": "vid", "paid": 5},
        {"id": uid, "id_type": "uid", "paid": 5},
        {"id": invoice, "id_type": "orid", "paid": 5},
    )


@pytest.mark.both_stores
def test_forgetting_a_user_leaves_no_trace_of_them_or_their_visitors_in_any_table(
    tmp_path: Path, store: Storage
) -> None:
    vid, uid, invoice = (str(uuid.uuid4()) for _ in range(3))
    ip = "198.51.100.44"
    second_vid = str(uuid.uuid4())  # linked to the user by userhosts only
    other = [str(uuid.uuid4()) for _ in range(3)]
    sink = store.sink(tmp_path / "data")
    person(sink, vid, uid, ip, invoice)
    person(sink, other[0], other[1], "192.0.2.77", other[2])
    put(sink, "userhosts", {"vid": second_vid, "uid": uid})
    put(sink, "events", {"vid": second_vid, "ip": "203.0.113.9"})
    before = everything(sink)
    sink.close()

    out = cli("forget", "--data-dir", str(tmp_path / "data"), "--uid", uid, env=store.env)
    assert "forgot 2 visitor id(s), 1 user id(s)" in out.stdout
    assert "  reqs: 2" in out.stdout  # the view-fed counter of both visitors

    sink = store.sink(tmp_path / "data")
    after = everything(sink)
    secrets = (vid, second_vid, uid, invoice, ip, iphash(ip, SECRET), "203.0.113.9")
    for table, text in after.items():
        assert not [s for s in secrets if s in text], f"{table} still holds the person"
    for table in person_tables():
        assert other[0] in after[table] or other[1] in after[table], table
    assert before["ips"].count("192.0.2.77") == after["ips"].count("192.0.2.77") == 1
    assert other[2] in after["ltv"]
    sink.close()


def test_forgetting_a_visitor_removes_only_that_visitor_and_the_zero_uuid_is_refused(
    tmp_path: Path,
) -> None:
    sink = ChdbSink(tmp_path / "data" / "clickhouse")
    sink.open()
    gone, kept = str(uuid.uuid4()), str(uuid.uuid4())
    put(sink, "events", {"vid": gone}, {"vid": gone}, {"vid": kept}, {})
    put(sink, "agreements", {"vid": gone})
    store = Store(sink.query, "sfpla")
    report = forget(store, vid=uuid.UUID(gone))
    assert {t: n for t, n in report.removed.items() if n} == {
        "events": 2,
        "dashboard_events": 2,  # the dashboard's copy of the events
        "reqs": 1,  # one counter row: the view's two +1 were summed as they were written
        "agreements": 1,
    }
    vids = sink.query("SELECT vid FROM events ORDER BY vid", "TSV").decode().split()
    assert sorted(vids) == sorted([kept, str(ZERO_UUID)])
    with pytest.raises(BadRequest, match="zero UUID"):
        forget(store, vid=ZERO_UUID)
    sink.close()
    refused = cli("forget", "--data-dir", str(tmp_path / "data"), "--vid", "nope", check=False)
    assert refused.returncode == 2
    assert "is not a UUID" in refused.stderr
