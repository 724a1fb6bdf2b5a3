"""The dashboard over HTTP on a real server: logins, sessions, CSRF, rate limits, JSON and CSV,
public links, short links with a dashboard login, and the tracking script."""

from __future__ import annotations

import gzip
import itertools
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from tests import dashboard_data as data
from tests.conftest import FAST_BATCHES, TrackerServer, wait_until
from tests.dashboard_data import PASSWORD, UID, load

from tracker.control import remote_query
from tracker.normalise.ids import Uuid

CONFIG = {**FAST_BATCHES, "TrustedProxies": ["127.0.0.1"]}
VIEW = {"site": data.SITE, "from": "2026-03-10", "to": "2026-03-16"}
_addresses = (f"198.51.100.{i}" for i in itertools.count(1))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerServer]:
    running = TrackerServer(tmp_path_factory.mktemp("dashboard") / "data", CONFIG).start()
    load(running)
    yield running
    running.stop()


def client(server: TrackerServer) -> httpx.Client:
    """A browser-like client from its own address (the login limit counts per address)."""
    return httpx.Client(
        base_url=server.url,
        headers={"origin": server.url, "x-forwarded-for": next(_addresses)},
        timeout=30,
    )


def login(server: TrackerServer, password: str = PASSWORD, **headers: str) -> httpx.Response:
    with client(server) as anonymous:
        return anonymous.post(
            "/dashboard/login",
            data={"uid": str(UID), "password": password, "next": "/dashboard/?site=example.com"},
            headers=headers,
        )


def logged_in(server: TrackerServer) -> httpx.Client:
    answer = login(server)
    assert answer.status_code == 303, answer.text
    session = client(server)
    session.cookies.set("tracker_session", answer.cookies["tracker_session"])
    return session


def test_pages_ask_for_a_login(server: TrackerServer) -> None:
    with client(server) as anonymous:
        page = anonymous.get("/dashboard/", params=VIEW)
        assert page.status_code == 303
        assert page.headers["location"].startswith("/dashboard/login?next=%2Fdashboard%2F%3Fsite")
        for path in ("/dashboard/api/headline", "/dashboard/export/pages.csv"):
            answer = anonymous.get(path)
            assert (answer.status_code, answer.json()["ok"]) == (401, False)
        assert anonymous.get("/dashboard/links/short").status_code == 303
        assert anonymous.get("/").headers["location"] == "/dashboard/"


def test_a_login_sets_a_safe_session_cookie_and_opens_the_dashboard(
    server: TrackerServer,
) -> None:
    answer = login(server)
    assert (answer.status_code, answer.headers["location"]) == (303, "/dashboard/?site=example.com")
    cookie = answer.headers["set-cookie"]
    assert {"HttpOnly", "SameSite=Lax", "Path=/"} <= set(cookie.split("; "))
    assert "Secure" not in cookie  # plain HTTP
    with logged_in(server) as session:
        page = session.get("/dashboard/", params=VIEW)
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert re.search(r'id="metric-visitors" data-value="3(\.0)?"', page.text)


def test_the_cookie_is_secure_behind_a_trusted_tls_proxy(server: TrackerServer) -> None:
    assert "; Secure" in login(server, **{"x-forwarded-proto": "https"}).headers["set-cookie"]


def test_a_wrong_password_and_an_unknown_account_get_the_same_answer(
    server: TrackerServer,
) -> None:
    wrong = login(server, password="not it")
    with client(server) as anonymous:
        unknown = anonymous.post(
            "/dashboard/login", data={"uid": str(Uuid(str(UID)[:-1] + "f")), "password": "x"}
        )
    assert wrong.status_code == unknown.status_code == 401
    assert "Unknown account or wrong password." in wrong.text
    assert "tracker_session" not in wrong.headers.get("set-cookie", "")


