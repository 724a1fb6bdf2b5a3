"""The dashboard reads ``dashboard_events``, a decoded copy of ``events`` that a materialized view
fills. These tests check that every panel gives the same rows from the copy as from the same
values computed from ``events`` on every query (`RAW_SOURCE`): on the fixed data set, with
events that arrive late and out of order, on a store that held events before the copy existed,
and after a visitor is forgotten or old events are pruned."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests import dashboard_data as data

from tracker.config import load_settings
from tracker.dashboard.filters import Filters
from tracker.dashboard.queries import PANELS
from tracker.dashboard.service import Dashboard
from tracker.dashboard.sql import RAW_SOURCE, Scope
from tracker.privacy import Store, forget
from tracker.privacy.prune import prune
from tracker.privacy.retention import RETENTION
from tracker.sinks.chdb import ChdbSink

VIEWS: list[dict[str, str]] = [
    {"site": data.SITE},
    {"site": data.SITE, "bots": "1"},
    {},  # every site, also events without a URL
    {"site": data.SITE, "range": "30d"},
    {"site": data.SITE, "range": "today"},
    {"site": data.SITE, "page": "/pricing"},
    {"site": data.SITE, "country": "US", "browser": "chrome"},
    {"site": data.SITE, "source": "news"},
    {"site": data.SITE, "referrer": "www.google.com"},
    {"site": data.SITE, "entry": "/", "device": "mobile"},
    {"site": data.SITE, "exit": "/pricing", "event": "reroute"},
    {"site": "other.org"},
]


def write(sink: ChdbSink, table: str, rows: list[dict[str, Any]]) -> None:
    sink.write(table, [orjson.dumps(row) for row in rows])


def fill(sink: ChdbSink) -> None:
    for table, rows in data.TABLES.items():
        write(sink, table, rows)


def everything(board: Dashboard, query: dict[str, str]) -> dict[str, Any]:
    filters = Filters.parse(query, data.TODAY)
    out: dict[str, Any] = {
        "headline": board.headline(filters),
        "realtime": board.realtime(filters),
        "sites": board.sites(),
    }
    for name in PANELS:
        out[name] = board.rows(name, filters, limit=50)
    return out


def boards(sink: ChdbSink) -> tuple[Dashboard, Dashboard]:
    clock = lambda: data.NOW.replace(tzinfo=None)  # noqa: E731
    return Dashboard(sink.query, clock=clock), Dashboard(sink.query, clock=clock, source=RAW_SOURCE)


# Enough views for the tests that change the store: a site, every site, a session filter.
FEW = [VIEWS[0], VIEWS[2], VIEWS[7]]


def assert_same(sink: ChdbSink, views: list[dict[str, str]] = FEW) -> None:
    copy, raw = boards(sink)
    try:
        for query in views:
            copy._sites = raw._sites = None  # the site list is reused for a minute
            assert everything(copy, query) == everything(raw, query), query
    finally:
        copy.close()
        raw.close()


def count(sink: ChdbSink, table: str) -> int:
    return int(sink.query(f"SELECT count() FROM {table}", "TSV"))


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[ChdbSink]:
    store = ChdbSink(tmp_path / "clickhouse")
    store.open()
    yield store
    store.close()


def test_every_panel_reads_from_the_copy_what_events_hold(sink: ChdbSink) -> None:
    fill(sink)
    assert count(sink, "dashboard_events") == count(sink, "events") == len(data.EVENTS)
    assert_same(sink, VIEWS)
    # Not vacuous: the copy's numbers are the ones worked out by hand.
    copy, _ = boards(sink)
    filters = Filters.parse({"site": data.SITE}, data.TODAY)
    assert {row["metric"]: row["value"] for row in copy.headline(filters)}["bounce_rate"] == 0.5
    copy.close()


def test_late_and_out_of_order_events_count_where_they_belong(sink: ChdbSink) -> None:
    # Today's session first, then older events in separate, later inserts, newest first.
    write(sink, "events", list(reversed(data.EVENTS)))
    late = [
        # A session of visitor a from three days ago, sent today, its last event first.
        data.event("a", "H1", "03-13 09:05:00.000", "reroute", f"{data.URL}/docs", **data.NZ),
        data.event(
            "a",
            "H1",
            "03-13 09:00:00.000",
            "load",
            f"{data.URL}/about",
            last="https://late.example/",
            **data.NZ,
        ),
    ]
    write(sink, "events", late[:1])
    write(sink, "events", late[1:])
    assert_same(sink)
    copy, _ = boards(sink)
    filters = Filters.parse({"site": data.SITE}, data.TODAY)
    entry = {row["entry"]: row["sessions"] for row in copy.rows("entry", filters)}
    assert entry["/about"] == 1  # the session's first page by time, not by arrival
    referrers = {row["referrer"]: row["sessions"] for row in copy.rows("referrers", filters)}
    assert referrers["late.example"] == 1
    copy.close()


def test_a_store_with_events_before_the_copy_existed_is_filled_once(tmp_path: Path) -> None:
    path = tmp_path / "clickhouse"
    old = ChdbSink(path)
    old.open()
    fill(old)
    # As a store made before the dashboard had its copy: neither the view nor its rows.
    old.query("DROP TABLE dashboard_events_mv", "TSV")
    old.query("DROP TABLE dashboard_events", "TSV")
    old.close()
    for _ in range(2):  # a second start-up finds the view and copies nothing again
        store = ChdbSink(path)
        store.open()
        assert count(store, "dashboard_events") == len(data.EVENTS)
        store.close()
    store = ChdbSink(path)
    store.open()
    write(store, "events", data.EVENTS[:1])  # the view fires again after the upgrade
    assert count(store, "dashboard_events") == len(data.EVENTS) + 1
    assert_same(store)
    store.close()


def test_a_forgotten_visitor_leaves_the_copy_too(sink: ChdbSink) -> None:
    fill(sink)
    report = forget(Store(sink.query, "sfpla"), vid=uuid.UUID(data.VID["a"]))
    assert report.removed["dashboard_events"] == report.removed["events"] == 5
    held = sink.query("SELECT count() FROM dashboard_events WHERE vid = {v:UUID}", "TSV",
                      {"v": data.VID["a"]})  # fmt: skip
    assert int(held) == 0
    assert_same(sink)


def test_the_copy_is_aged_like_events() -> None:
    assert RETENTION["dashboard_events"] == RETENTION["events"] == "created_at"


def test_headline_visitors_are_those_of_the_selected_sessions(sink: ChdbSink) -> None:
    """The headline counts visitors over the selected events; the definition is the visitors
    of each selected session's selected events, which this computes per session."""
    fill(sink)
    write(sink, "events", [data.event("e", "A1", "03-14 10:01:00.000", "load", f"{data.URL}/x")])
    copy, _ = boards(sink)
    try:
        for query in VIEWS:
            filters = Filters.parse(query, data.TODAY)
            scope = Scope(filters)
            per_session = (
                "SELECT uniqExactArrayIf(vids, hit) AS n FROM (SELECT sid, "
                f"groupUniqArrayIf(vid, {scope.event_filter}) AS vids, "
                f"countIf({scope.event_filter}) > 0 AND {scope.session_filter} AS hit "
                f"FROM {scope.source} WHERE {scope.base} GROUP BY sid)"
            )
            expected = copy.run(per_session, scope.params)[0]["n"]
            got = {row["metric"]: row["value"] for row in copy.headline(filters)}["visitors"]
            assert got == expected, query
    finally:
        copy.close()


