"""Short links, the redirect admin API and tracked redirects."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from conftest import FAST_BATCHES, TrackerServer, cli, serving
from tracker.errors import TrackerError
from tracker.http.redirects import AllowList, fallback

ADMIN = str(uuid.uuid4())
ADMIN_PASSWORD = "correct horse battery staple"
LEGACY = "14fb0860-b4bf-11e9-8971-7b80435315ac"  # the Go demo admin, SHA-1 of "password"
LEGACY_PWD = "W6ph5Mm5Pz8GgiULbPgzG37mj9g="
ORIGIN = "https://app.example"
ORG = "0190a1b2-0000-7000-8000-0000000000bb"
FAST = {"MaxBatchTime": "0.2s"}
CONFIG = {
    **FAST_BATCHES,
    "ApiVersion": 1,
    "Domains": ["tr.example.com", "localhost"],
    "RedirectAllowHosts": ["*.good.example", "partner.example"],
    "DefaultRedirect": "https://www.good.example/home",
    "AllowOrigin": ORIGIN,
    "BatchPolicies": {"redirects": FAST, "redirect_history": FAST},
}


@pytest.fixture(scope="module")
def server(store_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerServer]:
    with serving(store_kind, tmp_path_factory.mktemp("redirects"), CONFIG, signal.SIGKILL) as s:
        yield from prepared(s)


def prepared(running: TrackerServer) -> Iterator[TrackerServer]:
    # an account added through the CLI while the server runs (the control socket path)
    added = cli(
        "accounts",
        "add",
        "--data-dir",
        str(running.data_dir),
        "--uid",
        ADMIN,
        "--password",
        ADMIN_PASSWORD,
        env=running.env,
    )
    assert ADMIN in added.stdout
    running.query(
        f'INSERT INTO accounts FORMAT JSONEachRow {{"uid":"{LEGACY}","pwd":"{LEGACY_PWD}"}}'
    )
    running.query(
        "INSERT INTO orgs FORMAT JSONEachRow "
        f'{{"oid":"{ORG}","ddata":{{"default_destination_host":"https://shop.good.example"}}}}'
    )
    yield running


def create(
    server: TrackerServer,
    body: dict[str, Any],
    auth: tuple[str, str] | None = (ADMIN, ADMIN_PASSWORD),
) -> httpx.Response:
    return httpx.post(f"{server.url}/tr/v1/rpi/redirect", json=body, auth=auth, timeout=10)


def visit(server: TrackerServer, path: str, host: str, **headers: str) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", headers={"host": host, **headers}, timeout=10)


def cookie(response: httpx.Response, name: str) -> str:
    """A Set-Cookie value (httpx's jar drops cookies whose Domain is not the test host)."""
    for header in response.headers.get_list("set-cookie"):
        key, _, rest = header.partition("=")
        if key == name:
            return rest.partition(";")[0]
    raise AssertionError(f"no {name} cookie in {response.headers}")


def events_of(server: TrackerServer, vid: str, expected: int = 1) -> list[dict[str, Any]]:
    return server.wait_for(
        "SELECT ename, etyp, url, campaign, toString(oid) AS oid FROM events "
        f"WHERE vid = '{uuid.UUID(vid)}'",
        expected,
    )


@pytest.mark.both_stores
def test_a_new_short_link_resolves_at_once_on_a_host_with_a_port_and_other_case(
    server: TrackerServer,
) -> None:
    made = create(
        server, {"urlfrom": "https://Go.Example/Promo", "urlto": "https://www.good.example/l?x=1"}
    )
    assert (made.status_code, made.content) == (200, b"")

    hit = visit(server, "/PROMO?utm_campaign=spring", "GO.example:8443", origin=ORIGIN)

    assert hit.status_code == 302
    assert hit.headers["location"] == "https://www.good.example/l?x=1"
    assert hit.headers["access-control-allow-origin"] == ORIGIN
    vid = cookie(hit, "vid")  # set on the 302 itself
    [event] = events_of(server, vid)
    assert event == {
        "ename": "short_rdr",
        "etyp": "redirect",
        "url": "/promo",
        "campaign": "spring",
        "oid": "00000000-0000-0000-0000-000000000000",
    }
    [live] = server.wait_for(
        "SELECT urlto FROM redirects FINAL WHERE urlfrom = 'go.example/promo'", 1
    )
    assert live["urlto"] == "https://www.good.example/l?x=1"


@pytest.mark.both_stores
def test_each_change_adds_one_history_row_and_the_latest_target_wins(
    server: TrackerServer,
) -> None:
    for target in ("https://partner.example/one", "https://partner.example/Two/Path?q=1"):
        assert (
            create(
                server,
                {"urlfrom": "hist.example/spring", "urlto": target, "searchto": 7, "org": "acme"},
            ).status_code
            == 200
        )
    rows = server.wait_for(
        "SELECT urlfrom, hostfrom, slugfrom, urlto, hostto, pathto, searchto, org, "
        "toString(updater) AS updater FROM redirect_history FINAL "
        "WHERE hostfrom = 'hist.example' ORDER BY updated_at",
        2,
    )
    assert rows[1] == {
        "urlfrom": "hist.example/spring",
        "hostfrom": "hist.example",
        "slugfrom": "/spring",
        "urlto": "https://partner.example/Two/Path?q=1",
        "hostto": "partner.example",
        "pathto": "/two/path",  # the target's path (Go stored the source's)
        "searchto": "7",
        "org": "acme",
        "updater": ADMIN,
    }
    assert visit(server, "/spring", "hist.example").headers["location"].endswith("/Two/Path?q=1")


@pytest.mark.both_stores
def test_the_listing_holds_only_the_requested_hosts_links(server: TrackerServer) -> None:
    for source in (
        "https://list-a.example/x",
        "https://list-a.example/y",
        "https://list-b.example/x",
    ):
        assert (
            create(server, {"urlfrom": source, "urlto": "https://partner.example/"}).status_code
            == 200
        )

    def listing() -> list[dict[str, Any]]:
        answer = httpx.get(
            f"{server.url}/tr/v1/rpi/redirects/LIST-A.example:443",
            auth=(ADMIN, ADMIN_PASSWORD),
            headers={"origin": ORIGIN},
        )
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["access-control-allow-origin"] == ORIGIN
        results: list[dict[str, Any]] = answer.json()["results"]
        return results

    server.wait_for("SELECT 1 FROM redirect_history FINAL WHERE hostfrom LIKE 'list-%'", 3)
    assert sorted(row["urlfrom"] for row in listing()) == [
        "https://list-a.example/x",
        "https://list-a.example/y",
    ]


def test_the_go_trackers_path_credentials_and_sha1_accounts_keep_working(
    server: TrackerServer,
) -> None:
    answer = httpx.post(
        f"{server.url}/tr/v1/rpi/redirect/{LEGACY}/password",
        content=b'{"urlfrom":"legacy.example/go","urlto":"https://partner.example/legacy"}',
        headers={"content-type": "text/plain"},
    )
    assert (answer.status_code, answer.content) == (200, b"")
    listing = httpx.get(
        f"{server.url}/tr/v1/rpi/redirects/-/-/legacy.example", auth=(LEGACY, "password")
    )
    assert listing.status_code == 200
    assert (
        visit(server, "/go", "legacy.example").headers["location"]
        == "https://partner.example/legacy"
    )


@pytest.mark.parametrize(
    ("auth", "path", "status"),
    [
        ((ADMIN, "wrong password"), "", 401),
        ((str(uuid.uuid4()), ADMIN_PASSWORD), "", 401),
        (None, "", 401),
        (None, f"/{LEGACY}/Password", 401),
        (None, "/admin/password", 400),
    ],
)
def test_wrong_or_missing_credentials_are_refused_with_the_json_error(
    server: TrackerServer, auth: tuple[str, str] | None, path: str, status: int
) -> None:
    answer = httpx.post(
        f"{server.url}/tr/v1/rpi/redirect{path}",
        json={"urlfrom": "deny.example/x", "urlto": "https://partner.example/"},
        auth=auth,
    )
    assert answer.status_code == status
    assert answer.json()["status"] == status
    assert answer.json()["ok"] is False
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Basic")
    assert visit(server, "/x", "deny.example").status_code == 404


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"urlto": "https://partner.example/"}, "Bad URL (null)"),
        ({"urlfrom": 5, "urlto": "https://partner.example/"}, "Bad URL (null)"),
        ({"urlfrom": "https://bad.example/a", "urlto": "HTTPS://BAD.example/A"}, "Bad URL (equal)"),
        ({"urlfrom": "bad.example/a", "urlto": "javascript:alert(1)"}, "Bad URL (destination)"),
        ({"urlfrom": "bad.example/a", "urlto": "/relative"}, "Bad URL (destination)"),
        (
            {"urlfrom": "bad.example/a", "urlto": "https://TR.example.com:8443/x"},
            "self-referential",
        ),
        ({"urlfrom": "/a", "urlto": "https://partner.example/"}, "Bad URL (from)"),
        ({"urlfrom": "https://bad.example/", "urlto": "https://partner.example/"}, "from path"),
        (
            {"urlfrom": "https://bad.example/health", "urlto": "https://partner.example/"},
            "from path",
        ),
    ],
)
def test_bad_link_requests_are_400_with_the_reason(
    server: TrackerServer, body: dict[str, Any], reason: str
) -> None:
    answer = create(server, body)
    assert answer.status_code == 400
    assert reason in answer.json()["error"]