def test_failed_logins_are_limited_per_address(server: TrackerServer) -> None:
    with client(server) as browser:
        codes = [
            browser.post(
                "/dashboard/login", data={"uid": str(uuid.uuid4()), "password": "guess"}
            ).status_code
            for _ in range(10)
        ]
        assert codes == [401] * 10
        blocked = browser.post("/dashboard/login", data={"uid": str(UID), "password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert "Too many failed logins" in blocked.text
    assert login(server).status_code == 303  # another address is not blocked


def test_posts_from_another_site_are_refused(server: TrackerServer) -> None:
    assert login(server, origin="https://evil.example").status_code == 403
    with logged_in(server) as session:
        for path, form in (("/dashboard/logout", {}), ("/dashboard/share", {"site": "x.org"})):
            answer = session.post(path, data={**form, "action": "create"}, headers={"origin": ""})
            assert answer.status_code == 403, path
        cross = session.post(
            "/dashboard/share",
            data={"site": "x.org", "action": "create"},
            headers={"origin": "http://attacker.test"},
        )
        assert cross.status_code == 403


def test_logging_out_ends_the_session(server: TrackerServer) -> None:
    with logged_in(server) as session:
        assert session.get("/dashboard/").status_code == 200
        token = session.cookies["tracker_session"]
        out = session.post("/dashboard/logout")
        assert out.status_code == 303
        assert "Max-Age=0" in out.headers["set-cookie"]
    with client(server) as replay:
        replay.cookies.set("tracker_session", token)
        assert replay.get("/dashboard/").status_code == 303


def test_each_panel_answers_as_json_and_as_csv(server: TrackerServer) -> None:
    with logged_in(server) as session:
        headline = session.get("/dashboard/api/headline", params=VIEW).json()
        assert {r["metric"]: r["value"] for r in headline["rows"]}["visitors"] == 3
        pages = session.get("/dashboard/export/pages.csv", params=VIEW)
        assert pages.headers["content-type"].startswith("text/csv")
        assert "attachment" in pages.headers["content-disposition"]
        assert pages.text.splitlines() == [
            "page,visitors,pageviews",
            "/pricing,3,3",
            "/,2,2",
            "/blog,1,1",
            "/docs,1,1",
        ]
        missing = session.get("/dashboard/api/nothing", params=VIEW)
        assert missing.status_code == 404
        assert "expected one of headline" in missing.json()["error"]
        bad = session.get("/dashboard/api/pages", params={"range": "forever"})
        assert (bad.status_code, bad.json()["status"]) == (400, 400)


def test_csv_cells_cannot_run_as_spreadsheet_formulas(server: TrackerServer) -> None:
    row = data.event("a", "A1", "03-14 10:00:00.000", "load", "https://formula.test/x",
                     source="=HYPERLINK(\"http://evil\")")  # fmt: skip
    sock = server.data_dir / "tracker.sock"
    remote_query(sock, "INSERT INTO events FORMAT JSONEachRow " + orjson.dumps(row).decode(), "TSV")
    with logged_in(server) as session:
        csv = session.get("/dashboard/export/sources.csv", params={**VIEW, "site": "formula.test"})
    assert csv.text.splitlines()[1].startswith("\"'=HYPERLINK(")


def test_a_public_link_shows_its_one_site_read_only(server: TrackerServer) -> None:
    with logged_in(server) as session:
        made = session.post("/dashboard/share", data={"site": data.SITE, "action": "create"})
        assert made.status_code == 303
        page = session.get("/dashboard/", params=VIEW).text
        (token,) = re.findall(r"/dashboard/s/([A-Za-z0-9_-]+)/", page)
    with client(server) as stranger:
        shared = stranger.get(f"/dashboard/s/{token}/", params={**VIEW, "site": "other.org"})
        assert shared.status_code == 200
        assert "public read-only view" in shared.text
        assert "/dashboard/logout" not in shared.text
        assert 'id="share"' not in shared.text
        api = stranger.get(f"/dashboard/s/{token}/api/headline", params={**VIEW, "site": "x"})
        assert "site=example.com" in api.json()["view"]
        assert stranger.get("/dashboard/", params=VIEW).status_code == 303  # not a login
    with logged_in(server) as session:
        form = {"site": data.SITE, "action": "revoke", "token": token}
        assert session.post("/dashboard/share", data=form).status_code == 303
    with client(server) as stranger:
        assert stranger.get(f"/dashboard/s/{token}/").status_code == 404


def test_short_links_are_saved_with_the_dashboard_login(server: TrackerServer) -> None:
    body = {"urlfrom": f"{server.url}/summer", "urlto": "https://example.com/summer-sale"}
    with logged_in(server) as session:
        saved = session.post("/tr/v1/rpi/redirect", json=body)
        assert saved.status_code == 200, saved.text
        wait_until(
            "the saved link listed",
            lambda: session.get("/tr/v1/rpi/redirects/127.0.0.1").json()["results"],
            lambda rows: (
                [r["urlto"] for r in rows if r["slugfrom"] == "/summer"] == [body["urlto"]]
            ),
        )
        forged = session.post("/tr/v1/rpi/redirect", json=body, headers={"origin": "http://x.test"})
        assert forged.status_code == 403
        mine = {**body, "urlfrom": f"{server.url}/dashboard/login"}
        taken = session.post("/tr/v1/rpi/redirect", json=mine)
        assert (taken.status_code, "tracker's own routes" in taken.json()["error"]) == (400, True)
    with client(server) as anonymous:
        assert anonymous.post("/tr/v1/rpi/redirect", json=body).status_code == 401
    with httpx.Client(base_url=server.url, follow_redirects=False) as visitor:
        hop = visitor.get("/summer")
    assert (hop.status_code, hop.headers["location"]) == (302, body["urlto"])


def test_the_tracking_script_is_small_cached_and_first_party(server: TrackerServer) -> None:
    with httpx.Client(base_url=server.url) as browser:
        script = browser.get("/tr/v1/t.js", headers={"accept-encoding": "gzip"})
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert script.headers["content-encoding"] == "gzip"
        assert len(gzip.compress(script.content, 9)) < 2048
        assert int(script.headers["content-length"]) < 2048  # as sent, gzipped
        assert "max-age=3600" in script.headers["cache-control"]
        again = browser.get("/tr/v1/t.js", headers={"if-none-match": script.headers["etag"]})
        assert again.status_code == 304
    urls = set(re.findall(r"https?://[^\s\"')]+", script.text))
    assert urls == set()  # it talks only to the origin it was loaded from


def test_passwords_never_reach_the_log(server: TrackerServer) -> None:
    login(server, password="a-wrong-Passw0rd-to-look-for")
    login(server)
    log = Path(server.log).read_text()
    assert "a-wrong-Passw0rd-to-look-for" not in log
    assert PASSWORD not in log


def test_the_dashboard_can_be_turned_off(make_server: object) -> None:
    off: TrackerServer = make_server(config={**FAST_BATCHES, "Dashboard": False})  # type: ignore[operator]
    for path in ("/dashboard/", "/tr/v1/t.js", "/dashboard/static/dashboard.css"):
        answer = httpx.get(off.url + path)
        assert (answer.status_code, answer.json()["ok"]) == (404, False), path
