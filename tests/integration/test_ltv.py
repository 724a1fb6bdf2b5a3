"""``/tr/v1/ltv/``: payments rows and ltv totals, exact to the cent."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from conftest import FAST_BATCHES, TrackerServer, serving
from tracker.errors import InvalidEvent
from tracker.plan.ltv_rows import parse_amount

ORIGIN = "https://shop.example"


@pytest.fixture(scope="module")
def server(store_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerServer]:
    root = tmp_path_factory.mktemp("ltv")
    config = {**FAST_BATCHES, "AllowOrigin": ORIGIN}
    with serving(store_kind, root, config, signal.SIGKILL) as running:
        yield running


def post(server: TrackerServer, body: object, **headers: str) -> httpx.Response:
    return httpx.post(f"{server.url}/tr/v1/ltv/", json=body, headers=headers, timeout=10)


def payments_of(vid: str) -> str:
    return (
        "SELECT revenue, price, qty, currency, product, toString(uid) AS uid, "
        "toString(invid) AS invid, toString(orid) AS orid, paid_at, starts "
        f"FROM payments WHERE vid = '{uuid.UUID(vid)}' ORDER BY revenue"
    )


def payments(server: TrackerServer, vid: str, expected: int) -> list[dict[str, Any]]:
    return server.wait_for(payments_of(vid), expected)


def ltv(server: TrackerServer, ids: list[str], expected: int) -> dict[str, float]:
    listed = ", ".join(f"'{uuid.UUID(i)}'" for i in ids)
    rows = server.wait_for(
        f"SELECT id_type, sum(paid) AS paid FROM ltv WHERE id IN ({listed}) GROUP BY id_type",
        expected,
    )
    return {row["id_type"]: row["paid"] for row in rows}


@pytest.mark.both_stores
def test_a_single_payment_stores_one_payment_and_ltv_totals_for_uid_and_vid(
    server: TrackerServer,
) -> None:
    vid, uid = str(uuid.uuid4()), str(uuid.uuid4())
    answer = post(
        server,
        {
            "vid": vid,
            "uid": uid,
            "amt": 99.99,
            "currency": "usd",
            "orid": "order-123",
            "product": "Plan Pro",
            "paid_at": "2024-05-01t12:30:00z",
        },
        origin=ORIGIN,
    )
    assert (answer.status_code, answer.content) == (200, b"")
    assert answer.headers["access-control-allow-origin"] == ORIGIN

    [row] = payments(server, vid, 1)
    assert row["revenue"] == 99.99
    assert row["currency"] == "USD"
    assert row["uid"] == uid
    assert row["product"] == "Plan Pro"  # free text keeps its case
    assert row["orid"] == "00000000-0000-0000-0000-000000000000"  # not a UUID: left out, as in Go
    assert row["paid_at"] == "2024-05-01 12:30:00.000"  # lowercased RFC 3339 still parses
    assert ltv(server, [vid, uid], 2) == {"uid": 99.99, "vid": 99.99}


@pytest.mark.both_stores
def test_a_batch_sums_its_line_items_in_decimal_and_keys_orid_by_invid(
    server: TrackerServer,
) -> None:
    vid, invid = str(uuid.uuid4()), str(uuid.uuid4())
    items = [
        {"amt": 50.0, "currency": "eur"},
        {"amt": "25.10"},
        {"revenue": 0.1, "amt": 9},
        {"amt": 0.2},
    ]
    assert (
        post(server, {"vid": vid, "invid": invid, "currency": "EUR", "payments": items}).status_code
        == 200
    )

    rows = payments(server, vid, 4)
    assert [r["revenue"] for r in rows] == [0.1, 0.2, 25.1, 50]  # revenue wins over amt
    assert {r["currency"] for r in rows} == {"EUR"}  # items without one take the request's
    assert {r["invid"] for r in rows} == {invid}
    # 50 + 25.10 + 0.1 + 0.2 in floats is 75.39999999999999; summed as decimals it is 75.4
    assert ltv(server, [vid, invid], 2) == {"vid": 75.4, "orid": 75.4}


@pytest.mark.both_stores
def test_get_reads_the_payment_from_the_query_and_the_vid_from_the_cookie(
    server: TrackerServer,
) -> None:
    vid = str(uuid.uuid4())
    answer = httpx.get(
        f"{server.url}/tr/v1/ltv/?amt=12.5&currency=GBP&qty=3&price=4.1666",
        headers={"cookie": f"vid={vid}"},
    )
    assert answer.status_code == 200
    [row] = payments(server, vid, 1)
    assert (row["revenue"], row["currency"], row["qty"], row["price"]) == (12.5, "GBP", 3, 4.1666)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"amt": "NaN"}, "Field 'amt' is 'NaN': expected a finite number."),
        ({"amt": "Infinity"}, "expected a finite number"),
        ({"amt": "12,50"}, "Field 'amt' has value '12,50': expected a number."),
        ({"amt": True}, "Field 'amt' is a boolean"),
        ({"price": [1]}, "Field 'price' must be a number"),
        ({"amt": "1e16"}, "less than 10^15"),
        ({"amt": 1, "currency": "ZZZ"}, "'ZZZ': expected an ISO 4217 currency code"),
        ({"amt": 1, "currency": 840}, "ISO 4217"),
        ({"payments": [{"amt": 1}, {"amt": 2, "currency": "XYZ"}]}, "'payments[1].currency'"),
        (
            {"payments": [{"amt": 1, "currency": "USD"}, {"amt": 1, "currency": "EUR"}]},
            "one currency",
        ),
        ({"amt": 1, "paid_at": "yesterday"}, "Field 'paid_at' has value 'yesterday'"),
        ({"payments": "all of them"}, "non-empty array"),
        ({"payments": []}, "non-empty array"),
        ({"payments": [{"amt": 1}, 2]}, "Element 1 of 'payments' is not a JSON object."),
    ],
)
def test_bad_money_is_refused_with_400_naming_the_field_and_nothing_is_stored(
    server: TrackerServer, body: dict[str, Any], message: str
) -> None:
    vid = str(uuid.uuid4())
    answer = post(server, {"vid": vid, **body})
    assert answer.status_code == 400
    assert answer.json()["ok"] is False
    assert message in answer.json()["error"]
    # a good payment for the same visitor afterwards: once it landed, it is the only row
    assert post(server, {"vid": vid, "amt": 1, "product": "good"}).status_code == 200
    rows = server.wait_until(
        payments_of(vid),
        lambda rows: any(row["product"] == "good" for row in rows),
        "the good payment is stored",
    )
    assert [row["product"] for row in rows] == ["good"]


def test_a_body_that_is_not_one_object_is_a_400(server: TrackerServer) -> None:
    for content in (b"[{}]", b"nope", b"42"):
        answer = httpx.post(f"{server.url}/tr/v1/ltv/", content=content)
        assert answer.status_code == 400
        assert answer.json()["status"] == 400


def test_preflight_and_methods(server: TrackerServer) -> None:
    preflight = httpx.options(f"{server.url}/tr/v1/ltv/", headers={"origin": ORIGIN})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-methods"] == "GET,POST,HEAD,PUT,DELETE"
    deleted = httpx.delete(f"{server.url}/tr/v1/ltv/")
    assert deleted.status_code == 405
    assert deleted.json() == {
        "ok": False,
        "status": 405,
        "error": "Method not allowed: use GET, POST or PUT.",
    }


def test_amounts_are_read_through_their_shortest_decimal_text() -> None:
    assert parse_amount("amt", 99.99) == Decimal("99.99")
    assert parse_amount("amt", 0.1) + parse_amount("amt", 0.2) == Decimal("0.3")
    assert parse_amount("amt", " -5.25 ") == Decimal("-5.25")
    with pytest.raises(InvalidEvent):
        parse_amount("amt", "sNaN")