@pytest.mark.both_stores
def test_a_tracked_rdr_target_redirects_in_one_hop_and_records_a_server_event(
    server: TrackerServer,
) -> None:
    target = (
        f"https://tr.example.com/tr/v1/rdr/?ename=promo_click&oid={ORG}"
        "&utm_campaign=autumn&url=%2Fsale"
    )
    assert create(server, {"urlfrom": "go.example/tracked", "urlto": target}).status_code == 200
    eid_marker = str(uuid.uuid4())

    hit = visit(server, f"/tracked?vid={eid_marker}", "go.example")

    assert hit.status_code == 302
    assert hit.headers["location"] == "https://shop.good.example/sale"  # the org's host + url
    assert "set-cookie" not in hit.headers  # a server event sets no cookie
    [event] = events_of(server, eid_marker)
    assert (event["ename"], event["campaign"], event["oid"]) == ("promo_click", "autumn", ORG)


@pytest.mark.both_stores
def test_an_unknown_short_link_is_a_json_404_and_creating_it_there_works_at_once(
    server: TrackerServer,
) -> None:
    miss = visit(server, "/later", "late.example", origin=ORIGIN)
    assert miss.status_code == 404
    assert miss.json() == {
        "ok": False,
        "status": 404,
        "error": "Nothing at /later: no route and no short link.",
    }
    assert miss.headers["access-control-allow-origin"] == ORIGIN
    assert (
        create(
            server, {"urlfrom": "late.example/later", "urlto": "https://partner.example/"}
        ).status_code
        == 200
    )
    assert visit(server, "/later", "late.example").status_code == 302  # the cached miss is replaced


