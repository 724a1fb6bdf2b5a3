"""Pure parts of the backends: Meta's normalisation and hashes, the Facebook consent gate and
payload, the rows of consumed NATS messages, the tables each sink takes."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from tests.unit.test_values_and_event import CTX, VID, event

from tracker.config import Service, Settings
from tracker.errors import SinkRejected, SinkUnreachable
from tracker.normalise import marketing
from tracker.plan.consume_rows import plan_message
from tracker.plan.marketing_rows import conversions_event, plan_marketing
from tracker.runtime.sinks import clickhouse_takes
from tracker.sinks.duckdb import duck_type
from tracker.sinks.facebook import FacebookSink

MARKETING = dataclasses.replace(CTX, marketing=True, cflags_marketing=4096 | 1024)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(
    ("normalise", "given", "hashed_from"),
    [
        (marketing.email, "  John.Smith@Example.COM ", "john.smith@example.com"),
        (marketing.phone, "+44 (0)20 7946-0958", "4402079460958"),
        (marketing.phone, "0044 20 7946 0958", "442079460958"),
        (marketing.city, "San Francisco", "sanfrancisco"),
        (marketing.city, "São Paulo!", "sãopaulo"),
        (marketing.state, "CA", "ca"),
        (marketing.country, "US", "us"),
        (marketing.external_id, " ABC-1 ", "abc-1"),
    ],
)
def test_values_are_normalised_as_meta_specifies_before_sha256(
    normalise: Any, given: str, hashed_from: str
) -> None:
    assert normalise(given) == sha(hashed_from)


def test_a_us_zip_keeps_five_digits_and_other_zips_lose_spaces_and_dashes() -> None:
    assert marketing.zip_code("94107-1234", "US") == sha("94107")
    assert marketing.zip_code("SW1A 1AA", "gb") == sha("sw1a1aa")


def test_a_value_that_already_is_a_sha256_is_not_hashed_again() -> None:
    digest = sha("jane@example.com")
    assert marketing.email(digest.upper()) == digest
    assert marketing.email("") is None
    assert marketing.country("United States") is None  # not a two-letter code


def test_the_marketing_gate_is_a_bit_test_and_cflags_ignore_admits_events_without_cflags() -> None:
    assert marketing.marketing_allowed(4096 | 1024 | 1, 4096 | 1024, False)
    assert not marketing.marketing_allowed(8192, 4096 | 1024, False)  # Go let 8192 through
    assert not marketing.marketing_allowed(None, 4096, False)
    assert marketing.marketing_allowed(None, 4096, True)


def test_the_conversions_event_holds_hashes_seconds_and_custom_data_and_no_clear_email() -> None:
    e = event(
        {
            "vid": VID,
            "ename": "purchase",
            "cflags": 5120,
            "fbx": 1,
            "email": "Jane@Example.com",
            "value": 10,
            "currency": "eur",
            "order_id": 42,
            "params": {"content_ids": ["a", 7]},
        },
        ctx=MARKETING,
    )
    body = conversions_event(e)
    assert body is not None
    assert body["event_name"] == "Purchase"  # a standard event in Meta's case
    assert body["event_time"] == int(e.created_at.timestamp())
    assert body["event_id"] == e.eid
    assert body["user_data"]["em"] == sha("jane@example.com")
    assert body["user_data"]["client_ip_address"] == "203.0.113.7"
    assert body["custom_data"] == {
        "value": 10.0,
        "currency": "EUR",
        "order_id": "42",
        "content_ids": ["a", "7"],
    }
    assert b"Jane@Example.com" not in plan_marketing(e)[0][1]
    assert "email" not in e.values


def test_only_consented_events_with_fbx_are_planned_unless_attempt_all() -> None:
    assert plan_marketing(event({"ename": "lead", "cflags": 4096}, ctx=MARKETING)) == []
    unmarked = event({"ename": "lead", "cflags": 5120}, ctx=MARKETING)
    assert plan_marketing(unmarked) == []
    assert len(plan_marketing(unmarked, attempt_all=True)) == 1
    without_ip = dataclasses.replace(MARKETING, remove_ip=True)
    body = conversions_event(event({"ename": "lead", "cflags": 5120}, ctx=without_ip))
    assert body is not None
    assert "client_ip_address" not in body["user_data"]


def facebook(handler: Any) -> FacebookSink:
    return FacebookSink("123", "tok", transport=httpx.MockTransport(handler), attempt_all=True)


def fb_line(name: str = "lead") -> bytes:
    return orjson.dumps({"event_name": name, "event_time": 1, "event_id": "x", "_fbx": False})


def test_the_conversions_api_answers_are_sorted_into_retry_and_refusal() -> None:
    def answer(status: int, body: dict[str, Any], **headers: str) -> FacebookSink:
        return facebook(lambda request: httpx.Response(status, json=body, headers=headers))

    with pytest.raises(SinkUnreachable) as limited:
        answer(429, {}, **{"Retry-After": "7"}).write("fb_events", [fb_line()])
    assert limited.value.retry_after == 7.0
    with pytest.raises(SinkUnreachable):
        answer(503, {}).write("fb_events", [fb_line()])
    with pytest.raises(SinkUnreachable, match="access token"):
        answer(400, {"error": {"code": 190}}).write("fb_events", [fb_line()])
    with pytest.raises(SinkRejected, match="bad parameter"):
        answer(400, {"error": {"message": "bad parameter", "code": 100}}).write(
            "fb_events", [fb_line()]
        )


def test_a_request_carries_at_most_1000_events_and_the_token_in_its_body() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(orjson.loads(request.content))
        assert "access_token" not in str(request.url)
        return httpx.Response(200, json={"events_received": 1})

    facebook(handler).write("fb_events", [fb_line() for _ in range(2500)])
    assert [len(body["data"]) for body in seen] == [1000, 1000, 500]
    assert seen[0]["access_token"] == "tok"
    assert "_fbx" not in seen[0]["data"][0]


NOW = datetime(2025, 11, 27, 12, 0, tzinfo=UTC)


def test_consumed_messages_become_counters_updates_and_logs_rows() -> None:
    [(table, line)] = plan_message("count", "tic.count.x", {}, NOW, b"k")
    assert (table, orjson.loads(line)) == (
        "counters",
        {"id": "tic.count.x", "total": 1, "date": "2025-11-27"},
    )
    update = {"id": "u", "updated": "1764201600000", "msg": "m"}
    [(table, line)] = plan_message("update", "tic.update.x", update, NOW, b"k")
    assert (table, orjson.loads(line)) == (
        "updates",
        {"id": "u", "updated_at": "2025-11-27 00:00:00.000", "msg": "m"},
    )
    [(table, line)] = plan_message(
        "log", "tic.log.x", {"ip": "10.0.0.1", "level": "high", "ldate": "bad"}, NOW, b"k", True
    )
    row = orjson.loads(line)
    assert table == "logs"
    assert row["ip"] == ""  # UseRemoveIP
    assert len(row["iphash"]) == 32
    assert row["ldate"] == "2025-11-27"
    assert "level" not in row


def test_clickhouse_keeps_only_the_realtime_tables_a_duckdb_entry_names() -> None:
    assert clickhouse_takes(Settings())("events")
    assert not clickhouse_takes(Settings())("fb_events")
    duck = Service(
        "duckdb",
        proxy_realtime_storage_service_name="clickhouse",
        proxy_realtime_storage_service_tables=(1 << 33) - 1 - 1,  # all but events (and logs)
    )
    takes = clickhouse_takes(Settings(notify=(Service("clickhouse"), duck)))
    assert not takes("events")
    assert takes("hosts")
    assert takes("mthreads")  # no bit: always kept
    assert not takes("logs")


def test_clickhouse_types_map_to_duckdb_types() -> None:
    assert duck_type("LowCardinality(String)") == "VARCHAR"
    assert duck_type("DateTime64(3, 'UTC')") == "TIMESTAMP"
    assert duck_type("DateTime64(9)") == "TIMESTAMP_NS"
    assert duck_type("Array(String)") == "VARCHAR[]"
    assert duck_type("Map(String, UInt64)") == "JSON"
