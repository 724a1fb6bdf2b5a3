"""A small, fixed data set for the dashboard, whose answers are worked out by hand below.

"Today" is 2026-03-16 (UTC), so the default range (7 days) is 2026-03-10 .. 2026-03-16 and the
previous period 2026-03-03 .. 2026-03-09. On site example.com, bots left out:

=========  ======================================================================================
session    events (time, name, page) → what it adds up to
=========  ======================================================================================
A1 (a)     03-14 10:00:00 load /  (from news.site; utm news/email/spring; NZ)   2 page views,
           10:00:30 reroute /pricing; 10:02:00 signup/conversion on /pricing    120 s, no bounce
A2 (a)     03-15 09:00 load /blog (no referrer; NZ)                             1 view, 0 s, bounce
B1 (b)     03-14 11:00 load /pricing (from www.google.com; US, firefox, macos);  1 view, 60 s,
           11:01 click/outbound to https://partner.example/                    bounce
C1 (c)     03-16 08:00 load / (from www.google.com; US, chrome, ios mobile),     3 views, 300 s
           08:00:10 reroute /docs, 08:05 reroute /pricing
=========  ======================================================================================

Visitors 3, sessions 4, page views 7, views per session 1.75, bounce rate 2/4, mean session
duration (120 + 0 + 60 + 300) / 4 = 120 s. Previous period: visitors g and h (2).
Outside the site or the defaults: a bot (d) on example.com, a visitor (e) of other.org, a visitor
(f) before both periods, and two hits of the short link example.com/promo (by a and b).
Payments: c paid 50 USD in the range (and 25 before: lifetime 75); e paid 20 USD (other.org).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import orjson

from tracker.accounts import add_account_sql
from tracker.control import remote_query
from tracker.normalise.hashing import hhash
from tracker.normalise.ids import Uuid

TODAY = date(2026, 3, 16)
NOW = datetime(2026, 3, 16, 8, 6)  # realtime: the last five minutes hold C1's last page view
SITE = "example.com"


def uuid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


VID = {name: uuid(i) for i, name in enumerate("abcdefgh", start=1)}
SID = {name: uuid(100 + i) for i, name in enumerate(["A1", "A2", "B1", "C1", "D1", "E1", "F1", "G1", "H1", "L1", "L2"])}  # fmt: skip

NZ = {"country": "NZ", "region": "Auckland", "browser": "chrome", "os": "windows", "device": "desktop"}  # fmt: skip
US_B = {"country": "US", "region": "California", "browser": "firefox", "os": "macos", "device": "desktop"}  # fmt: skip
US_C = {"country": "US", "region": "New York", "browser": "chrome", "os": "ios", "device": "mobile"}  # fmt: skip
URL = "https://example.com"
GOOGLE = "https://www.google.com/search?q=tracker"


def event(vid: str, sid: str, at: str, ename: str, url: str, **columns: Any) -> dict[str, Any]:
    row = {
        "vid": VID[vid],
        "sid": SID[sid],
        "created_at": f"2026-{at}",
        "ename": ename,
        "etyp": "page" if ename in ("load", "reroute") else columns.pop("etyp", ""),
        "url": url,
        "hhash": hhash("example.com"),
    }
    row.update(columns)
    row.setdefault("params", {})
    return row


EVENTS: list[dict[str, Any]] = [
    # A1: two page views and a conversion, from news.site with UTM values.
    event("a", "A1", "03-14 10:00:00.000", "load", f"{URL}/?utm_source=news", last="https://news.site/article",
          source="news", medium="email", campaign="spring", **NZ),
    event("a", "A1", "03-14 10:00:30.000", "reroute", f"{URL}/pricing", last=f"{URL}/", **NZ),
    event("a", "A1", "03-14 10:02:00.000", "signup", f"{URL}/pricing", etyp="conversion", **NZ),
    # A2: a bounce without a referrer.
    event("a", "A2", "03-15 09:00:00.000", "load", f"{URL}/blog", **NZ),
    # B1: one page view from Google and an outbound click.
    event("b", "B1", "03-14 11:00:00.000", "load", f"{URL}/pricing", last=GOOGLE, **US_B),
    event("b", "B1", "03-14 11:01:00.000", "click", f"{URL}/pricing", etyp="outbound",
          params={"href": "https://partner.example/", "firsttext": "partner"}, **US_B),
    # C1: three page views from Google, today.
    event("c", "C1", "03-16 08:00:00.000", "load", f"{URL}/", last=GOOGLE, **US_C),
    event("c", "C1", "03-16 08:00:10.000", "reroute", f"{URL}/docs", last=f"{URL}/", **US_C),
    event("c", "C1", "03-16 08:05:00.000", "reroute", f"{URL}/pricing", last=f"{URL}/docs", **US_C),
    # Left out by default: a bot.
    event("d", "D1", "03-14 12:00:00.000", "load", f"{URL}/", params={"bot": True}, **US_B),
    # Another site.
    event("e", "E1", "03-14 13:00:00.000", "load", "https://other.org/", **US_B),
    # Before both periods.
    event("f", "F1", "03-01 10:00:00.000", "load", f"{URL}/", **NZ),
    # The previous period.
    event("g", "G1", "03-05 10:00:00.000", "load", f"{URL}/", **NZ),
    event("h", "H1", "03-06 10:00:00.000", "load", f"{URL}/pricing", **US_B),
    # Two hits of the short link example.com/promo (their url is the path asked for).
    event("a", "L1", "03-14 14:00:00.000", "short_rdr", "/promo", etyp="redirect"),
    event("b", "L2", "03-15 14:00:00.000", "short_rdr", "/promo?x=1", etyp="redirect"),
]  # fmt: skip

PAYMENTS: list[dict[str, Any]] = [
    {"id": uuid(201), "vid": VID["c"], "revenue": 50.0, "currency": "USD", "created_at": "2026-03-16 08:10:00.000"},
    {"id": uuid(202), "vid": VID["c"], "revenue": 25.0, "currency": "USD", "created_at": "2026-02-01 08:00:00.000"},
    {"id": uuid(203), "vid": VID["e"], "revenue": 20.0, "currency": "USD", "created_at": "2026-03-14 13:05:00.000"},
]  # fmt: skip

LTV: list[dict[str, Any]] = [
    {"hhash": "x", "id": VID["c"], "id_type": "vid", "paid": 25.0},
    {"hhash": "x", "id": VID["c"], "id_type": "vid", "paid": 50.0},
    {"hhash": "x", "id": VID["e"], "id_type": "vid", "paid": 20.0},
]

REDIRECTS: list[dict[str, Any]] = [
    {"hhash": hhash("example.com"), "urlfrom": "example.com/promo",
     "urlto": "https://example.com/pricing?utm_source=promo", "updated_at": "2026-03-01 00:00:00.000"},
    {"hhash": hhash("example.com"), "urlfrom": "other.org/unused", "urlto": "https://other.org/",
     "updated_at": "2026-03-01 00:00:00.000"},
]  # fmt: skip

HOSTS: list[dict[str, Any]] = [{"hhash": hhash("example.com"), "hostname": "example.com"}]

TABLES = {
    "events": EVENTS,
    "payments": PAYMENTS,
    "ltv": LTV,
    "redirects": REDIRECTS,
    "hosts": HOSTS,
}

# The dashboard account of the HTTP and browser tests.
UID = Uuid("0e7b3c4a-9d1f-4c1e-8a55-3f1e2d9c7b10")
PASSWORD = "correct horse battery staple"


def load(server: Any) -> None:
    """The account and the data set, written straight into a running server's store (a
    ``tests.conftest.TrackerServer``) through its control socket."""
    sock = server.data_dir / "tracker.sock"
    remote_query(sock, add_account_sql(UID, PASSWORD), "TSV")
    for table, rows in TABLES.items():
        lines = "\n".join(orjson.dumps(row).decode() for row in rows)
        remote_query(sock, f"INSERT INTO {table} FORMAT JSONEachRow {lines}", "TSV")