@pytest.mark.both_stores
def test_rdr_records_a_server_event_and_xrdr_a_client_event_with_its_cookie(
    server: TrackerServer,
) -> None:
    vid = str(uuid.uuid4())
    rdr = httpx.get(
        f"{server.url}/tr/v1/rdr/?url=https://shop.good.example/p&ename=mail_click&vid={vid}"
    )
    assert rdr.status_code == 302
    assert rdr.headers["location"] == "https://shop.good.example/p"
    assert "set-cookie" not in rdr.headers

    xrdr = httpx.get(
        f"{server.url}/tr/v1/xrdr/?url=https%3A%2F%2Ftr.example.com%2Fpage&ename=ext_click",
        headers={"host": "tr.example.com", "origin": ORIGIN},
    )
    assert xrdr.status_code == 302
    assert xrdr.headers["location"] == "https://tr.example.com/page"
    assert xrdr.headers["access-control-allow-origin"] == ORIGIN
    assert "Domain=example.com" in xrdr.headers["set-cookie"]
    [server_event] = events_of(server, vid)
    [client_event] = events_of(server, cookie(xrdr, "vid"))
    assert server_event["ename"] == "mail_click"
    assert server_event["url"] == "//shop.good.example/p"  # the destination, as in Go
    assert client_event["ename"] == "ext_click"


