"""User agents parsed on the server: browser family, OS, device type, the bot flag, and how
`normalise()` uses them (client values win, the bot flag goes to params)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import crawleruseragents
import pytest

from tracker.normalise.agent import MAX_AGENT_CHARS, Agent, AgentParser, os_name
from tracker.normalise.event import Event, NormaliseContext, Origin, normalise
from tracker.normalise.urls import UrlFilter

CHROME_LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
IPAD = "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1"
ANDROID_PHONE = "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Mobile Safari/537.36"
ANDROID_TABLET = "Mozilla/5.0 (Linux; Android 12; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Safari/537.36"
EDGE_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0"
SAFARI_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"
CHROMEBOOK = "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
FIREFOX_UBUNTU = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture(scope="module")
def parser() -> AgentParser:
    return AgentParser(cache_size=64)


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        (CHROME_LINUX, Agent("chrome", "linux", "desktop", False)),
        (IPHONE, Agent("mobile safari", "ios", "mobile", False)),
        (IPAD, Agent("mobile safari", "ios", "tablet", False)),
        (ANDROID_PHONE, Agent("chrome mobile", "android", "mobile", False)),
        (ANDROID_TABLET, Agent("chrome", "android", "tablet", False)),
        (EDGE_WINDOWS, Agent("edge", "windows", "desktop", False)),
        (SAFARI_MAC, Agent("safari", "macos", "desktop", False)),
        (CHROMEBOOK, Agent("chrome", "chromeos", "desktop", False)),
        (FIREFOX_UBUNTU, Agent("firefox", "linux", "desktop", False)),
        (GOOGLEBOT, Agent("googlebot", "", "", True)),
        ("curl/8.5.0", Agent("curl", "", "", True)),
        ("python-httpx/0.28.1", Agent("python-httpx", "", "", True)),
        ("", Agent("", "", "", False)),
        ("   ", Agent("", "", "", False)),
        ("\ud800 broken", Agent("", "", "", False)),
    ],
)
def test_an_agent_parses_into_the_clients_vocabulary(
    parser: AgentParser, agent: str, expected: Agent
) -> None:
    assert parser.parse(agent) == expected


@pytest.mark.parametrize(
    ("family", "name"),
    [("Mac OS X", "macos"), ("Windows XP", "windows"), ("Windows Phone", "windows phone"),
     ("Fedora", "linux"), ("Chrome OS", "chromeos"), ("FreeBSD", "freebsd"), ("Other", "")],
)  # fmt: skip
def test_os_families_map_onto_the_js_clients_names(family: str, name: str) -> None:
    assert os_name(family) == name


def test_every_example_agent_of_the_crawler_list_is_a_bot(parser: AgentParser) -> None:
    examples = [
        instance
        for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA
        for instance in entry.get("instances", [])
    ]
    missed = [agent for agent in examples if not parser.parse(agent).is_bot]

    assert len(examples) > 1000
    assert missed == []


def test_repeated_agents_come_from_the_cache() -> None:
    parser = AgentParser(cache_size=8)
    for _ in range(5):
        parser.parse(SAFARI_MAC)

    info = parser.cache_info()
    assert (info.misses, info.hits) == (1, 4)


def test_a_huge_agent_is_parsed_and_cached_by_its_start() -> None:
    parser = AgentParser(cache_size=8)
    huge = GOOGLEBOT + " x" * 100_000

    assert parser.parse(huge).is_bot
    assert parser.parse(huge[:MAX_AGENT_CHARS]).is_bot
    assert parser.cache_info().hits == 1


# --- through normalise() ---------------------------------------------------------------------

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def event(parser: AgentParser | None, agent: str, **fields: Any) -> Event:
    ctx = NormaliseContext(url_filter=UrlFilter(None), ip_secret=b"k", agents=parser)
    origin = Origin("198.51.100.1", "example.com", agent, "en", "/tr/v1/tr/", "", NOW)
    return normalise({"ename": "view", **fields}, origin, ctx, is_server=False)


def test_browser_os_and_device_are_filled_when_the_client_sent_none(parser: AgentParser) -> None:
    e = event(parser, IPHONE)

    assert (e.browser, e.values["os"], e.values["device"]) == ("mobile safari", "ios", "mobile")
    assert "bot" not in e.params
    assert "os" not in e.params
    assert "device" not in e.params


def test_the_clients_own_browser_os_and_device_win(parser: AgentParser) -> None:
    e = event(parser, IPHONE, os="Android", device="Tablet", browser=" Samsung Internet ")

    assert (e.browser, e.values["os"], e.values["device"]) == (
        "samsung internet",
        "android",
        "tablet",
    )


def test_a_bot_is_flagged_in_params_and_a_person_is_not(parser: AgentParser) -> None:
    assert event(parser, GOOGLEBOT, params={"plan": "pro"}).params == {"plan": "pro", "bot": True}
    assert event(parser, CHROME_LINUX, params={"plan": "pro"}).params == {"plan": "pro"}


def test_the_hash_of_the_agent_does_not_depend_on_parsing(parser: AgentParser) -> None:
    assert event(parser, FIREFOX_UBUNTU).bhash == event(None, FIREFOX_UBUNTU).bhash


def test_without_parsing_the_browser_is_the_lowercased_agent_as_in_go() -> None:
    e = event(None, GOOGLEBOT)

    assert e.browser == GOOGLEBOT.lower()
    assert "os" not in e.values
    assert "bot" not in e.params


def test_an_event_without_an_agent_gets_nothing(parser: AgentParser) -> None:
    e = event(parser, "")

    assert (e.browser, e.values.get("os"), e.values.get("device")) == ("", None, None)
    assert e.params == {}
