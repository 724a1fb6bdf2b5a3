"""The dashboard's pure parts: session tokens, the login limiter, the same-origin check, views in
URLs, periods, the chart, number formats, the docs page and the size of t.js."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tracker.dashboard.docs import render_markdown
from tracker.dashboard.filters import Filters
from tracker.dashboard.period import parse_period
from tracker.errors import Forbidden, TooManyRequests
from tracker.http.dashboard.auth import SESSION_SECONDS, LoginLimiter, Sessions, same_origin
from tracker.http.dashboard.chart import layout, nice_ceiling
from tracker.http.dashboard.render import change, fmt
from tracker.http.dashboard.ui import safe_next
from tracker.normalise.ids import Uuid

ROOT = Path(__file__).resolve().parents[2]
UID = Uuid("0e7b3c4a-9d1f-4c1e-8a55-3f1e2d9c7b10")
TODAY = date(2026, 3, 16)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_session_token_names_its_account_until_it_expires() -> None:
    clock = Clock()
    sessions = Sessions(b"k" * 32, clock)
    token = sessions.issue(UID)
    assert sessions.verify(token) == UID
    clock.now += SESSION_SECONDS + 1
    assert sessions.verify(token) is None


def test_a_tampered_or_foreign_token_is_refused() -> None:
    sessions = Sessions(b"k" * 32)
    token = sessions.issue(UID)
    payload, _, signature = token.partition(".")
    assert sessions.verify(payload + "." + signature[::-1]) is None
    assert sessions.verify(payload[:-2] + "AA." + signature) is None
    assert Sessions(b"other key").verify(token) is None
    assert sessions.verify("") is None
    assert sessions.verify("x" * 10_000) is None


def test_a_logged_out_token_stops_working() -> None:
    sessions = Sessions(b"k" * 32)
    token, other = sessions.issue(UID), sessions.issue(UID)
    sessions.revoke(token)
    assert sessions.verify(token) is None
    assert sessions.verify(other) == UID


def test_the_limiter_counts_failures_per_address_and_per_account_in_a_window() -> None:
    clock = Clock()
    limiter = LoginLimiter(max_failures=3, max_account_failures=5, window=60, clock=clock)
    for _ in range(3):
        limiter.check("1.1.1.1", "a")
        limiter.failed("1.1.1.1", "a")
    with pytest.raises(TooManyRequests) as caught:
        limiter.check("1.1.1.1", "b")
    assert 0 < caught.value.retry_after <= 61
    limiter.check("2.2.2.2", "a")  # the account has 3 of its 5
    limiter.failed("2.2.2.2", "a")
    limiter.failed("3.3.3.3", "a")
    with pytest.raises(TooManyRequests):
        limiter.check("4.4.4.4", "a")
    clock.now += 61
    limiter.check("1.1.1.1", "a")  # the window has passed


def test_a_success_clears_the_address_but_not_the_account() -> None:
    limiter = LoginLimiter(max_failures=2, max_account_failures=2, window=60, clock=Clock())
    limiter.failed("1.1.1.1", "a")
    limiter.succeeded("1.1.1.1")
    limiter.failed("1.1.1.1", "b")
    limiter.check("1.1.1.1", "c")
    limiter.failed("9.9.9.9", "a")
    with pytest.raises(TooManyRequests):
        limiter.check("5.5.5.5", "a")


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"origin": "http://dash.example:8080"}, True),
        ({"origin": "https://DASH.example"}, True),
        ({"referer": "https://dash.example/dashboard/"}, True),
        ({"origin": "https://evil.example"}, False),
        ({"origin": "null"}, False),
        ({"origin": "https://dash.example.evil.example"}, False),
        ({}, False),
    ],
)
def test_same_origin_compares_the_origin_host_with_the_request_host(
    headers: dict[str, str], allowed: bool
) -> None:
    if allowed:
        same_origin(headers, "dash.example")
    else:
        with pytest.raises(Forbidden):
            same_origin(headers, "dash.example")


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/dashboard/?site=a.com&range=30d", "/dashboard/?site=a.com&range=30d"),
        ("//evil.example/dashboard/", "/dashboard/"),
        ("https://evil.example/", "/dashboard/"),
        ("/dashboard/\\evil", "/dashboard/"),
        ("/dashboard/\r\nSet-Cookie: x", "/dashboard/"),
        (None, "/dashboard/"),
    ],
)
def test_after_login_only_dashboard_paths_are_followed(target: str | None, safe: str) -> None:
    assert safe_next(target) == safe


def test_a_view_survives_its_url() -> None:
    query = {"site": "Example.com", "range": "30d", "country": "NZ", "source": "", "bots": "1"}
    view = Filters.parse(query, TODAY)
    again = Filters.parse(dict(pair.split("=", 1) for pair in view.query().split("&")), TODAY)
    assert again == view
    assert view.query() == "site=example.com&range=30d&bots=1&source=&country=NZ"
    assert "country" not in view.dropping("country")
    assert "range=today" in view.query(range="today")
    custom = Filters.parse({"from": "2026-03-01", "to": "2026-03-05"}, TODAY)
    assert custom.query() == "from=2026-03-01&to=2026-03-05"


def test_periods_and_the_period_before() -> None:
    week = parse_period("7d", "", "", TODAY)
    assert (week.start, week.end) == (
        datetime(2026, 3, 10, tzinfo=UTC),
        datetime(2026, 3, 17, tzinfo=UTC),
    )
    assert week.previous().start == datetime(2026, 3, 3, tzinfo=UTC)
    assert (week.step, len(week.buckets())) == ("day", 7)
    today = parse_period("today", "", "", TODAY)
    assert (today.step, len(today.buckets())) == ("hour", 24)
    assert today.previous().start.date() == date(2026, 3, 15)
    month = parse_period("month", "", "", TODAY)
    assert (month.first_day, month.last_day) == (date(2026, 3, 1), TODAY)


def test_the_chart_scales_to_a_round_top_and_labels_at_most_eight_buckets() -> None:
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 11, 250, 999)] == [1, 1, 5, 10, 20, 500, 1000]
    rows = [
        {"bucket": f"2026-03-{d:02d} 00:00:00", "visitors": d, "pageviews": 2 * d}
        for d in range(1, 31)
    ]
    chart = layout(rows, hourly=False)
    assert len(chart.buckets) == 30
    assert len(chart.x_labels) <= 8
    assert chart.y_ticks[-1][1] == "100"  # 60 page views at most: the top is 100
    tallest = max(chart.buckets, key=lambda b: b.bar_height)
    assert tallest.title == "2026-03-30: 30 visitors, 60 page views"


def test_numbers_are_formatted_by_kind() -> None:
    assert fmt(1234, "count") == "1,234"
    assert fmt(0.5, "rate") == "50.0 %"
    assert fmt(125, "seconds") == "2m 05s"
    assert fmt(3725, "seconds") == "1h 02m"
    assert fmt(49.5, "money") == "49.50"
    assert fmt("", "text") == "(none)"
    assert (change(0.5), change(-0.25), change(None)) == ("+50 %", "\u221225 %", "—")


def test_docs_dashboard_md_is_generated_from_the_definitions() -> None:
    assert (ROOT / "docs" / "dashboard.md").read_text() == render_markdown()


def test_the_tracking_script_is_under_2_kb_gzipped() -> None:
    script = (ROOT / "src/tracker/http/dashboard/static/t.js").read_bytes()
    assert len(gzip.compress(script, 9)) < 2048
