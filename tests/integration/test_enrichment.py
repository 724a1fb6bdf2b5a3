"""GeoIP and user-agent enrichment through a real server: `tracker geoip import` first, then
events from "clients" behind a trusted proxy (X-Forwarded-For names their address)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import orjson
import pytest

from conftest import FAST_BATCHES, TrackerServer, cli

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
US = ("US", "United States of America", "California", "Mountain View", "37.5", "-122.25", "94043", "-07:00")  # fmt: skip
IE = ("IE", "Ireland", "Dublin", "Dublin", "53.25", "-6.25", "D02", "+01:00")
V4 = [(134744064, 134744319, US)]  # 8.8.8.0/24
V6 = [(42541956101370907050197289607612071936, 42541956180599069564461627201156022271, US),
      (55827987809411540836515382960316219392, 55827987888639703350779720553860169727, IE)]  # fmt: skip


def zipped_csv(folder: Path, name: str, rows: list[tuple[int, int, tuple[str, ...]]]) -> Path:
    text = "".join(",".join(f'"{v}"' for v in (a, b, *fields)) + "\r\n" for a, b, fields in rows)
    archive = folder / (name + ".ZIP")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr(name + ".CSV", text)
        out.writestr("README_LITE.TXT", "attribution")
    return archive


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("enrich")
    v4 = zipped_csv(folder, "IP2LOCATION-LITE-DB11", V4)
    v6 = zipped_csv(folder, "IP2LOCATION-LITE-DB11.IPV6", V6)
    data = folder / "data"
    result = cli("geoip", "import", str(v4), str(v6), "--data-dir", str(data))
    return data, result.stderr + result.stdout


@pytest.fixture(scope="module")
def server(imported: tuple[Path, str]) -> Iterator[TrackerServer]:
    config = {
        **FAST_BATCHES,
        "UseGeoIP": True,
        "UseRegionDescriptions": True,
        "TrustedProxies": ["127.0.0.1"],
    }
    running = TrackerServer(imported[0], config).start()
    yield running
    if running.running:
        running.stop()


def track(server: TrackerServer, ip: str, agent: str, **body: Any) -> dict[str, Any]:
    vid = str(uuid4())
    answer = httpx.post(
        f"{server.url}/tr/v1/tr/",
        json={"ename": "enrich", "vid": vid, **body},
        headers={"x-forwarded-for": ip, "user-agent": agent, "host": f"{vid[:8]}.example"},
    )
    assert answer.is_success, answer.text
    (row,) = server.wait_for(
        "SELECT country, region, city, zip, lat, lon, browser, os, device, bhash, hhash,"
        f" toJSONString(params) AS params FROM events WHERE vid = '{vid}'",
        1,
    )
    row["params"] = orjson.loads(row["params"])
    return row


def place(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["country"], row["region"], row["city"], row["zip"], row["lat"], row["lon"])


def test_the_import_shows_its_progress_and_where_it_wrote(imported: tuple[Path, str]) -> None:
    data, output = imported

    assert "100%" in output
    assert (data / "geoip" / "geoip.store").exists()
    assert "restart" in output


def test_an_event_gets_location_browser_os_and_device_from_its_request(
    server: TrackerServer,
) -> None:
    row = track(server, "8.8.8.8", CHROME)

    assert place(row) == ("US", "california", "mountain view", "94043", 37.5, -122.25)
    assert (row["browser"], row["os"], row["device"]) == ("chrome", "linux", "desktop")
    assert row["params"] == {}


def test_an_ipv6_client_is_located_too(server: TrackerServer) -> None:
    row = track(server, "2a00:1450:4009::200e", CHROME)

    assert place(row) == ("IE", "dublin", "dublin", "D02", 53.25, -6.25)


def test_the_clients_own_values_are_kept(server: TrackerServer) -> None:
    row = track(
        server, "8.8.8.8", CHROME, country="fr", city="Paris", os="iOS", device="mobile", lat=48.75, lon=2.25
    )  # fmt: skip

    assert place(row) == ("FR", "", "paris", "", 48.75, 2.25)
    assert (row["browser"], row["os"], row["device"]) == ("chrome", "ios", "mobile")


def test_a_bot_is_flagged_and_counted_under_its_browser_family(server: TrackerServer) -> None:
    row = track(server, "8.8.8.8", GOOGLEBOT, params={"plan": "pro"})

    assert row["params"] == {"plan": "pro", "bot": True}
    assert row["browser"] == "googlebot"
    counted = server.wait_for(
        f"SELECT browser, sum(total) AS n FROM browsers WHERE hhash = '{row['hhash']}'"
        f" AND bhash = '{row['bhash']}' GROUP BY browser",
        1,
    )
    assert [(c["browser"], int(c["n"])) for c in counted] == [("googlebot", 1)]


def test_an_address_the_database_does_not_hold_gets_no_location(server: TrackerServer) -> None:
    assert place(track(server, "10.20.30.40", CHROME)) == ("", "", "", "", 0, 0)


def test_the_privacy_route_answers_in_the_go_json_shape(server: TrackerServer) -> None:
    answer = httpx.get(f"{server.url}/tr/v1/ppi/geoip", params={"ip": "8.8.8.8"})

    assert answer.status_code == 200
    assert list(answer.json().items()) == [
        ("ips", "134744064"), ("ipe", "134744319"), ("iso2", "US"),
        ("country", "United States of America"), ("region", "California"),
        ("city", "Mountain View"), ("lat", 37.5), ("lon", -122.25), ("zip", "94043"),
        ("tz", "-07:00"),
    ]  # fmt: skip


def test_the_lookup_command_answers_from_the_imported_data_while_serving(
    server: TrackerServer, imported: tuple[Path, str]
) -> None:
    data = str(imported[0])
    found = cli("geoip", "lookup", "2a00:1450::1", "--data-dir", data)
    missing = cli("geoip", "lookup", "10.0.0.1", "--data-dir", data, check=False)
    bad = cli("geoip", "lookup", "10.0.0.300", "--data-dir", data, check=False)

    assert orjson.loads(found.stdout)["city"] == "Dublin"
    assert (missing.returncode, missing.stdout) == (1, "")
    assert "no GeoIP range holds 10.0.0.1" in missing.stderr
    assert bad.returncode == 2
    assert "'10.0.0.300' is not an IPv4 or IPv6 address" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_without_a_database_the_lookup_command_answers_countries_offline(tmp_path: Path) -> None:
    found = cli("geoip", "lookup", "8.8.8.8", "--data-dir", str(tmp_path))

    assert orjson.loads(found.stdout) == {
        "ips": "134744072", "ipe": "134744072", "iso2": "US", "country": "United States",
        "region": "", "city": "", "lat": 0.0, "lon": 0.0, "zip": "", "tz": "",
    }  # fmt: skip
