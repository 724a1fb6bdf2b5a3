"""The dashboard's named queries against a chDB store holding the fixed data set of
``tests/dashboard_data.py``, whose answers are worked out there by hand."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests import dashboard_data as data

from tracker.dashboard.filters import Filters
from tracker.dashboard.queries import PANELS, headline_sql, sessions_sql, visitors_sql
from tracker.dashboard.service import QUERY_NICE, Dashboard
from tracker.dashboard.sql import Scope
from tracker.errors import BadRequest, SinkError, SinkUnreachable
from tracker.sinks.chdb import ChdbSink


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    sink = ChdbSink(tmp_path_factory.mktemp("dashboard") / "clickhouse")
    sink.open()
    for table, rows in data.TABLES.items():
        sink.write(table, [orjson.dumps(row) for row in rows])
    dashboard = Dashboard(sink.query, clock=lambda: data.NOW.replace(tzinfo=None))
    yield dashboard
    dashboard.close()
    sink.close()


def view(**query: str) -> Filters:
    return Filters.parse({"site": data.SITE, **query}, data.TODAY)


def headline(board: Dashboard, filters: Filters) -> dict[str, Any]:
    return {row["metric"]: row for row in board.headline(filters)}


def values(board: Dashboard, filters: Filters) -> dict[str, float]:
    return {key: row["value"] for key, row in headline(board, filters).items()}


def test_headline_numbers_are_those_worked_out_by_hand(board: Dashboard) -> None:
    assert values(board, view()) == {
        "visitors": 3,
        "sessions": 4,
        "pageviews": 7,
        "views_per_session": 1.75,
        "bounce_rate": 0.5,
        "duration": 120.0,
    }


def test_headline_compares_with_the_period_before(board: Dashboard) -> None:
    visitors = headline(board, view())["visitors"]
    assert (visitors["previous"], visitors["change"]) == (2, 0.5)
    assert headline(board, view())["duration"]["change"] is None  # no sessions before: no change


def test_bots_are_left_out_unless_asked_for(board: Dashboard) -> None:
    assert values(board, view(bots="1"))["visitors"] == 4


def test_without_a_site_every_site_counts(board: Dashboard) -> None:
    filters = Filters.parse({}, data.TODAY)
    assert values(board, filters)["visitors"] == 4  # a, b, c and other.org's e


def test_top_pages_are_ordered_by_page_views(board: Dashboard) -> None:
    assert board.rows("pages", view()) == [
        {"page": "/pricing", "visitors": 3, "pageviews": 3},
        {"page": "/", "visitors": 2, "pageviews": 2},
        {"page": "/blog", "visitors": 1, "pageviews": 1},
        {"page": "/docs", "visitors": 1, "pageviews": 1},
    ]


def test_entry_and_exit_pages_are_the_first_and_last_page_of_each_session(
    board: Dashboard,
) -> None:
    entry = {row["entry"]: row["sessions"] for row in board.rows("entry", view())}
    exits = {row["exit"]: row["sessions"] for row in board.rows("exit", view())}
    assert entry == {"/": 2, "/blog": 1, "/pricing": 1}
    assert exits == {"/pricing": 3, "/blog": 1}


def test_referrers_are_the_first_external_host_of_each_session(board: Dashboard) -> None:
    assert board.rows("referrers", view()) == [
        {"referrer": "www.google.com", "sessions": 2, "visitors": 2},
        {"referrer": "", "sessions": 1, "visitors": 1},
        {"referrer": "news.site", "sessions": 1, "visitors": 1},
    ]


def test_utm_values_are_per_session(board: Dashboard) -> None:
    assert board.rows("sources", view()) == [
        {"source": "", "sessions": 3, "visitors": 3},
        {"source": "news", "sessions": 1, "visitors": 1},
    ]
    assert [row["campaign"] for row in board.rows("campaigns", view())] == ["", "spring"]


def test_countries_regions_and_technology(board: Dashboard) -> None:
    assert board.rows("countries", view()) == [
        {"country": "US", "visitors": 2, "pageviews": 4},
        {"country": "NZ", "visitors": 1, "pageviews": 3},
    ]
    regions = {(r["country"], r["region"]): r["visitors"] for r in board.rows("regions", view())}
    assert regions == {("NZ", "Auckland"): 1, ("US", "California"): 1, ("US", "New York"): 1}
    assert {r["browser"]: r["visitors"] for r in board.rows("browsers", view())} == {
        "chrome": 2,
        "firefox": 1,
    }
    assert {r["device"]: r["visitors"] for r in board.rows("devices", view())} == {
        "desktop": 2,
        "mobile": 1,
    }


def test_outcomes_have_their_conversion_rate(board: Dashboard) -> None:
    rows = board.rows("outcomes", view())
    assert [(r["event"], r["type"], r["events"], r["visitors"]) for r in rows] == [
        ("click", "outbound", 1, 1),
        ("signup", "conversion", 1, 1),
    ]
    assert [round(r["rate"], 4) for r in rows] == [0.3333, 0.3333]
    assert board.rows("outbound", view()) == [
        {"link": "https://partner.example/", "clicks": 1, "visitors": 1}
    ]


def test_a_session_filter_selects_whole_sessions(board: Dashboard) -> None:
    filtered = values(board, view(referrer="www.google.com"))
    assert (filtered["visitors"], filtered["sessions"], filtered["pageviews"]) == (2, 2, 4)
    direct = values(board, view(referrer=""))
    assert (direct["visitors"], direct["sessions"]) == (1, 1)


def test_a_page_filter_keeps_each_sessions_own_bounce(board: Dashboard) -> None:
    filtered = values(board, view(page="/pricing"))
    assert (filtered["visitors"], filtered["pageviews"]) == (3, 3)
    assert filtered["bounce_rate"] == pytest.approx(1 / 3)  # B1 bounced; A1 and C1 did not


def test_a_row_and_its_filter_agree(board: Dashboard) -> None:
    for panel, key in (("countries", "country"), ("browsers", "browser"), ("entry", "entry")):
        for row in board.rows(panel, view()):
            assert values(board, view(**{key: row[key]}))["visitors"] == row["visitors"], row


def test_the_time_series_has_every_day_of_the_range(board: Dashboard) -> None:
    rows = board.rows("timeseries", view())
    assert [r["bucket"][:10] for r in rows] == [f"2026-03-{d}" for d in range(10, 17)]
    assert [(r["visitors"], r["pageviews"]) for r in rows] == [
        (0, 0), (0, 0), (0, 0), (0, 0), (2, 3), (1, 1), (1, 3),
    ]  # fmt: skip


def test_today_is_charted_by_hour(board: Dashboard) -> None:
    rows = board.rows("timeseries", view(range="today"))
    assert len(rows) == 24
    assert [r for r in rows if r["pageviews"]] == [
        {"bucket": "2026-03-16 08:00:00", "visitors": 1, "pageviews": 3}
    ]


def test_custom_range(board: Dashboard) -> None:
    assert values(board, view(**{"from": "2026-03-01", "to": "2026-03-06"}))["visitors"] == 3


def test_revenue_and_lifetime_value(board: Dashboard) -> None:
    assert board.rows("revenue", view()) == [
        {"currency": "USD", "payments": 1, "revenue": 50, "payers": 1, "per_payer": 50}
    ]
    everything = Filters.parse({}, data.TODAY)
    assert board.rows("revenue", everything)[0]["revenue"] == 70
    assert board.rows("ltv", view()) == [
        {"customer": "visitors", "customers": 1, "total": 75, "average": 75}
    ]
    assert board.rows("ltv", everything) == [
        {"customer": "visitors", "customers": 2, "total": 95, "average": 47.5}
    ]


def test_short_links_count_their_hits(board: Dashboard) -> None:
    assert board.rows("links", view()) == [
        {
            "link": "example.com/promo",
            "target": "https://example.com/pricing?utm_source=promo",
            "hits": 2,
            "visitors": 2,
        }
    ]
    assert len(board.rows("links", Filters.parse({}, data.TODAY))) == 2


def test_realtime_counts_the_last_five_minutes(board: Dashboard) -> None:
    assert board.realtime(view()) | {"since": ""} == {"visitors": 1, "pageviews": 1, "since": ""}


def test_sites_are_the_hosts_seen(board: Dashboard) -> None:
    assert [row["site"] for row in board.sites()] == ["example.com", "other.org"]


SESSION_PANELS = [name for name, panel in PANELS.items() if panel.session]


@pytest.mark.parametrize(
    "query",
    [{}, {"referrer": "www.google.com"}, {"page": "/pricing"}, {"bots": "1"}, {"site": ""}],
)
@pytest.mark.parametrize("limit", [1, 10])
def test_a_pages_session_panels_in_one_pass_are_each_panels_own_rows(
    board: Dashboard, query: dict[str, str], limit: int
) -> None:
    filters = view(**query)
    alone = {name: board.rows(name, filters, limit) for name in SESSION_PANELS}
    assert board.session_rows(SESSION_PANELS, filters, limit) == alone
    assert any(alone.values())
    page = asyncio.run(board.view(filters, ["countries", *SESSION_PANELS], limit))
    assert {name: page[name].rows for name in SESSION_PANELS} == alone
    assert page["countries"].rows == board.rows("countries", filters, limit)


def test_a_failed_pass_over_the_sessions_shows_on_its_panels_only(board: Dashboard) -> None:
    def query(sql: str, fmt: str, params: Mapping[str, object] | None) -> bytes:
        if "ARRAY JOIN" in sql:
            raise SinkUnreachable("the store went away")
        return board.query(sql, fmt, params)

    failing = Dashboard(query, clock=board.clock)
    try:
        page = asyncio.run(failing.view(view(), ["countries", *SESSION_PANELS]))
    finally:
        failing.close()
    assert page["countries"].rows
    assert page["countries"].error is None
    for name in SESSION_PANELS:
        assert page[name].rows == []
        assert page[name].error == "This panel could not be loaded: the store went away"


@pytest.mark.parametrize("query", [{}, {"referrer": "www.google.com"}, {"page": "/pricing"}])
def test_the_headline_side_by_side_is_the_headline_one_query_after_another(
    board: Dashboard, query: dict[str, str]
) -> None:
    filters = view(**query)
    side_by_side = asyncio.run(board.numbers(filters))
    assert side_by_side == board.headline(filters)
    assert side_by_side[0]["value"] > 0


def test_every_panel_runs(board: Dashboard) -> None:
    for name in PANELS:
        board.rows(name, view(country="US", source="", bots="1"))


def test_every_subquery_a_condition_or_join_reads_is_global() -> None:
    # On a cluster, a plain IN or JOIN over a Distributed table inside a query on a Distributed
    # table is refused (distributed_product_mode = 'deny'); GLOBAL runs the subquery once.
    filters = view(page="/pricing", source="google", country="US")
    scope = Scope(filters)
    texts = [panel.sql(scope, 10) for panel in PANELS.values()]
    texts += [visitors_sql(scope), headline_sql(scope), sessions_sql(scope, ["entry"], 10)]
    for sql in texts:
        # The word before each IN (subquery) and each JOIN.
        before_in = set(re.findall(r"(\w+) IN \(\(?SELECT", sql))
        before_join = set(re.findall(r"(\w+) (?:INNER |LEFT )?JOIN\b", sql))
        assert before_in <= {"GLOBAL"}, sql
        assert before_join <= {"GLOBAL", "ARRAY"}, sql
    assert any(" GLOBAL IN (SELECT" in sql for sql in texts)  # the filters above make some


def test_a_filter_value_travels_as_a_parameter_not_as_sql(board: Dashboard) -> None:
    hostile = "x' OR 1=1 --"
    assert values(board, view(page=hostile, referrer=hostile))["visitors"] == 0


def test_a_query_over_its_time_limit_fails_with_a_clear_error(board: Dashboard) -> None:
    slow = Dashboard(board.query, timeout_seconds=1)
    try:
        with pytest.raises(SinkError, match=r"TIMEOUT_EXCEEDED|Timeout exceeded"):
            slow.run("SELECT sum(cityHash64(number)) FROM numbers(100000000000)", {})
    finally:
        slow.close()


def _nice_values() -> dict[int, int]:
    """The nice value of each thread of this process, by thread id."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        out[int(tid)] = int(stat.rsplit(")", 1)[1].split()[16])
    return out


