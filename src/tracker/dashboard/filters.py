"""What a dashboard view shows: the site, the period, bots or not, and the filters.

A view lives entirely in its URL's query string, so it can be shared and reloaded:
``?site=example.com&range=30d&country=NZ&bots=1``. `Filters.parse` reads it (unknown keys are
ignored, bad values are a 400 naming the key), and `Filters.query` writes it back, changed.

Each filter is a *dimension* of an event or of a session (`DIMENSIONS`); `tracker.dashboard.sql`
turns them into conditions, with their values as query parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from urllib.parse import urlencode

from tracker.dashboard.period import RANGES, Period, parse_period
from tracker.errors import BadRequest

__all__ = ["DIMENSIONS", "Dimension", "Filters", "parse_site"]

MAX_VALUE = 2048  # longest filter value accepted (a long page path, a referrer host)


@dataclass(frozen=True)
class Dimension:
    key: str  # the query-string key
    label: str
    level: str  # "event": a column of each event; "session": decided once per session


# In the order the active filters are shown.
DIMENSIONS: dict[str, Dimension] = {
    d.key: d
    for d in (
        Dimension("page", "Page", "event"),
        Dimension("entry", "Entry page", "session"),
        Dimension("exit", "Exit page", "session"),
        Dimension("referrer", "Referrer", "session"),
        Dimension("source", "Source", "session"),
        Dimension("medium", "Medium", "session"),
        Dimension("campaign", "Campaign", "session"),
        Dimension("country", "Country", "event"),
        Dimension("region", "Region", "event"),
        Dimension("browser", "Browser", "event"),
        Dimension("os", "Operating system", "event"),
        Dimension("device", "Device", "event"),
        Dimension("event", "Event", "event"),
    )
}


def parse_site(text: str) -> str:
    """A site name as views hold it (lowercased); BadRequest for anything but a host name."""
    site = text.strip().lower()
    if len(site) > 253 or any(ch.isspace() or ch in "/?#@" for ch in site):
        raise BadRequest(
            f"Dashboard parameter 'site' has value {text[:60]!r}: expected a host name such as "
            "'example.com'."
        )
    return site


@dataclass(frozen=True)
class Filters:
    period: Period
    site: str = ""  # "": every site
    bots: bool = False  # True: bots are counted too
    dims: tuple[tuple[str, str], ...] = ()  # (dimension key, value), in DIMENSIONS order

    @classmethod
    def parse(cls, query: Mapping[str, str], today: date) -> Filters:
        period = parse_period(
            query.get("range", ""), query.get("from", ""), query.get("to", ""), today
        )
        dims = []
        for key in DIMENSIONS:
            if key in query:
                value = query[key]
                if len(value) > MAX_VALUE:
                    raise BadRequest(
                        f"Dashboard filter '{key}' is {len(value)} characters long: at most "
                        f"{MAX_VALUE}."
                    )
                dims.append((key, value))
        bots = query.get("bots", "").strip().lower() in ("1", "true", "yes", "on")
        return cls(period, parse_site(query.get("site", "")), bots, tuple(dims))

    @property
    def event_dims(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.dims if DIMENSIONS[k].level == "event"]

    @property
    def session_dims(self) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.dims if DIMENSIONS[k].level == "session"]

    def value(self, key: str) -> str | None:
        return next((v for k, v in self.dims if k == key), None)

    def previous(self) -> Filters:
        return replace(self, period=self.period.previous())

    def pairs(self) -> list[tuple[str, str]]:
        """The view as query-string pairs (the inverse of `parse`)."""
        out: list[tuple[str, str]] = []
        if self.site:
            out.append(("site", self.site))
        period = self.period
        if period.name == "custom":
            out += [("from", period.first_day.isoformat()), ("to", period.last_day.isoformat())]
        else:
            out.append(("range", period.name))
        if self.bots:
            out.append(("bots", "1"))
        out.extend(self.dims)
        return out

    def query(self, **changes: str | None) -> str:
        """The query string of this view with ``changes``: a filter (or ``site``, ``bots``) set
        to a value, or removed with None; ``range`` switches to a named range."""
        pairs = dict(self.pairs())
        if changes.get("range") is not None:
            for key in ("range", "from", "to"):
                pairs.pop(key, None)
        for key, value in changes.items():
            if value is None:
                pairs.pop(key, None)
            else:
                pairs[key] = value
        ordered = [
            (k, pairs[k])
            for k in ("site", "range", "from", "to", "bots", *DIMENSIONS)
            if k in pairs
        ]
        return urlencode(ordered)

    def dropping(self, *keys: str) -> str:
        """The query string of this view without the filters ``keys``."""
        return self.query(**dict.fromkeys(keys))

    def setting(self, pairs: Mapping[str, str]) -> str:
        """The query string of this view with the filters ``pairs`` set."""
        return self.query(**pairs)

    @property
    def range_label(self) -> str:
        return RANGES.get(self.period.name, "Custom")
