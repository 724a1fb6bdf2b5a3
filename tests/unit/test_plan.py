"""The write plan: values coerced to their ClickHouse column types, and which rows an event writes.

`coerce_row` is what stands between a client's loose JSON and a typed ClickHouse batch (the Go
tracker lost whole batches to one wrong type). `plan_event` is the Go tracker's write sequence with
the fixes docs/differences.md lists.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from tracker.errors import InvalidEvent
from tracker.normalise import values
from tracker.normalise.event import NormaliseContext, Origin, normalise
from tracker.normalise.urls import UrlFilter
from tracker.plan.coerce import coerce_row, parse_time
from tracker.plan.event_rows import plan_event
from tracker.schema.model import Column, Table
from tracker.schema.tables import TABLES, VIEW_FED_TABLES

U1 = "14fb0860-b4bf-11e9-8971-7b80435315ac"
U2 = "6f1b2c3a-7d1e-11f0-9b8a-0242ac120002"
ZERO = "00000000-0000-0000-0000-000000000000"

TYPES = Table(
    name="every_type",
    columns=(
        Column("s", "String"),
        Column("lc", "LowCardinality(String)"),
        Column("ns", "Nullable(String)"),
        Column("u", "UUID"),
        Column("i8", "Int8"),
        Column("i32", "Int32"),
        Column("i64", "Int64"),
        Column("u8", "UInt8"),
        Column("u64", "UInt64"),
        Column("f", "Float64"),
        Column("f32", "Float32"),
        Column("b", "Bool"),
        Column("j", "JSON"),
        Column("dt", "DateTime64(3)"),
        Column("dt9", "DateTime64(9)"),
        Column("d", "Date"),
        Column("as", "Array(String)"),
        Column("au", "Array(UUID)"),
        Column("af", "Array(Float32)"),
        Column("m", "UInt64", materialized="1"),
    ),
    engine="MergeTree",
)


def coerced(column: str, value: Any) -> Any:
    """The coerced value, or the string 'DEFAULT' when the column is left to its default."""
    return coerce_row(TYPES, {column: value}).get(column, "DEFAULT")


# --- coerce_row: one test per type family -------------------------------------------------------


def test_string_columns_take_text_of_numbers_booleans_and_objects() -> None:
    assert coerced("s", "Mixed Case") == "Mixed Case"
    assert coerced("s", 94107) == "94107"
    assert coerced("s", 2.0) == "2"
    assert coerced("s", 1.5) == "1.5"
    assert coerced("s", True) == "true"
    assert coerced("lc", False) == "false"
    assert coerced("ns", 7) == "7"
    assert orjson.loads(coerced("s", {"a": [1, "x"]})) == {"a": [1, "x"]}
    assert orjson.loads(coerced("s", ["a", 1])) == ["a", 1]


def test_uuid_columns_accept_every_go_form_and_store_the_canonical_text() -> None:
    for form in (U1, U1.upper(), U1.replace("-", ""), "{" + U1 + "}", "urn:uuid:" + U1, f" {U1} "):
        assert coerced("u", form) == U1
    for bad in ("not-a-uuid", "", 12345, U1[:-1], {"id": U1}):
        assert coerced("u", bad) == "DEFAULT"


def test_integer_columns_take_numbers_and_numeric_strings_in_range() -> None:
    assert coerced("i32", 42) == 42
    assert coerced("i32", "42") == 42
    assert coerced("i32", " -7 ") == -7
    assert coerced("i32", 3.9) == 3  # truncated, as the Go driver did for Int64
    assert coerced("i32", "2.5") == 2
    assert coerced("i32", True) == 1
    assert coerced("i8", 127) == 127
    assert coerced("u64", 2**64 - 1) == 2**64 - 1


def test_integers_out_of_range_or_not_numbers_leave_the_default() -> None:
    assert coerced("i8", 128) == "DEFAULT"
    assert coerced("i32", 2**31) == "DEFAULT"
    assert coerced("i64", 1e30) == "DEFAULT"
    assert coerced("u8", -1) == "DEFAULT"
    assert coerced("u64", "-5") == "DEFAULT"
    for bad in ("ten", "", "nan", "inf", math.nan, math.inf, {"n": 1}, [1]):
        assert coerced("i64", bad) == "DEFAULT"


def test_float_columns_refuse_nan_and_infinity() -> None:
    assert coerced("f", 1.5) == 1.5
    assert coerced("f", "2.25") == 2.25
    assert coerced("f", 3) == 3.0
    assert coerced("f32", "1e3") == 1000.0
    for bad in (math.nan, math.inf, -math.inf, "nan", "inf", "-Infinity", "x", [1.0]):
        assert coerced("f", bad) == "DEFAULT"


def test_bool_columns_take_booleans_numbers_and_their_words() -> None:
    for yes in (True, 1, 2.5, "true", "TRUE", "1", "yes"):
        assert coerced("b", yes) is True
    for no in (False, 0, "false", "0", "no", ""):
        assert coerced("b", no) is False
    assert coerced("b", "maybe") == "DEFAULT"


def test_json_columns_take_only_an_object() -> None:
    assert coerced("j", {"a": {"b": 1}}) == {"a": {"b": 1}}
    assert coerced("j", '{"a": 1}') == {"a": 1}
    for not_object in ([1, 2], 5, True, "text", "[1,2]", '"s"', "{broken"):
        assert coerced("j", not_object) == {}


def test_datetime_columns_take_rfc3339_the_space_form_and_epoch_seconds_in_utc() -> None:
    assert coerced("dt", "2024-01-02T03:04:05Z") == "2024-01-02 03:04:05.000"
    assert coerced("dt", "2024-01-02t03:04:05.123z") == "2024-01-02 03:04:05.123"
    assert coerced("dt", "2024-01-02T05:04:05+02:00") == "2024-01-02 03:04:05.000"
    assert coerced("dt", "2024-01-02 03:04:05") == "2024-01-02 03:04:05.000"
    assert coerced("dt", 1704164645) == "2024-01-02 03:04:05.000"
    assert coerced("dt", 1704164645.25) == "2024-01-02 03:04:05.250"
    assert coerced("dt9", "2024-01-02T03:04:05Z") == "2024-01-02 03:04:05.000"
    moment = datetime(2024, 1, 2, 4, 4, 5, 999999, tzinfo=timezone(timedelta(hours=1)))
    assert coerced("dt", moment) == "2024-01-02 03:04:05.999"


def test_datetimes_that_cannot_be_stored_leave_the_default() -> None:
    for bad in ("yesterday", "1969-12-31T23:59:59Z", -1, math.nan, True, "", [2024]):
        assert coerced("dt", bad) == "DEFAULT"
    assert parse_time("0001-01-01T00:00:00Z") is not None  # parsed, but before the epoch:
    assert coerced("dt", "0001-01-01T00:00:00Z") == "DEFAULT"


def test_date_columns_take_a_date_or_the_utc_day_of_a_time() -> None:
    assert coerced("d", "2024-01-02") == "2024-01-02"
    assert coerced("d", "2024-01-02T23:30:00-05:00") == "2024-01-03"
    assert coerced("d", datetime(2024, 1, 2, 23, 0, tzinfo=UTC)) == "2024-01-02"
    assert coerced("d", 0) == "1970-01-01"
    assert coerced("d", "not a date") == "DEFAULT"


def test_string_arrays_take_a_list_or_a_comma_separated_string() -> None:
    assert coerced("as", "a, b,,c ") == ["a", "b", "c"]
    assert coerced("as", ["x", 1, True]) == ["x", "1", "true"]
    assert coerced("as", "") == []
    assert coerced("as", 5) == "DEFAULT"


def test_uuid_arrays_drop_the_invalid_entries() -> None:
    assert coerced("au", [U1, "bad", U2.replace("-", ""), 7]) == [U1, U2]
    assert coerced("af", [1, "2.5", "x", math.inf]) == [1.0, 2.5]


def test_none_unknown_and_materialized_columns_are_left_out() -> None:
    row = coerce_row(TYPES, {"s": None, "nope": 1, "m": 5, "i8": 1})
    assert row == {"i8": 1}


def test_every_catalogue_column_type_has_a_coercion() -> None:
    for table in TABLES.values():
        assert coerce_row(table, {}) == {}


# --- plan_event --------------------------------------------------------------------------------

CTX = NormaliseContext(url_filter=UrlFilter(None), ip_secret=b"k")
NOW = datetime(2026, 3, 4, 5, 6, 7, 8000, tzinfo=UTC)


def plan(
    body: dict[str, Any],
    *,
    is_server: bool = False,
    host: str = "tr.example.com",
    ctx: NormaliseContext = CTX,
) -> list[tuple[str, dict[str, Any]]]:
    origin = Origin(
        ip="198.51.100.4",
        host=host,
        user_agent="UA/1.0",
        culture="en",
        request_uri="/tr/v1/tr/",
        ja4h="j",
        now=NOW,
    )
    v = values.build(user_header=None, cookies={}, path_values={}, query_values={}, body=body)
    event = normalise(v, origin, ctx, is_server=is_server)
    return [(table, orjson.loads(line)) for table, line in plan_event(event)]


def tables(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return sorted(table for table, _ in rows)


def only(rows: list[tuple[str, dict[str, Any]]], table: str) -> dict[str, Any]:
    found = [row for name, row in rows if name == table]
    assert len(found) == 1, f"{len(found)} rows for {table}"
    return found[0]


def test_a_server_event_writes_only_the_events_row() -> None:
    assert tables(plan({"ename": "e", "vid": U1}, is_server=True)) == ["events"]


def test_a_client_event_of_a_known_visitor_writes_events_dailies_and_hosts() -> None:
    assert tables(plan({"ename": "e", "vid": U1})) == ["dailies", "events", "hosts"]


def test_a_new_visitor_also_bumps_the_vids_created_counter() -> None:
    rows = plan({"ename": "e"})
    assert tables(rows) == ["counters", "dailies", "events", "hosts"]
    assert only(rows, "counters") == {"id": "vids_created", "total": 1, "date": "2026-03-04"}


def test_client_side_tables_follow_what_the_event_carries() -> None:
    rows = plan(
        {"vid": U1, "uid": U2, "email": "a@b.com", "cell": "555", "uname": "jo", "outcome": "won"}
    )
    assert tables(rows) == [
        "cells", "dailies", "emails", "events", "hosts", "outcomes", "userhosts", "usernames",
    ]  # fmt: skip
    assert only(rows, "emails")["ehash"] == "ECKww6HZpkCa4N0jZP3P5B9jriI="
    assert only(rows, "userhosts")["uid"] == U2
    assert only(rows, "outcomes")["outcome"] == "won"
    assert only(rows, "dailies") == {"ip": "198.51.100.4", "day": "2026-03-04", "total": 1}


def test_no_event_ever_writes_the_tables_the_views_feed() -> None:
    assert {"hits", "ips", "reqs", "referrers", "browsers", "dashboard_events"} == VIEW_FED_TABLES
    busy = {
        "ename": "conversion", "url": "https://a.example/x", "last": "https://b.example/",
        "tid": U1, "oid": U2, "uid": U1, "email": "a@b.com", "tags": "a,b", "outcome": "o",
    }  # fmt: skip
    for is_server in (False, True):
        for body in ({}, busy):
            assert not VIEW_FED_TABLES & set(tables(plan(body, is_server=is_server)))


def test_the_events_row_holds_the_resolved_ids_and_normalised_fields() -> None:
    rows = plan({"ename": " Page_View ", "url": "https://Shop.example.com/a?b=1", "zip": 94107})
    row = only(rows, "events")
    assert row["vid"] == row["sid"] != ZERO
    assert row["ename"] == "page_view"
    assert row["url"] == "//shop.example.com/a"
    assert row["zip"] == "94107"
    assert row["created_at"] == "2026-03-04 05:06:07.008"
    assert row["params"] == {}
    assert row["targets"] == {}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"ename": "e", "vid": U1, "uid": U2, "oid": U1, "tid": U2, "did": U1.upper()},
        {"duration": "12", "ver": 3.0, "score": "1.5", "w": "1280", "h": 720.0, "org": 7},
        {"gaid": {"a": 1}, "msid": ["x"], "rid": "nope", "ref": U2, "cflags": "12", "last": "/x"},
        {"uid": "nope", "duration": "long", "ver": 2**40, "score": "nan", "w": "wide"},
    ],
)
def test_rows_planned_without_coercion_are_already_in_their_column_types(
    body: dict[str, Any],
) -> None:
    """`events_row` and `typed_record` skip `coerce_row`: coercing their rows must change nothing."""
    for table, row in plan({**body, "email": "a@b.com", "outcome": "o"}):
        assert coerce_row(TABLES[table], row) == row, table


def test_bad_values_in_typed_event_columns_fall_back_to_their_defaults() -> None:
    row = only(plan({"uid": "nope", "duration": "long", "ver": 2**40, "score": "nan"}), "events")
    assert not {"uid", "duration", "ver", "score"} & set(row)


def test_a_tid_event_writes_one_mthreads_one_mstore_and_one_mtriage_row() -> None:
    rows = plan({"ename": "opened", "tid": U1, "subject": "Hello", "vid": U2}, is_server=True)
    assert tables(rows) == ["events", "mstore", "mthreads", "mtriage"]
    thread, store, triage = only(rows, "mthreads"), only(rows, "mstore"), only(rows, "mtriage")
    assert thread["tid"] == store["tid"] == triage["tid"] == U1
    assert thread["vid"] == store["vid"] == U2
    assert store["mid"] != triage["mid"]
    assert store["subject"] == "Hello"
    assert (triage["urgency"], triage["keep"]) == (8, True)


def test_mtriage_keeps_the_clients_urgency_and_keep() -> None:
    triage = only(plan({"tid": U1, "urgency": "3", "keep": False}), "mtriage")
    assert (triage["urgency"], triage["keep"]) == (3, False)


def test_a_tid_that_is_not_a_uuid_writes_no_messaging_rows() -> None:
    assert tables(plan({"ename": "e", "tid": "thread-1"}, is_server=True)) == ["events"]


def test_a_conversion_with_an_oid_also_writes_impression_daily() -> None:
    rows = plan({"ename": "conversion", "tid": U1, "oid": U2, "xid": "B"}, is_server=True)
    assert tables(rows) == ["events", "impression_daily", "mstore", "mthreads", "mtriage"]
    daily = only(rows, "impression_daily")
    assert daily["oid"] == U2
    assert daily["day"] == "2026-03-04"
    assert daily["variant_id"] == "b"
    assert (daily["total_impressions"], daily["conversions"]) == (1, 1)


def test_a_scored_event_writes_impression_daily_without_a_conversion() -> None:
    rows = plan({"ename": "click", "tid": U1, "oid": U2, "score": 2}, is_server=True)
    assert only(rows, "impression_daily")["conversions"] == 0


def test_impression_daily_needs_an_oid_and_an_ename() -> None:
    assert "impression_daily" not in tables(plan({"ename": "conversion", "tid": U1}))
    assert "impression_daily" not in tables(plan({"tid": U1, "oid": U2, "score": 1}))


def test_tags_write_a_visitor_interests_row() -> None:
    rows = plan(
        {"ename": "read", "oid": U2, "audience": ["Gamers", " "], "content": "sports, news"},
        is_server=True,
    )
    interest = only(rows, "visitor_interests")
    assert interest["oid"] == U2
    assert interest["vid"] == only(rows, "events")["vid"]
    assert interest["audience_tags"] == ["Gamers"]
    assert interest["content_tags"] == ["sports", "news"]
    assert interest["interests"] == ["Gamers", "sports", "news"]
    assert interest["interest_counts"] == {"Gamers": 1, "sports": 1, "news": 1}
    assert interest["campaign_sources"] == {
        "": {"audience": ["Gamers"], "content": ["sports", "news"]}
    }


def test_tags_fall_back_to_the_tags_key() -> None:
    interest = only(plan({"oid": U2, "tags": "a,b"}), "visitor_interests")
    assert interest["content_tags"] == ["a", "b"]


def test_visitor_interests_needs_an_oid_and_some_tag() -> None:
    assert "visitor_interests" not in tables(plan({"tags": "a,b"}))
    assert "visitor_interests" not in tables(plan({"oid": U2, "tags": " , "}))


def test_no_host_means_no_hosts_row() -> None:
    assert "hosts" not in tables(plan({"vid": U1}, host=""))


def test_an_event_too_deeply_nested_to_encode_is_rejected_not_crashed_on() -> None:
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(300):
        cursor["a"] = {}
        cursor = cursor["a"]
    many_keys = dataclasses.replace(CTX, max_param_keys=1000)
    with pytest.raises(InvalidEvent, match="cannot be stored"):
        plan({"ename": "e", "targets": deep}, ctx=many_keys)
    # Within MaxParamKeys (100 by default) the object is cut at its 100th key, and stored.
    [targets] = [
        row["targets"] for table, row in plan({"ename": "e", "targets": deep}) if table == "events"
    ]
    depth = 0
    while targets:
        targets, depth = targets["a"], depth + 1
    assert depth == 100
