"""Tracking end to end: a real `tracker serve` on a real socket, rows read back from chDB.

One server serves the module (each test uses its own vid or marker, so tests do not interfere);
the graceful-shutdown test starts its own. Stored `events` rows of every transport are pinned
in `snapshots/` (see `snapshot.py`; regenerate with UPDATE_SNAPSHOTS=1 and review by hand).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from tests.conftest import FAST_BATCHES, TrackerServer, serving
from tests.integration.snapshot import assert_snapshot, placeholders

from tracker.sinks.chdb import ChdbSink

UA = "tracker-tests/1.0"
CONFIG = {**FAST_BATCHES, "MaxBodyBytes": 65536}
ORG = "a1b2c3d4-0000-4000-8000-000000000001"
USER = "a1b2c3d4-0000-4000-8000-000000000002"
SESSION = "a1b2c3d4-0000-4000-8000-00000000005e"
IPHASH = re.compile(r"[0-9a-f]{32}")
JA4H = re.compile(
    r"[a-z]{2}(11|20)[cn][rn][0-9]{2}[a-z0-9]{4}_[0-9a-f]{12}_[0-9a-f]{12}_[0-9a-f]{12}"
)


@pytest.fixture(scope="module")
def tracker(store_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerServer]:
    with serving(store_kind, tmp_path_factory.mktemp("tracking"), CONFIG) as server:
        yield server


@pytest.fixture(scope="module")
def client(tracker: TrackerServer) -> Iterator[httpx.Client]:
    headers = {"User-Agent": UA, "Accept-Language": "en-GB,en;q=0.9"}
    with httpx.Client(base_url=tracker.url, headers=headers, timeout=10) as http:
        # No cookie jar: each test is a new browser (the vid and sid cookies would carry over).
        http.event_hooks["response"] = [lambda response: http.cookies.clear()]
        yield http


def new_vid() -> str:
    return str(uuid.uuid4())


def stored(tracker: TrackerServer, vid: str, expected: int) -> list[dict[str, Any]]:
    rows = tracker.wait_for(
        f"SELECT * FROM events WHERE vid = '{vid}' ORDER BY ename, etyp, eid", expected
    )
    assert len(rows) == expected, rows
    return rows


def pinned(row: dict[str, Any], *, eid: str = "<eid>", sid: str | None = None) -> dict[str, Any]:
    """The row with its volatile columns checked, then replaced by placeholders."""
    created = datetime.fromisoformat(row["created_at"]).replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=10)
    assert IPHASH.fullmatch(row["iphash"])
    assert JA4H.fullmatch(row["ja4h"]), row["ja4h"]
    volatile = {"eid": eid, "created_at": "<created_at>", "iphash": "<iphash>", "ja4h": "<ja4h>"}
    if sid is not None:
        assert uuid.UUID(row["sid"]).version == 7
        volatile["sid"] = sid
    return placeholders(row, **volatile)


# --- one test per transport, each pinned by a snapshot --------------------------------------------


@pytest.mark.both_stores
def test_a_url_path_get_stores_the_path_pairs(tracker: TrackerServer, client: httpx.Client) -> None:
    vid = "0a000000-0000-4000-8000-000000000001"
    response = client.get(f"/tr/v1/tr/vid/{vid}/ename/page_view/etyp/view")
    assert (response.status_code, response.content) == (200, b"")
    rows = stored(tracker, vid, 1)
    assert_snapshot("url_path_get", [pinned(rows[0], sid="<generated sid>")])


@pytest.mark.both_stores
def test_a_query_get_stores_fields_utm_values_and_params(
    tracker: TrackerServer, client: httpx.Client
) -> None:
    vid = "0a000000-0000-4000-8000-000000000002"
    query = {
        "vid": vid, "sid": SESSION, "ename": "Signup", "etyp": "Click",
        "utm_source": "Newsletter", "utm_campaign": "Spring", "tz": "Europe/Berlin",
        "url": "https://Shop.example.com/Landing?ref=x", "color": "Red", "qty": "3",
    }  # fmt: skip
    assert client.get("/tr/v1/tr/", params=query).status_code == 200
    assert_snapshot("query_get", [pinned(row) for row in stored(tracker, vid, 1)])


@pytest.mark.both_stores
def test_a_json_post_stores_every_column_it_names(
    tracker: TrackerServer, client: httpx.Client
) -> None:
    vid = "0a000000-0000-4000-8000-000000000003"
    body = {
        "vid": vid, "sid": SESSION, "uid": USER, "oid": ORG, "org": "Acme",
        "ename": "Add_To_Cart", "etyp": "Commerce", "app": "Shop", "rel": "2.1",
        "url": "https://shop.example.com/p/42", "last": "https://www.google.com/search?q=x",
        "tz": "America/Los_Angeles", "device": "Desktop", "os": "macOS", "zip": 94107,
        "score": 4.5, "duration": 1200, "ver": 3, "lat": 37.77, "lon": -122.42, "w": 1440, "h": 900,
        "subject": "Mixed Case Text", "email": "Buyer@Example.com", "targets": {"variant": "B"},
        "params": {"sku": "SKU-42", "price": "19.99", "when": "2024-01-02T03:04:05Z"},
    }  # fmt: skip
    assert client.post("/tr/v1/tr/", json=body).status_code == 200
    rows = stored(tracker, vid, 1)
    assert "buyer@example.com" not in orjson.dumps(rows).decode().lower()
    assert_snapshot("json_post", [pinned(row) for row in rows])
    emails = tracker.wait_for(f"SELECT ehash FROM emails WHERE vid = '{vid}'", 1)
    assert emails == [
        {"ehash": "Tr1k-JdbifVkptJZOK3cG9Hez-Y="}
    ]  # base64url(SHA-1("buyer@example.com"))


@pytest.mark.both_stores
def test_a_form_post_stores_the_same_fields(tracker: TrackerServer, client: httpx.Client) -> None:
    vid = "0a000000-0000-4000-8000-000000000004"
    form = {
        "vid": vid,
        "ename": "Newsletter_Signup",
        "etyp": "Form",
        "utm_medium": "Email",
        "plan": "Pro",
    }
    assert client.post("/tr/v1/tr/", data=form).status_code == 200
    rows = stored(tracker, vid, 1)
    assert_snapshot("form_post", [pinned(row, sid="<generated sid>") for row in rows])


@pytest.mark.both_stores
def test_a_json_array_post_stores_one_row_per_element(
    tracker: TrackerServer, client: httpx.Client
) -> None:
    vid = "0a000000-0000-4000-8000-000000000005"
    batch = [
        {"vid": vid, "sid": SESSION, "ename": "batch_a", "etyp": "batch"},
        {"vid": vid, "sid": SESSION, "ename": "batch_b", "etyp": "batch", "duration": "15"},
        {"vid": vid, "sid": SESSION, "ename": "batch_c", "content": "sports,news", "oid": ORG},
    ]
    assert client.post("/tr/v1/tr/", json=batch).status_code == 200
    assert_snapshot("json_array_post", [pinned(row) for row in stored(tracker, vid, 3)])
    interests = tracker.wait_for(
        f"SELECT content_tags FROM visitor_interests WHERE vid = '{vid}'", 1
    )
    assert interests == [{"content_tags": ["sports", "news"]}]


@pytest.mark.both_stores
def test_a_put_body_is_read_like_a_post(tracker: TrackerServer, client: httpx.Client) -> None:
    vid = "0a000000-0000-4000-8000-000000000006"
    body = {"vid": vid, "sid": SESSION, "ename": "put_event", "etyp": "put", "size": "L"}
    assert client.put("/tr/v1/tr/", json=body).status_code == 200
    assert_snapshot("put_body", [pinned(row) for row in stored(tracker, vid, 1)])


@pytest.mark.both_stores
def test_the_pixel_answers_a_gif_and_stores_its_query(
    tracker: TrackerServer, client: httpx.Client
) -> None:
    vid = "0a000000-0000-4000-8000-000000000007"
    query = {
        "vid": vid,
        "sid": SESSION,
        "ename": "Email_Open",
        "etyp": "Pixel",
        "utm_source": "Mail",
    }
    response = client.get("/tr/v1/img/", params=query)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert "no-store" in response.headers["cache-control"]
    assert response.content.startswith(b"GIF89a")
    assert response.content.endswith(b";")
    assert_snapshot("pixel", [pinned(row) for row in stored(tracker, vid, 1)])


@pytest.mark.both_stores
def test_str_answers_the_stored_event_id_and_honours_a_client_eid(
    tracker: TrackerServer, client: httpx.Client
) -> None:
    vid = "0a000000-0000-4000-8000-000000000008"
    body = {"vid": vid, "sid": SESSION, "oid": ORG, "ename": "Server_Event", "etyp": "Conversion"}
    generated = client.post("/tr/v1/str/", json={**body, "revenue": "99.99"})
    assert generated.headers["content-type"] == "application/json"
    given = "0b000000-0000-4000-8000-0000000000e1"
    chosen = client.post(
        "/tr/v1/str/", json={**body, "etyp": "Given_Eid", "eid": given.replace("-", "")}
    )
    assert chosen.json() == given
    rows = {row["etyp"]: row for row in stored(tracker, vid, 2)}
    assert rows["conversion"]["eid"] == generated.json()
    assert rows["given_eid"]["eid"] == given
    assert_snapshot(
        "str",
        [pinned(rows["conversion"]), pinned(rows["given_eid"], eid=rows["given_eid"]["eid"])],
    )


# --- compatibility with the seed README and browsers -------------------------------------------

README_TR_BODY = """{
    "vid": "14fb0860-b4bf-11e9-8971-7b80435315ac",
    "sid": "session-123",
    "ename": "page_view",
    "etyp": "view",
    "url": "https://example.com/page",
    "tz": "America/Los_Angeles",
    "device": "Desktop",
    "os": "macOS"
  }"""
README_STR_BODY = """{
    "vid": "14fb0860-b4bf-11e9-8971-7b80435315ac",
    "oid": "org-id",
    "ename": "server_event",
    "etyp": "conversion",
    "revenue": "99.99"
  }"""


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    assert shutil.which("curl"), "curl is not installed: `make test` installs it"
    return subprocess.run(
        ["curl", "-sS", "-i", *args], capture_output=True, text=True, timeout=30, check=True
    )


@pytest.mark.both_stores
def test_the_seed_readme_curl_examples_work_as_written(tracker: TrackerServer) -> None:
    rest = curl(f"{tracker.url}/tr/v1/tr/vid/USER_ID/ename/page_view/etyp/view")
    assert rest.stdout.startswith("HTTP/1.1 200")
    cookie = re.search(r"(?im)^set-cookie: vid=([0-9a-f-]{36});", rest.stdout)
    assert cookie, rest.stdout  # USER_ID is not a UUID: the visitor gets a new id
    json_post = f"{tracker.url}/tr/v1/tr/"
    tr = curl("-H", "Content-Type: application/json", "-X", "POST", json_post, "-d", README_TR_BODY)
    assert tr.stdout.startswith("HTTP/1.1 200")
    st = curl(
        "-H",
        "Content-Type: application/json",
        "-X",
        "POST",
        f"{tracker.url}/tr/v1/str/",
        "-d",
        README_STR_BODY,
    )
    assert st.stdout.startswith("HTTP/1.1 200")
    eid = orjson.loads(st.stdout.split("\n\n", 1)[1])  # text mode turned \r\n into \n
    assert uuid.UUID(eid)
    rows = stored(tracker, "14fb0860-b4bf-11e9-8971-7b80435315ac", 2)
    assert [(r["ename"], r["etyp"], r["url"], r["country"]) for r in rows] == [
        ("page_view", "view", "//example.com/page", "US"),
        ("server_event", "conversion", "", ""),
    ]
    assert rows[1]["eid"] == eid
    assert stored(tracker, cookie.group(1), 1)[0]["ename"] == "page_view"


def test_the_cors_preflight_allows_content_type_and_echoes_the_origin(client: httpx.Client) -> None:
    origin = "https://shop.example.com"
    headers = {"Origin": origin, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "content-type"}  # fmt: skip
    for route in ("/tr/v1/tr/", "/tr/v1/str/"):
        response = client.options(route, headers=headers)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == origin
        assert response.headers["access-control-allow-credentials"] == "true"
        allowed = response.headers["access-control-allow-headers"].lower().split(",")
        assert "content-type" in allowed
        assert "POST" in response.headers["access-control-allow-methods"]


def test_tr_and_img_set_a_long_lived_vid_cookie_and_str_does_not(client: httpx.Client) -> None:
    for route in ("/tr/v1/tr/", "/tr/v1/img/"):
        vid = new_vid()
        response = client.get(route, params={"vid": vid, "ename": "cookie_check"})
        cookies = [c for c in response.headers.get_list("set-cookie") if c.startswith("vid=")]
        assert len(cookies) == 1, route
        attributes = dict(
            [*part.split("=", 1), ""][:2] for part in (p.strip() for p in cookies[0].split(";"))
        )
        assert attributes["vid"] == vid
        assert attributes["Path"] == "/"
        expires = parsedate_to_datetime(attributes["Expires"])
        assert expires > datetime.now(UTC) + timedelta(days=365 * 100)
    response = client.post("/tr/v1/str/", json={"vid": new_vid(), "ename": "cookie_check"})
    assert not [c for c in response.headers.get_list("set-cookie") if c.startswith("vid=")]


def test_post_without_the_trailing_slash_is_tracked_not_redirected(
    tracker: TrackerServer, client: httpx.Client
) -> None:
    vid = new_vid()
    response = client.post(
        "/tr/v1/tr", json={"vid": vid, "ename": "no_slash"}, follow_redirects=False
    )
    assert response.status_code == 200
    assert stored(tracker, vid, 1)[0]["ename"] == "no_slash"


def test_the_store_keeps_a_batch_spanning_more_than_a_hundred_partitions(tmp_path: Path) -> None:
    # events are partitioned by (oid, month). chDB's streaming insert dropped a batch over 100
    # partitions without an error; the sink must store it (or fail loudly, never silently).
    sink = ChdbSink(tmp_path / "clickhouse", database="sfpla")
    try:
        sink.query(
            "CREATE TABLE parted (oid UUID, n Int32) ENGINE = MergeTree PARTITION BY oid ORDER BY n"
        )
        sink.write("parted", [orjson.dumps({"oid": str(uuid.uuid4()), "n": n}) for n in range(150)])
        assert sink.query("SELECT count() AS n FROM parted") == b'{"n":150}\n'
    finally:
        sink.close()


@pytest.mark.both_stores
def test_the_store_takes_json_with_a_key_that_repeats_a_nested_path(
    tracker: TrackerServer, client: httpx.Client
) -> None:
    vid = new_vid()  # ClickHouse reads "a.b" as the path a -> b, which the object also has
    body = {"vid": vid, "ename": "dotted", "params": {"a.b": 1, "a": {"b": 2, "c": 3}}}
    assert client.post("/tr/v1/tr/", json=body).status_code == 200
    assert stored(tracker, vid, 1)[0]["params"]["a"]["c"] == 3


# --- bad input, probes --------------------------------------------------------------------------

# Arrays nested too deep to encode (deep objects are cut at MaxParamKeys keys and stored).
DEEP = b'{"ename": "deep", "targets": {"a": ' + b"[" * 300 + b"]" * 300 + b"}}"
BAD_BODIES: dict[str, tuple[bytes, int]] = {
    "invalid json": (b'{"ename": "broken', 400),
    "not an object": (b'"just a string"', 400),
    "over MaxBodyBytes": (orjson.dumps({"ename": "big", "pad": "x" * 70000}), 413),
    "object in ename": (b'{"ename": {"nested": true}}', 400),
    "nested too deep": (DEEP, 400),
}


@pytest.mark.both_stores
def test_a_malformed_event_gets_a_json_4xx_and_costs_no_good_event(
    tracker: TrackerServer,
) -> None:
    marker = f"burst-{uuid.uuid4().hex[:12]}"

    async def burst() -> list[httpx.Response]:
        good = [orjson.dumps({"ename": "good", "etyp": marker, "n": i}) for i in range(40)]
        bodies = good[:20] + [body for body, _ in BAD_BODIES.values()] + good[20:]
        async with httpx.AsyncClient(base_url=tracker.url, timeout=10) as http:
            return await asyncio.gather(*(http.post("/tr/v1/tr/", content=b) for b in bodies))

    responses = asyncio.run(burst())
    bad = responses[20:25]
    assert [r.status_code for r in responses[:20] + responses[25:]] == [200] * 40
    for (name, (_, status)), response in zip(BAD_BODIES.items(), bad, strict=True):
        assert response.status_code == status, name
        assert response.headers["content-type"] == "application/json", name
        body = response.json()
        assert body == {"ok": False, "error": body["error"], "status": status}, name
        assert isinstance(body["error"], str), name
        assert body["error"], name
    tracker.wait_until(
        f"SELECT count() AS n FROM events WHERE etyp = '{marker}'",
        lambda rows: rows == [{"n": 40}],
        "all 40 good events are stored",
    )


def test_a_5000_digit_value_is_kept_as_text_and_costs_nothing_else(
    tracker: TrackerServer, client: httpx.Client
) -> None:
    vid = new_vid()  # Python refuses to turn a 5000-digit string into an int: it once gave a 500
    response = client.post("/tr/v1/tr/", json={"vid": vid, "ename": "digits", "n": "1" * 5000})
    assert response.status_code == 200
    after = new_vid()
    assert client.post("/tr/v1/tr/", json={"vid": after, "ename": "after"}).status_code == 200
    stored(tracker, after, 1)
    [row] = stored(tracker, vid, 1)
    assert row["params"]["n"] == "1" * 5000


def test_a_body_cut_off_by_a_disconnect_is_not_recorded(
    tracker: TrackerServer, client: httpx.Client
) -> None:
    vid = new_vid()
    body = f"vid={vid}&ename=cut_off&etyp=partial".encode()
    head = (
        "POST /tr/v1/tr/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body) + 100}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", tracker.port), timeout=10) as raw:
        raw.sendall(head.encode() + body)  # then hang up before the promised 100 bytes
    sentinel = new_vid()
    assert (
        client.post("/tr/v1/tr/", json={"vid": sentinel, "ename": "after_cut"}).status_code == 200
    )
    stored(tracker, sentinel, 1)
    assert tracker.query(f"SELECT eid FROM events WHERE vid = '{vid}'") == []


def test_health_and_metrics_answer_and_write_no_event(
    tracker: TrackerServer, client: httpx.Client
) -> None:
    before = tracker.query("SELECT count() AS n FROM events")[0]["n"]
    health = client.get("/health")
    assert health.status_code == 200
    assert health.headers["content-type"].startswith("application/json")
    assert health.json()["ok"] is True
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("application/json")
    batching = metrics.json()["batching"]
    for key in ("enabled", "total_batches", "total_items", "failed_batches", "queued_items",
                "avg_batch_size", "avg_flush_latency_ms", "memory_usage_mb", "last_flush_time"):  # fmt: skip
        assert key in batching, key
    assert batching["total_items"] > 0
    for response in (
        client.get("/metrics", headers={"Accept": "text/plain"}),
        client.get("/metrics", params={"format": "prometheus"}),
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert "# TYPE tracker_events" in response.text
    sentinel = new_vid()  # lands after anything the probes might have queued
    client.post("/tr/v1/str/", json={"vid": sentinel, "ename": "sentinel"})
    stored(tracker, sentinel, 1)
    assert tracker.query("SELECT count() AS n FROM events")[0]["n"] == before + 1


# --- load and shutdown -------------------------------------------------------------------------


def test_a_thousand_concurrent_events_are_all_stored_by_a_graceful_shutdown(
    make_server: Any, tmp_path: Path
) -> None:
    server: TrackerServer = make_server(config=FAST_BATCHES)

    async def send_all() -> list[int]:
        gate = asyncio.Semaphore(50)
        # The client drops an idle connection before the server's 5 s keep-alive timeout can:
        # otherwise a POST may go out on a connection the server is closing (a ReadError).
        limits = httpx.Limits(max_connections=50, keepalive_expiry=2)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as http:

            async def one(n: int) -> int:
                async with gate:
                    body = {"vid": str(uuid.uuid4()), "ename": "load", "etyp": f"n{n}"}
                    return (await http.post("/tr/v1/tr/", json=body)).status_code

            return await asyncio.gather(*(one(n) for n in range(1000)))

    assert asyncio.run(send_all()) == [200] * 1000
    assert server.stop() == 0
    rows = server.query(
        "SELECT count() AS n, uniqExact(eid) AS eids, uniqExact(etyp) AS etyps FROM events"
    )
    assert rows == [{"n": 1000, "eids": 1000, "etyps": 1000}]
