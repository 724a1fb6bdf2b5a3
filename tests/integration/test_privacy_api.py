"""``/tr/v1/ppi/{action}``: consent, jurisdictions and GeoIP."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import FAST_BATCHES, TrackerServer, serving

ORIGIN = "https://site.example"
FAST = {"MaxBatchTime": "0.2s"}
CONFIG = {
    **FAST_BATCHES,
    "AllowOrigin": ORIGIN,
    "UseGeoIP": True,  # with no database configured: the built-in country data answers
    "TrustedProxies": ["127.0.0.1"],  # so a test can speak for another client address
    "BatchPolicies": {"agreements": FAST, "agreed": FAST},
}
ZERO = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="module")
def server(store_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerServer]:
    with serving(store_kind, tmp_path_factory.mktemp("privacy"), CONFIG, signal.SIGKILL) as s:
        yield s


def agree(server: TrackerServer, body: object, **headers: str) -> httpx.Response:
    return httpx.post(f"{server.url}/tr/v1/ppi/agree", json=body, headers=headers, timeout=10)


def listed(server: TrackerServer, query: str, expected: int, **headers: str) -> httpx.Response:
    """GET agree until it lists ``expected`` rows (agreements land after their batch delay)."""
    server.wait_for(f"SELECT 1 FROM agreements FINAL WHERE {query}", expected)
    answer = httpx.get(f"{server.url}/tr/v1/ppi/agree", headers=headers, timeout=10)
    rows: list[dict[str, Any]] = answer.json()
    assert len(rows) == expected, rows
    return answer


@pytest.mark.both_stores
def test_consent_is_stored_in_agreements_and_agreed_and_listed_back_for_the_visitor(
    server: TrackerServer,
) -> None:
    vid = str(uuid.uuid4())
    answer = agree(
        server,
        {
            "VID": vid,
            "cflags": 1024,
            "tz": "America/Los_Angeles",
            "lat": 37.7749,
            "lon": -122.4194,
            "app": 5,
            "ref": "not-a-uuid",
            "w": 1280,
            "utm_source": "Banner",
        },
        origin=ORIGIN,
        **{"user-agent": "Mozilla/5.0 Test"},
    )
    assert (answer.status_code, answer.content) == (200, b"")
    assert answer.headers["access-control-allow-origin"] == ORIGIN

    columns = "cflags, country, lat, lon, app, toString(ref) AS ref, vp_w, source, browser"
    for table in ("agreements", "agreed"):
        [row] = server.wait_for(f"SELECT {columns} FROM {table} WHERE vid = '{vid}'", 1)
        assert row == {
            "cflags": 1024,
            "country": "US",  # from the time zone
            "lat": 37.7749,
            "lon": -122.4194,
            "app": "5",  # a number in a String column is text, not a dropped batch
            "ref": ZERO,
            "vp_w": 1280,
            "source": "Banner",
            "browser": "mozilla/5.0 test",
        }

    got = httpx.get(
        f"{server.url}/tr/v1/ppi/agree", params={"vid": vid}, headers={"origin": ORIGIN}
    )
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/json"
    assert got.headers["access-control-allow-origin"] == ORIGIN
    [listed_row] = got.json()
    assert listed_row["vid"] == vid
    assert listed_row["cflags"] == 1024  # a JSON number, not a quoted Int64
    assert listed_row["country"] == "US"
    assert "ip" not in listed_row
    assert listed_row["iphash"]


@pytest.mark.both_stores
def test_the_vid_cookie_names_the_visitor_when_the_body_or_query_does_not(
    server: TrackerServer,
) -> None:
    vid = str(uuid.uuid4())
    assert agree(server, {"cflags": 3}, cookie=f"vid={vid}").status_code == 200
    answer = listed(server, f"vid = '{vid}'", 1, cookie=f"vid={vid}")
    assert answer.json()[0]["cflags"] == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The body is empty"),
        (b"{not json", "not valid JSON"),
        (b"[{}]", "not an array"),
        (b'{"cflags": 1}', "Field 'vid' must be the visitor's UUID"),
        (b'{"vid": "user-id"}', "Field 'vid' must be the visitor's UUID"),
    ],
)
def test_a_bad_consent_body_is_a_400_json_error(
    server: TrackerServer, content: bytes, message: str
) -> None:
    answer = httpx.post(f"{server.url}/tr/v1/ppi/agree", content=content)
    assert answer.status_code == 400
    assert answer.json()["ok"] is False
    assert message in answer.json()["error"]


@pytest.mark.parametrize(
    ("query", "message"),
    [("", "'vid' is required"), ("?vid=user-id", "'user-id': expected a UUID")],
)
def test_listing_agreements_needs_a_uuid_vid(
    server: TrackerServer, query: str, message: str
) -> None:
    answer = httpx.get(f"{server.url}/tr/v1/ppi/agree{query}")
    assert answer.status_code == 400
    assert message in answer.json()["error"]


@pytest.mark.both_stores
def test_jurisdictions_lists_every_row_with_its_json_rules(server: TrackerServer) -> None:
    server.query(
        "INSERT INTO jurisdictions FORMAT JSONEachRow "
        '{"regulation":"gdpr","compliance":"cookie-time","seq":2,'
        '"rules":{"analytics":730,"essential":"session"},"locs":{"country":"DE"}}\n'
        '{"regulation":"ccpa","compliance":"opt-out","seq":1,"rules":{},"locs":{"region":"ca"}}'
    )
    answer = httpx.get(f"{server.url}/tr/v1/ppi/jds", headers={"origin": ORIGIN})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    rows = [{k: v for k, v in row.items() if k != "updated_at"} for row in answer.json()]
    assert rows == [
        {
            "regulation": "ccpa",
            "compliance": "opt-out",
            "seq": 1,
            "rules": {},
            "locs": {"region": "ca"},
        },
        {
            "regulation": "gdpr",
            "compliance": "cookie-time",
            "seq": 2,
            "rules": {"analytics": 730, "essential": "session"},
            "locs": {"country": "DE"},
        },
    ]


def test_geoip_refuses_an_address_that_does_not_parse(server: TrackerServer) -> None:
    answer = httpx.get(f"{server.url}/tr/v1/ppi/geoip", params={"ip": "999.1.1.1"})
    assert answer.status_code == 400
    assert "expected an IPv4 or IPv6 address" in answer.json()["error"]


def test_geoip_answers_the_record_of_an_address_in_the_go_trackers_shape(
    server: TrackerServer,
) -> None:
    answer = httpx.get(f"{server.url}/tr/v1/ppi/geoip", params={"ip": "8.8.8.8"})
    assert answer.status_code == 200
    record = answer.json()
    assert list(record) == [
        "ips",
        "ipe",
        "iso2",
        "country",
        "region",
        "city",
        "lat",
        "lon",
        "zip",
        "tz",
    ]
    assert record["iso2"] == "US"
    assert int(record["ips"]) <= 0x08080808 <= int(record["ipe"])


def test_geoip_without_ip_looks_up_the_client_and_a_private_address_is_not_found(
    server: TrackerServer,
) -> None:
    answer = httpx.get(f"{server.url}/tr/v1/ppi/geoip")  # from 127.0.0.1
    assert answer.status_code == 404
    assert answer.json()["error"] == "No GeoIP record covers 127.0.0.1."


def test_consent_without_a_time_zone_takes_the_country_from_geoip(server: TrackerServer) -> None:
    vid = str(uuid.uuid4())
    assert agree(server, {"vid": vid}, **{"x-real-ip": "8.8.8.8"}).status_code == 200
    [row] = server.wait_for(f"SELECT country, ip FROM agreements WHERE vid = '{vid}'", 1)
    assert row == {"country": "US", "ip": "8.8.8.8"}


def test_unknown_actions_and_paths_and_the_preflight(server: TrackerServer) -> None:
    unknown = httpx.get(f"{server.url}/tr/v1/ppi/nonsense")
    assert unknown.status_code == 400
    assert "Unknown action 'nonsense'" in unknown.json()["error"]
    for path in ("/tr/v1/ppi/", "/tr/v1/ppi/agree/extra", "/tr/v1/ppi"):
        assert httpx.get(server.url + path).status_code == 404
    preflight = httpx.options(f"{server.url}/tr/v1/ppi/agree/extra", headers={"origin": ORIGIN})
    assert preflight.status_code == 200
    assert "Content-Type" in preflight.headers["access-control-allow-headers"]