@pytest.mark.parametrize("route", ["rdr", "xrdr"])
@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "https://good.example.evil.example/",
        "https://x.good.example@evil.example/",
        "javascript:alert(1)",
        "ftp://partner.example/",
        "/\t/evil.example",
        "///evil.example",  # a browser reads extra slashes as the start of a host
        "////evil.example",
        "\\\\evil.example",
        "http:evil.example",
    ],
)
def test_open_redirect_attempts_are_refused(server: TrackerServer, route: str, target: str) -> None:
    answer = httpx.get(f"{server.url}/tr/v1/{route}/", params={"url": target})
    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert answer.json()["ok"] is False


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("https://shop.good.example/x", "https://shop.good.example/x"),
        ("https://partner.example:8443/x", "https://partner.example:8443/x"),
        ("https://TR.example.com/y", "https://tr.example.com/y"),  # as a browser writes it
        ("/local/path", "/local/path"),
        ("/..//local", "/.//local"),  # a path on this host, never read as a host
    ],
)
def test_allowed_targets_and_paths_on_this_host_are_redirected(
    server: TrackerServer, target: str, location: str
) -> None:
    answer = httpx.get(f"{server.url}/tr/v1/rdr/", params={"url": target})
    assert (answer.status_code, answer.headers["location"]) == (302, location)


def test_without_url_the_default_redirect_is_the_target(server: TrackerServer) -> None:
    for path in ("/tr/v1/rdr/", "/tr/v1/xrdr", "/tr/v1/rdr/?url="):
        answer = httpx.get(server.url + path)
        assert (answer.status_code, answer.headers["location"]) == (
            302,
            "https://www.good.example/home",
        )


def test_the_fallback_refuses_an_empty_or_self_pointing_default() -> None:
    assert fallback(" https://a.example/ ") == "https://a.example/"
    for default in ("", "  ", "/tr/v1/rdr/", "https://x.example/tr/v2/xrdr?u=1", "/tr/v1/rdr"):
        with pytest.raises(TrackerError) as info:
            fallback(default)
        assert info.value.status == 404


def test_allow_list_patterns_match_whole_labels_only() -> None:
    allow = AllowList(("tr.example.com",), ("*.good.example", "Partner.Example"))
    assert allow.allows("a.b.good.example")
    assert allow.allows("PARTNER.example:443")
    assert not allow.allows("good.example")  # *.x is subdomains only: list the apex itself
    assert not allow.allows("notgood.example")
    assert AllowList((), ("*",)).allows("anything.example")


def test_the_cli_adds_an_account_to_a_store_no_server_owns(tmp_path: Any) -> None:
    data = tmp_path / "offline"
    uid = str(uuid.uuid4())
    cli("accounts", "add", "--data-dir", str(data), "--uid", uid, "--password", "pw")
    rows = cli(
        "query",
        "--data-dir",
        str(data),
        "--format",
        "JSONEachRow",
        f"SELECT pwd FROM accounts FINAL WHERE uid = '{uid}'",
    ).stdout
    assert rows.startswith('{"pwd":"scrypt$16384$8$1$')
    refused = cli(
        "accounts", "add", "--data-dir", str(data), "--uid", "nope", "--password", "pw", check=False
    )
    assert refused.returncode == 2
    assert "not a UUID" in refused.stderr
