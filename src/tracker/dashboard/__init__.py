"""The dashboard's data, below HTTP: the view a URL describes, the named queries, their runner.

period.py    date ranges: today, 7/30 days, this month, custom; the period before; chart buckets
filters.py   `Filters`: site, period, bots, filters; parsed from and written to a query string
sql.py       what a page view, a page, a site, a bot and a session's referrer are, in SQL
queries.py   `PANELS` and `METRICS`: every query by name, with its columns and definition
service.py   `Dashboard`: runs them on its own threads, with a time limit each
"""

from tracker.dashboard.filters import DIMENSIONS, Filters
from tracker.dashboard.period import RANGES, Period
from tracker.dashboard.queries import METRICS, PANELS
from tracker.dashboard.service import Dashboard, PanelResult

__all__ = [
    "DIMENSIONS",
    "METRICS",
    "PANELS",
    "RANGES",
    "Dashboard",
    "Filters",
    "PanelResult",
    "Period",
]
