"""User agents → browser, OS, device type and a bot flag, parsed on the server.

The Go tracker parsed nothing: `device` and `os` came only from the page's
JavaScript. Here they are filled from the `User-Agent` when the client did not send them.

* Parser: `ua-parser` (uap-python, Apache-2.0) over the uap-core rules in `ua-parser-builtins`,
  with the Rust resolver from `ua-parser-rs` (about 35 µs for an agent not seen before; the
  pure-Python resolver is some 30 times slower). Parsed agents are kept in an LRU cache, since a
  site sees the same few hundred agents over and over.
* Vocabulary: the stand-alone `track.js` client sends `device` as `tablet|mobile|desktop` and `os`
  as `ios|android|windows|macos|linux|chromeos`; parsed values are mapped onto the same words so
  a column does not mix two vocabularies (other OS families are kept, lowercased). `browser` is
  the browser family, lowercased (`chrome`, `mobile safari`, `firefox`, `googlebot`, …), or the
  agent's first product name when the rules do not know it (`python-httpx`).
* Bots: an agent is a bot when uap-core calls its device a `Spider` (self-declared crawlers) or it
  matches the `crawler-user-agents` list (MIT, ~1,500 patterns, updated monthly; it also names
  HTTP libraries such as curl and python-requests, and headless browsers). The list is matched as
  one Rust regex set (about 3 µs); Python's `re` took 300 µs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import crawleruseragents
from ua_parser import BasicResolver, load_builtins, load_lazy_builtins
from ua_parser.core import Domain, Resolver

MAX_AGENT_CHARS = 1024  # longer agents are parsed by their start: bounds time and cache memory
DEFAULT_CACHE_SIZE = 20_000

_OS_NAMES = {
    "ios": "ios",
    "ipados": "ios",
    "android": "android",
    "windows": "windows",
    "mac os x": "macos",
    "macos": "macos",
    "chrome os": "chromeos",
    "chromecast os": "chromeos",
    "linux": "linux",
}
_LINUX_DISTRIBUTIONS = frozenset(
    {"ubuntu", "debian", "fedora", "red hat", "suse", "mint", "arch linux", "gentoo", "centos"}
    | {"mandriva", "slackware", "kubuntu", "xubuntu", "elementary os"}
)
_TABLET_MARKERS = ("Tablet", "iPad", "Kindle", "Silk/", "PlayBook")


@dataclass(frozen=True, slots=True)
class Agent:
    browser: str  # the browser family, lowercased; "" when unknown
    os: str  # ios, android, windows, macos, linux, chromeos, another family lowercased, or ""
    device: str  # tablet, mobile, desktop, or "" when unknown (bots included)
    is_bot: bool


UNKNOWN = Agent("", "", "", False)


def _resolver() -> Resolver:
    try:
        from ua_parser.regex import Resolver as RegexResolver
    except ImportError:  # no ua-parser-rs wheel for this machine: slower, same answers
        return BasicResolver(load_builtins())
    return RegexResolver(load_lazy_builtins())


class _BotList:
    """crawler-user-agents' patterns as one Rust regex set, or Python regexes without it."""

    def __init__(self) -> None:
        patterns = [entry["pattern"] for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA]
        self._set: Any = None
        try:
            import ua_parser_rs
        except ImportError:
            return
        self._set = ua_parser_rs.DeviceExtractor([(p, None, "bot", None, None) for p in patterns])

    def matches(self, agent: str) -> bool:
        if self._set is not None:
            return self._set.extract(agent) is not None
        return bool(crawleruseragents.is_crawler(agent))


def os_name(family: str) -> str:
    family = family.strip().lower()
    if family in ("", "other"):
        return ""
    if family in _OS_NAMES:
        return _OS_NAMES[family]
    if family in _LINUX_DISTRIBUTIONS:
        return "linux"
    if family.startswith("windows") and "phone" not in family and "mobile" not in family:
        return "windows"  # Windows 98, Windows XP, … as older uap-core rules name them
    return family


def device_type(agent: str, os: str, family: str, brand: str) -> str:
    if family == "Spider":
        return ""
    if brand == "Generic_Android_Tablet" or any(marker in agent for marker in _TABLET_MARKERS):
        return "tablet"
    if "Mobi" in agent or family in ("iPhone", "iPod") or brand == "Generic_Smartphone":
        return "mobile"  # "Mobi" is the marker browsers put in phone agents
    if os == "android":
        return "tablet"  # Android without "Mobile" is a tablet, as Google documents
    if os in ("windows", "macos", "linux", "chromeos"):
        return "desktop"
    return ""


def _product(agent: str) -> str:
    """The first product name of an agent the rules do not know (`python-httpx/0.28` → that)."""
    first = agent.split(None, 1)[0] if agent else ""
    name = first.split("/", 1)[0]
    return "" if name.lower() == "mozilla" else name[:64]


class AgentParser:
    """Parses user agents; `parse` is cached and thread-safe."""

    def __init__(self, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self._resolver = _resolver()
        self._bots = _BotList()
        self._cached = lru_cache(maxsize=cache_size)(self._parse)
        self.cache_info = self._cached.cache_info

    def parse(self, agent: str) -> Agent:
        """The parsed agent; cut to its start first, so the cache holds bounded keys."""
        return self._cached(agent.strip()[:MAX_AGENT_CHARS])

    def _parse(self, agent: str) -> Agent:
        if not agent:
            return UNKNOWN
        try:
            result = self._resolver(agent, Domain.ALL).complete()
        except ValueError:  # e.g. a lone surrogate the Rust side cannot take
            return UNKNOWN
        browser = result.user_agent.family if result.user_agent else ""
        os = os_name(result.os.family) if result.os else ""
        family = result.device.family if result.device else ""
        brand = (result.device.brand or "") if result.device else ""
        is_bot = family == "Spider" or self._bots.matches(agent)
        if browser in ("", "Other"):
            browser = _product(agent)
        return Agent(
            browser=browser.lower(),
            os=os,
            device=device_type(agent, os, family, brand),
            is_bot=is_bot,
        )


__all__ = ["UNKNOWN", "Agent", "AgentParser", "device_type", "os_name"]