def test_a_prune_of_events_is_followed_by_the_copy(tmp_path: Path, sink: ChdbSink) -> None:
    """A rule that deletes old events, sparing some by cflags, and one that clears the URL: the
    copy then holds what events hold (the panels agree) and nothing of what was removed."""
    fill(sink)
    old = {"url": f"{data.URL}/secret", "last": "https://old.example/", "ename": "load"}
    write(sink, "events", [
        {**old, "vid": data.VID["f"], "created_at": "2025-01-02 10:00:00.000"},
        {**old, "vid": data.VID["g"], "created_at": "2025-01-03 10:00:00.000", "cflags": 8},
        {**old, "vid": data.VID["h"], "created_at": "2025-01-04 10:00:00.000"},
    ])  # fmt: skip
    rules = [
        {"Table": "events", "TTL": 300 * 86400, "ClearAll": True, "CFlagsIgnore": [8]},
        {"Table": "events", "TTL": 300 * 86400, "Fields": [{"Id": "url"}]},
    ]
    config = {"ApiVersion": 1, "Notify": [{"Service": "clickhouse", "Prune": rules}]}
    (tmp_path / "config.json").write_bytes(orjson.dumps(config))
    settings = load_settings(
        tmp_path / "config.json", env={}, overrides={"DataDir": str(tmp_path / "data")}
    )[0]
    report = prune(Store(sink.query, "sfpla"), settings)
    assert report.rows["events"] >= 3  # two deleted, then the spared one's URL cleared
    copied = sink.query(
        "SELECT vid, site, page FROM dashboard_events WHERE created_at < '2026-01-01' ORDER BY vid",
        "TSV",
    )
    assert copied.decode() == f"{data.VID['g']}\t\t\n"  # kept by its cflags, without its URL
    assert count(sink, "dashboard_events") == count(sink, "events")
    assert_same(sink)
