"""A synthetic store for the dashboard benchmark: N events over the last D days on three sites,
written by ClickHouse itself (``INSERT … SELECT … FROM numbers(N)``) in seconds.

Shape: sessions of three events (a ``load``, then a mix of ``reroute`` page views, outbound
``click``s, ``signup`` conversions and ``add_to_cart``), two sessions per visitor; referrers, UTM
values, countries, regions, browsers, systems and devices spread by hashes; 5 % of visitors are
bots; 2 % of the events are hits of 50 short links; 1 % of visitors paid. Deterministic for a given
N, D and ``now``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tracker.normalise.hashing import hhash

SITES = ("shop.example", "blog.example", "docs.example")
Run = Callable[[str], object]


def _array(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def fill(run: Run, events: int, days: int, now: datetime) -> None:
    """Insert ``events`` rows into ``events`` (and payments, ltv, short links) through ``run``."""
    hits = events // 50
    visits = events - hits
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    span = days * 86400
    sites, hashes = _array(SITES), _array([hhash(s) for s in SITES])
    referrers = _array(["", "", "https://www.google.com/", "https://www.google.com/search",
                        "https://news.ycombinator.com/item", "https://t.co/abc",
                        "https://www.bing.com/", "https://duckduckgo.com/"])  # fmt: skip
    sources = _array(["", "", "", "", "newsletter", "google", "twitter", "partner"])
    mediums = _array(["", "", "", "", "email", "cpc", "social", "referral"])
    campaigns = _array(["", "", "", "", "spring", "brand", "launch", "affiliates"])
    pages = _array(["/", "/pricing", "/blog/", "/docs/", "/about", "/signup"])
    countries = _array(["US", "US", "US", "GB", "DE", "FR", "NZ", "IN", "BR", "JP"])
    browsers = _array(["chrome", "chrome", "chrome", "safari", "firefox", "edge"])
    systems = _array(["windows", "macos", "ios", "android", "linux"])
    devices = _array(["desktop", "desktop", "mobile", "tablet"])
    run(
        "INSERT INTO events (eid, vid, sid, created_at, url, last, ename, etyp, source, medium, "
        "campaign, country, region, browser, os, device, params, hhash) SELECT "
        "generateUUIDv4(number), "
        "toUUID(concat('00000000-0000-4000-8000-', leftPad(toString(v), 12, '0'))), "
        "toUUID(concat('00000000-0000-4000-9000-', leftPad(toString(s), 12, '0'))), "
        f"toDateTime64('{stamp}', 3) - toIntervalSecond(hs % {span}) + toIntervalSecond(i * 40), "
        f"concat('https://', site, page, if(i = 0 AND src != '', "
        "concat('?utm_source=', src), '')), "
        f"if(i = 0, {referrers}[hs % 8 + 1], concat('https://', site, '/')), "
        "name, multiIf(name IN ('load', 'reroute'), 'page', name = 'click', 'outbound', "
        "name = 'signup', 'conversion', 'cart'), "
        f"if(i = 0, src, ''), if(i = 0, {mediums}[hs % 8 + 1], ''), "
        f"if(i = 0, {campaigns}[hs % 8 + 1], ''), "
        "country, concat(country, '-', toString(hv % 5)), "
        f"{browsers}[hv % 6 + 1], {systems}[hv % 5 + 1], {devices}[hv % 4 + 1], "
        "CAST(multiIf(hv % 20 = 0, '{\"bot\":true}', name = 'click', "
        "'{\"href\":\"https://partner.example/x\"}', '{}'), 'JSON'), "
        f"{hashes}[hv % 3 + 1] "
        "FROM (SELECT number, intDiv(number, 3) AS s, intDiv(number, 6) AS v, number % 3 AS i, "
        "cityHash64(intDiv(number, 3)) AS hs, cityHash64(intDiv(number, 6)) AS hv, "
        "cityHash64(number) AS he, "
        f"{sites}[hv % 3 + 1] AS site, "
        f"concat({pages}[he % 6 + 1], if(he % 6 IN (2, 3), toString(he % 40), '')) AS page, "
        f"{sources}[hs % 8 + 1] AS src, {countries}[hv % 10 + 1] AS country, "
        "if(i = 0, 'load', multiIf(he % 10 < 6, 'reroute', he % 10 < 8, 'click', "
        "he % 10 < 9, 'signup', 'add_to_cart')) AS name "
        f"FROM numbers({visits}))"
    )
    shop = hhash(SITES[0])
    run(
        "INSERT INTO events (eid, vid, sid, created_at, url, last, ename, etyp, hhash) SELECT "
        "generateUUIDv4(number), "
        "toUUID(concat('00000000-0000-4000-8000-', leftPad(toString(number * 7), 12, '0'))), "
        "toUUID(concat('00000000-0000-4000-a000-', leftPad(toString(number), 12, '0'))), "
        f"toDateTime64('{stamp}', 3) - toIntervalSecond(cityHash64(number) % {span}), "
        "concat('/l', toString(number % 50)), concat('/l', toString(number % 50)), "
        f"'short_rdr', 'redirect', '{shop}' FROM numbers({hits})"
    )
    run(
        "INSERT INTO redirects (hhash, urlfrom, urlto, updated_at) SELECT "
        f"'{shop}', concat('{SITES[0]}/l', toString(number)), "
        f"concat('https://{SITES[0]}/pricing?utm_source=link', toString(number)), "
        f"toDateTime64('{stamp}', 3) FROM numbers(50)"
    )
    run(
        "INSERT INTO hosts (hhash, hostname) VALUES "
        + ", ".join(f"('{hhash(s)}', '{s}')" for s in SITES)
    )
    payers = max(1, events // 600)
    run(
        "INSERT INTO payments (id, vid, revenue, currency, created_at) SELECT "
        "generateUUIDv4(number), "
        "toUUID(concat('00000000-0000-4000-8000-', leftPad(toString(number * 97), 12, '0'))), "
        f"(number % 50) + 9.99, 'USD', "
        f"toDateTime64('{stamp}', 3) - toIntervalSecond(cityHash64(number) % {span}) "
        f"FROM numbers({payers})"
    )
    run(
        "INSERT INTO ltv (hhash, id, id_type, paid) SELECT "
        f"'{shop}', "
        "toUUID(concat('00000000-0000-4000-8000-', leftPad(toString(number * 97), 12, '0'))), "
        f"'vid', (number % 50) + 9.99 FROM numbers({payers})"
    )
