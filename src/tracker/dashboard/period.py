"""Date ranges of the dashboard: the named ranges, custom ones, the period before, the buckets.

Every range is a half-open interval of UTC times, ``[start, end)``, whole days except realtime.
The previous period is the interval of the same length right before ``start``, so the change
shown next to a number always compares like with like.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tracker.errors import BadRequest

__all__ = ["MAX_DAYS", "RANGES", "Period", "parse_period"]

# The names the range picker offers, in its order, with their labels.
RANGES = {
    "today": "Today",
    "yesterday": "Yesterday",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "month": "This month",
    "custom": "Custom",
}
DEFAULT_RANGE = "7d"
MAX_DAYS = 3 * 366  # a custom range longer than this is refused: the queries' cost grows with it
HOURLY_UP_TO = timedelta(days=2)  # ranges this short are charted by hour, longer ones by day


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in UTC; ``name`` is the range it came from (``custom`` for dates)."""

    start: datetime
    end: datetime
    name: str = "custom"

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def step(self) -> str:
        """``hour`` or ``day``: the chart's bucket."""
        return "hour" if self.length <= HOURLY_UP_TO else "day"

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        """The last day inside the range (``end`` is exclusive)."""
        return (self.end - timedelta(microseconds=1)).date()

    def previous(self) -> Period:
        return Period(self.start - self.length, self.start, self.name)

    def buckets(self) -> list[datetime]:
        """The start of every chart bucket in the range, in order."""
        delta = timedelta(hours=1) if self.step == "hour" else timedelta(days=1)
        out = []
        moment = self.start
        while moment < self.end:
            out.append(moment)
            moment += delta
        return out

    def label(self) -> str:
        if self.first_day == self.last_day:
            return self.first_day.isoformat()
        return f"{self.first_day.isoformat()} to {self.last_day.isoformat()}"


def _parse_day(key: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadRequest(
            f"Dashboard parameter '{key}' has value {text[:40]!r}: expected a date as YYYY-MM-DD."
        ) from None


def parse_period(name: str, from_text: str, to_text: str, today: date) -> Period:
    """The period of a range name (``RANGES``); ``custom`` reads ``from`` and ``to`` (inclusive
    days). A custom range given without its name is taken as custom."""
    name = (name or "").strip().lower() or ("custom" if from_text or to_text else DEFAULT_RANGE)
    tomorrow = _midnight(today + timedelta(days=1))
    if name == "today":
        return Period(_midnight(today), tomorrow, name)
    if name == "yesterday":
        return Period(_midnight(today - timedelta(days=1)), _midnight(today), name)
    if name in ("7d", "30d"):
        days = int(name[:-1])
        return Period(_midnight(today - timedelta(days=days - 1)), tomorrow, name)
    if name == "month":
        return Period(_midnight(today.replace(day=1)), tomorrow, name)
    if name != "custom":
        raise BadRequest(
            f"Dashboard parameter 'range' has value {name[:40]!r}: expected one of "
            f"{', '.join(RANGES)}."
        )
    if not from_text:
        raise BadRequest("A custom range needs 'from' (YYYY-MM-DD).")
    first = _parse_day("from", from_text)
    last = _parse_day("to", to_text) if to_text else first
    if last < first:
        raise BadRequest(
            f"Dashboard range ends ({last.isoformat()}) before it starts ({first.isoformat()})."
        )
    if (last - first).days + 1 > MAX_DAYS:
        raise BadRequest(
            f"Dashboard range of {(last - first).days + 1} days is too long: at most {MAX_DAYS}."
        )
    return Period(_midnight(first), _midnight(last + timedelta(days=1)), "custom")