def test_a_query_runs_at_the_dashboards_nice_value(board: Dashboard) -> None:
    # Above ingestion's priority: a query's CPU comes out of ingestion's either way on a busy
    # core, so the priority only decides who waits while it runs (the panel, not the events).
    assert QUERY_NICE < 0
    with ThreadPoolExecutor(1) as pool:
        query = pool.submit(board.run, "SELECT sleep(1)", {})
        seen: set[int] = set()
        while not query.done():
            seen |= {tid for tid, nice in _nice_values().items() if nice == QUERY_NICE}
            time.sleep(0.01)
        query.result()
    assert seen, f"no thread ran at nice {QUERY_NICE} during the query (needs CAP_SYS_NICE)"
    after = _nice_values()
    assert all(after[tid] == 0 for tid in seen if tid in after)  # the store sets it back


def test_a_query_runs_without_the_right_to_raise_priority(tmp_path: Path) -> None:
    # Without CAP_SYS_NICE (an unprivileged user, the Docker image) the store leaves the
    # threads at the process's priority, and the query still runs.
    script = (
        "import sys; from pathlib import Path\n"
        "from tracker.sinks.chdb import ChdbSink\n"
        "from tracker.dashboard.service import Dashboard\n"
        "sink = ChdbSink(Path(sys.argv[1])); sink.open(); board = Dashboard(sink.query)\n"
        "print(board.run('SELECT count() AS n FROM numbers(10)', {}))\n"
        "caps = int(Path('/proc/self/status').read_text().split('CapEff:')[1].split()[0], 16)\n"
        "print('sys_nice', bool(caps & 1 << 23)); board.close(); sink.close()\n"
    )
    drop = ["setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice"]
    argv = [*drop, sys.executable, "-c", script, str(tmp_path / "clickhouse")]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[{'n': 10}]", "sys_nice False"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"range": "forever"}, "expected one of today"),
        ({"range": "custom"}, "needs 'from'"),
        ({"from": "2026-13-01"}, "expected a date"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "before it starts"),
        ({"from": "2000-01-01", "to": "2026-01-01"}, "too long"),
        ({"site": "a.com/x"}, "expected a host name"),
    ],
)
def test_bad_views_are_refused_naming_what_is_wrong(query: dict[str, str], message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        Filters.parse(query, data.TODAY)
