"""The dashboard, the link pages and t.js in headless Chromium against a real server: log in, read
the numbers of the fixed data set, filter, change the range, build a tracking URL and a short
link and follow them, and see a page running t.js appear on the dashboard."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from tests.browser import CONSENT, LANDING, USER_AGENT, launch
from tests.conftest import FAST_BATCHES, TrackerServer, wait_until
from tests.dashboard_data import PASSWORD, UID, load

VIEW = "/dashboard/?site=example.com&from=2026-03-10&to=2026-03-16"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerServer]:
    root = tmp_path_factory.mktemp("browser")
    public = root / "public"
    public.mkdir()
    config = {
        **FAST_BATCHES,
        "StaticDirectory": str(public),
        "RedirectAllowHosts": ["127.0.0.1"],
    }
    running = TrackerServer(root / "data", config)
    (public / "landing.html").write_text(
        LANDING.replace("{outbound}", f"http://localhost:{running.port}/ping")
    )
    (public / "consent.html").write_text(CONSENT)
    running.start()
    load(running)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(user_agent=USER_AGENT, viewport={"width": 1280, "height": 900})
    made.set_default_timeout(30_000)
    yield made
    made.close()


@pytest.fixture(scope="module")
def page(context: BrowserContext, server: TrackerServer) -> Page:
    """A logged-in page (the first test logs in through the form)."""
    opened = context.new_page()
    opened.goto(server.url + VIEW)
    assert "/dashboard/login" in opened.url
    opened.fill("#uid", str(UID))
    opened.fill("#password", PASSWORD)
    opened.click("#login")
    opened.wait_for_url(re.compile(r"/dashboard/\?site=example\.com"))
    return opened


def metric(page: Page, key: str) -> str:
    return page.inner_text(f"#metric-{key} .value")


def reload_until(page: Page, what: str, selector: str, holds: Callable[[str], bool]) -> str:
    def probe() -> str:
        page.reload()
        return page.inner_text(selector)

    return wait_until(what, probe, holds, interval=0.5)


def test_logging_in_shows_the_numbers_of_the_data(page: Page) -> None:
    assert [metric(page, k) for k in ("visitors", "sessions", "pageviews")] == ["3", "4", "7"]
    assert metric(page, "views_per_session") == "1.75"
    assert metric(page, "bounce_rate") == "50.0 %"
    assert metric(page, "duration") == "2m 00s"
    assert page.inner_text("#metric-visitors .change").startswith("+50 %")
    first = page.locator("#panel-pages tbody tr").first.inner_text()
    assert first.split() == ["/pricing", "3", "3"]
    assert page.locator("#chart svg .bucket").count() == 7


def test_clicking_a_row_filters_the_view_and_the_url_keeps_it(page: Page) -> None:
    page.goto(page.url.split("#")[0])
    page.click("#panel-referrers a.filter:text-is('www.google.com')")
    page.wait_for_url(re.compile(r"referrer=www\.google\.com"))
    assert metric(page, "visitors") == "2"
    assert page.inner_text("#filters").startswith("Referrer: www.google.com")
    shared = page.url
    page.goto(shared)  # the same URL, loaded again, is the same view
    assert metric(page, "visitors") == "2"
    page.click("#filters a.chip")
    page.wait_for_url(lambda url: "referrer=" not in url)
    assert metric(page, "visitors") == "3"


def test_changing_the_range(page: Page, server: TrackerServer) -> None:
    page.goto(server.url + VIEW)
    page.fill("#from", "2026-03-01")
    page.fill("#to", "2026-03-06")
    page.click("#apply-range")
    page.wait_for_url(re.compile(r"from=2026-03-01&to=2026-03-06"))
    assert metric(page, "visitors") == "3"  # f, g and h
    page.click("#ranges a[data-range='30d']")
    page.wait_for_url(re.compile(r"range=30d"))
    assert page.get_attribute("#ranges a[data-range='30d']", "aria-current") == "true"
    assert "site=example.com" in page.url


def dashboard_today(page: Page, server: TrackerServer) -> None:
    page.goto(f"{server.url}/dashboard/?site=127.0.0.1&range=today")


def test_a_tracking_url_is_built_and_records_its_campaign(
    page: Page, server: TrackerServer
) -> None:
    landing = f"{server.url}/tr/v1/pub/landing.html"
    page.goto(f"{server.url}/dashboard/links/track")
    page.fill("#url", landing)
    page.fill("#source", "Newsletter")
    page.fill("#medium", "email")
    page.fill("#campaign", "Spring Sale!")
    link = page.inner_text("#link")
    parts = urlsplit(link)
    assert (parts.netloc, parts.path) == (f"127.0.0.1:{server.port}", "/tr/v1/rdr/")
    query = parse_qs(parts.query)
    assert query["utm_source"] == ["newsletter"]
    assert query["utm_campaign"] == ["spring_sale"]
    assert query["url"][0].startswith(landing + "?gu=1&utm_source=newsletter")
    page.click("#link")
    page.wait_for_url(re.compile(r"/tr/v1/pub/landing\.html\?gu=1"))
    assert page.inner_text("#title") == "Spring sale"
    dashboard_today(page, server)
    sources = reload_until(
        page,
        "the campaign's source on the dashboard",
        "#panel-sources",
        lambda t: "newsletter" in t,
    )
    assert "newsletter" in sources


def test_a_short_link_is_made_with_the_login_and_counts_its_hits(
    page: Page, server: TrackerServer
) -> None:
    landing = f"{server.url}/tr/v1/pub/landing.html"
    page.goto(f"{server.url}/dashboard/links/short?url={landing}")
    assert page.input_value("#urlto") == landing
    page.fill("#slug", "spring")
    page.click("#save")
    page.wait_for_selector("#saved:not([hidden])")
    assert page.inner_text("#short-link") == f"{server.url}/spring"
    assert page.inner_text("#errors") == ""
    wait_until(
        "the new link in the page's list",
        lambda: (page.reload(), page.inner_text("#links"))[1],
        lambda text: "/spring" in text,
        interval=0.5,
    )
    page.goto(f"{server.url}/spring")
    page.wait_for_url(re.compile(r"/tr/v1/pub/landing\.html$"))
    dashboard_today(page, server)
    links = reload_until(
        page,
        "the short link's hit on the dashboard",
        "#panel-links",
        lambda t: bool(re.search(r"127\.0\.0\.1/spring\s+\S+\s+1\s+1", t)),
    )
    assert landing in links


def test_a_page_running_t_js_shows_up_on_the_dashboard(
    context: BrowserContext, page: Page, server: TrackerServer
) -> None:
    site = context.new_page()
    site.goto(f"{server.url}/tr/v1/pub/landing.html")
    site.wait_for_function("typeof window.tracker === 'function' && !window.tracker.q")
    site.click("#spa")
    site.click("#signup")
    site.click("#out")
    site.wait_for_url(re.compile(r"localhost:\d+/ping"))
    site.close()

    dashboard_today(page, server)
    pages = reload_until(
        page,
        "the SPA page view on the dashboard",
        "#panel-pages",
        lambda t: "/tr/v1/pub/app/step2" in t,
    )
    assert "/tr/v1/pub/landing.html" in pages
    outbound = reload_until(page, "the outbound click", "#panel-outbound", lambda t: "/ping" in t)
    assert f"http://localhost:{server.port}/ping" in outbound
    outcomes = page.inner_text("#panel-outcomes")
    assert re.search(r"signup\s+conversion\s+1\s+1", outcomes), outcomes
    assert int(page.inner_text("#realtime-visitors")) >= 1

    rows = server.query(
        "SELECT ename, etyp, url, last, toString(vid) AS vid, toString(sid) AS sid, "
        "toString(params) AS params FROM events WHERE url LIKE '%/tr/v1/pub/%' "
        "AND ename IN ('load', 'reroute', 'signup', 'click') ORDER BY created_at"
    )
    by_name: dict[str, Any] = {row["ename"]: row for row in rows}
    assert by_name["reroute"]["etyp"] == "page"
    assert by_name["reroute"]["last"].endswith("/tr/v1/pub/landing.html")
    assert by_name["signup"]["etyp"] == "conversion"
    assert '"plan":"pro"' in by_name["signup"]["params"]
    assert by_name["click"]["etyp"] == "outbound"
    # One browser: t.js gave every one of its events the same visitor and session (its cookies).
    assert len({row["vid"] for row in rows}) == 1
    assert len({row["sid"] for row in rows}) == 1


def test_t_js_sends_nothing_and_sets_no_cookie_before_consent(
    browser: Browser, server: TrackerServer
) -> None:
    fresh = browser.new_context(user_agent=USER_AGENT)  # a visitor without cookies
    site = fresh.new_page()
    sent: list[str] = []
    site.on("request", lambda r: sent.append(r.url) if "/tr/v1/tr/" in r.url else None)
    site.goto(f"{server.url}/tr/v1/pub/consent.html")
    site.wait_for_function("typeof window.tracker === 'function' && !window.tracker.q")
    assert sent == []  # the page view waits in the page
    assert "tr_vid" not in site.evaluate("document.cookie")
    site.click("#agree")
    wait_until("the held page view sent on consent", lambda: list(sent), bool)
    assert "tr_vid" in site.evaluate("document.cookie")
    rows = server.wait_until(
        "SELECT cflags, ename FROM events WHERE url LIKE '%/consent.html'",
        bool,
        "the page view after consent",
    )
    assert [(r["cflags"], r["ename"]) for r in rows] == [(1, "load")]
    site.click("#withdraw")
    assert "tr_" not in site.evaluate("document.cookie")
    fresh.close()
