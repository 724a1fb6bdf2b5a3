"""Privacy through a running server: consent bits, UseRemoveIP everywhere, the forget route."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import FAST_BATCHES, TrackerServer, cli, serving
from tracker.datadir import DataDir
from tracker.normalise.hashing import iphash

CLIENT_IP = "203.0.113.77"  # arrives in X-Forwarded-For from a trusted proxy (the test itself)
ADMIN, PASSWORD = str(uuid.uuid4()), "forget-me-not password"
ANALYTICS = 4  # CFlagsAnalytics: bit 2
CONFIG = {
    **FAST_BATCHES,
    "UseRemoveIP": True,
    "TrustedProxies": ["127.0.0.1"],
    "CFlagsAnalytics": ANALYTICS,
    "DataRetentionDays": 400,
    "Domains": ["localhost"],
    "BatchPolicies": {  # hosts and counters too: waiting until everything is written is quick
        "events": {"MaxBatchTime": "1s"},
        **{table: {"MaxBatchTime": "0.2s"} for table in ("dailies", "hosts", "counters")},
    },
}


@pytest.fixture(scope="module")
def server(store_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerServer]:
    root = tmp_path_factory.mktemp("privacy")
    with serving(store_kind, root, CONFIG, signal.SIGKILL) as running:
        cli(
            "accounts",
            "add",
            "--data-dir",
            str(running.data_dir),
            "--uid",
            ADMIN,
            "--password",
            PASSWORD,
            env=running.env,
        )
        yield running


def track(
    server: TrackerServer, body: dict[str, Any], route: str = "tr", ip: str = CLIENT_IP
) -> httpx.Response:
    headers = {"x-forwarded-for": ip}
    response = httpx.post(f"{server.url}/tr/v1/{route}/", json=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response


def dropped(server: TrackerServer) -> int:
    count: int = httpx.get(f"{server.url}/metrics", timeout=10).json()["dropped"]["no_consent"]
    return count


@pytest.mark.both_stores
def test_events_without_the_analytics_consent_bits_are_answered_but_not_stored(
    server: TrackerServer,
) -> None:
    given, refused, absent, cookie = (str(uuid.uuid4()) for _ in range(4))
    before = dropped(server)
    assert "vid=" in track(server, {"vid": given, "cflags": ANALYTICS | 1}).headers["set-cookie"]
    assert "set-cookie" not in track(server, {"vid": refused, "cflags": 1 | 8}).headers
    pixel = httpx.get(f"{server.url}/tr/v1/img/?vid={absent}", timeout=10)
    assert (pixel.status_code, pixel.headers.get("set-cookie")) == (200, None)
    consented = httpx.get(
        f"{server.url}/tr/v1/img/?vid={cookie}", headers={"cookie": "CookieConsent=12"}, timeout=10
    )
    assert "vid=" in consented.headers["set-cookie"]
    assert dropped(server) - before == 2
    ids = ", ".join(f"'{v}'" for v in (given, refused, absent, cookie))
    # rows land in the order they were sent: once the last one is stored, the others would be too
    landed = server.wait_until(
        f"SELECT toString(vid) AS vid FROM events WHERE vid IN ({ids})",
        lambda rows: cookie in {r["vid"] for r in rows},
        "the last consented event is stored",
    )
    assert sorted(r["vid"] for r in landed) == sorted([given, cookie])
    # reqs is filled by a view on events: its part is committed a moment after the events part
    counted = server.wait_until(
        f"SELECT toString(vid) AS vid FROM reqs WHERE vid IN ({ids})",
        lambda rows: cookie in {r["vid"] for r in rows},
        "the last consented event is counted in reqs",
    )
    assert sorted(r["vid"] for r in counted) == sorted([given, cookie])


@pytest.mark.both_stores
def test_use_remove_ip_leaves_the_client_ip_in_no_table_and_no_spool_file(
    server: TrackerServer,
) -> None:
    ip = "203.0.113.78"  # this test's own client: the dailies row of its address is its alone
    forwarded = {"x-forwarded-for": ip}
    hashed = iphash(ip, DataDir(server.data_dir).ip_secret())
    vid = str(uuid.uuid4())
    track(server, {"vid": vid, "cflags": ANALYTICS, "ename": "page"}, ip=ip)
    track(server, {"vid": vid, "cflags": ANALYTICS, "ename": "signup"}, route="str", ip=ip)
    agreed = httpx.post(
        f"{server.url}/tr/v1/ppi/agree",
        json={"vid": vid, "cflags": 4},
        headers=forwarded,
        timeout=10,
    )
    assert agreed.status_code == 200
    redirect = httpx.get(
        f"{server.url}/tr/v1/xrdr/?url=/landing&vid={vid}",
        headers={**forwarded, "cookie": f"CookieConsent={ANALYTICS}"},
        timeout=10,
    )
    assert redirect.status_code == 302
    spooled = b"".join(path.read_bytes() for path in (server.data_dir / "spool").glob("*.log"))
    assert vid.encode() in spooled  # the spool holds this visitor's records: the check below counts
    events = server.wait_for(f"SELECT iphash FROM events WHERE vid = '{vid}'", 3)
    server.caught_up()  # after the last request's event landed, so the writer has read that far
    assert {r["iphash"] for r in events} == {hashed}  # the proxy's header counted
    assert server.query(f"SELECT iphash FROM agreements WHERE vid = '{vid}'") == [
        {"iphash": hashed}
    ]
    [daily] = server.query(f"SELECT sum(total) AS n FROM dailies WHERE ip = '{hashed}'")
    assert int(daily["n"]) == 2  # the two client events, counted under the hash
    tables = server.query(
        "SELECT name FROM system.tables WHERE database = 'sfpla' AND engine LIKE '%MergeTree'"
    )
    for table in (row["name"] for row in tables):
        text = str(server.query(f"SELECT * FROM {table}"))
        assert ip not in text, f"{table} holds the raw client IP"
    for path in server.data_dir.rglob("*"):
        if path.is_file() and "clickhouse" not in path.parts:
            assert ip.encode() not in path.read_bytes(), f"{path} holds the raw client IP"


@pytest.mark.both_stores
def test_the_privacy_route_forgets_a_visitor_including_rows_not_yet_written(
    server: TrackerServer,
) -> None:
    vid = str(uuid.uuid4())
    track(server, {"vid": vid, "cflags": ANALYTICS})  # events wait up to 1 s in their batch
    answer = httpx.post(
        f"{server.url}/tr/v1/ppi/forget", json={"vid": vid}, auth=(ADMIN, PASSWORD), timeout=30
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["ok"], body["settled"], body["vids"]) == (True, True, [vid])
    assert body["removed"]["events"] == 1
    # rows land in the order they were sent: once an event sent after the forget is stored, a row
    # of the visitor written late would be stored too
    marker = str(uuid.uuid4())
    track(server, {"vid": marker, "cflags": ANALYTICS})
    server.wait_for(f"SELECT 1 FROM events WHERE vid = '{marker}'", 1)
    assert server.query(f"SELECT count() AS n FROM events WHERE vid = '{vid}'") == [{"n": 0}]
    assert server.query(f"SELECT count() AS n FROM reqs WHERE vid = '{vid}'") == [{"n": 0}]


def test_the_privacy_route_needs_an_account_and_exactly_one_person(server: TrackerServer) -> None:
    url = f"{server.url}/tr/v1/ppi/forget"
    anonymous = httpx.post(url, json={"vid": str(uuid.uuid4())}, timeout=10)
    assert anonymous.status_code == 401
    assert (anonymous.json()["ok"], anonymous.json()["status"]) == (False, 401)
    wrong = httpx.post(url, json={"vid": str(uuid.uuid4())}, auth=(ADMIN, "not it"), timeout=10)
    assert wrong.status_code == 401
    both = {"vid": str(uuid.uuid4()), "uid": str(uuid.uuid4())}
    ambiguous = httpx.post(url, json=both, auth=(ADMIN, PASSWORD), timeout=10)
    assert (ambiguous.status_code, ambiguous.json()["status"]) == (400, 400)
    assert httpx.get(url, auth=(ADMIN, PASSWORD), timeout=10).status_code == 405


@pytest.mark.both_stores
def test_data_retention_days_is_a_ttl_on_the_personal_tables_from_start_up(
    server: TrackerServer,
) -> None:
    rows = server.query(
        "SELECT name, engine_full FROM system.tables WHERE database = 'sfpla' "
        "AND name IN ('events', 'dailies', 'agreements')"
    )
    ttl = {row["name"]: "TTL" in row["engine_full"] for row in rows}
    assert ttl == {"events": True, "dailies": True, "agreements": False}
    events = next(row["engine_full"] for row in rows if row["name"] == "events")
    assert "TTL created_at + toIntervalDay(400)" in events


@pytest.mark.both_stores
def test_prune_and_forget_reach_a_running_tracker_through_its_control_socket(
    server: TrackerServer,
) -> None:
    vid = str(uuid.uuid4())
    track(server, {"vid": vid, "cflags": ANALYTICS})
    server.wait_for(f"SELECT 1 FROM events WHERE vid = '{vid}'", 1)
    data = str(server.data_dir)
    assert "prune finished" in cli("prune", "--logs-only", "--data-dir", data).stdout
    forgot = cli("forget", "--data-dir", data, "--vid", vid)
    assert "  events: 1\n" in forgot.stdout
    assert "the tracker is running" in forgot.stderr
    assert server.query(f"SELECT count() AS n FROM events WHERE vid = '{vid}'") == [{"n": 0}]
