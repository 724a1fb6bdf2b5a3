"""HTML for the dashboard: Jinja2 templates (autoescaped), number formats, and the headers every
page carries (a strict Content-Security-Policy: only this origin's scripts, no inline script)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
import markupsafe
from starlette.responses import HTMLResponse, Response

from tracker.errors import TrackerError
from tracker.http.responses import render_error

__all__ = ["PAGE_HEADERS", "error_page", "fmt", "page"]

# Inline styles are allowed for the bars' widths; scripts and everything else only from here.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'"
)
PAGE_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
    "x-frame-options": "DENY",
}


def _seconds(value: float) -> str:
    total = round(value)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


def fmt(value: Any, kind: str = "count") -> str:
    """A number as the dashboard shows it: count, rate, ratio, money or seconds."""
    if value is None:
        return "—"
    if kind == "text":
        return str(value) if value != "" else "(none)"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if kind == "rate":
        return f"{number * 100:.1f} %"
    if kind == "ratio":
        return f"{number:.2f}"
    if kind == "money":
        return f"{number:,.2f}"
    if kind == "seconds":
        return _seconds(number)
    return f"{number:,.0f}" if number == int(number) else f"{number:,.2f}"


def change(value: float | None) -> str:
    if value is None:
        return "—"
    sign = "+" if value > 0 else "\u2212" if value < 0 else "\u00b1"  # plus, minus, plus-minus
    return f"{sign}{abs(value) * 100:.0f} %"


def ticks(text: str) -> markupsafe.Markup:
    """Plain text with `code` spans (the definitions' markdown) as HTML."""
    parts = str(markupsafe.escape(text)).split("`")
    return markupsafe.Markup(
        "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))
    )


ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("tracker.http.dashboard", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters["fmt"] = fmt
ENV.filters["change"] = change
ENV.filters["ticks"] = ticks


def page(
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = ENV.get_template(template).render(**context)
    return HTMLResponse(body, status, headers={**PAGE_HEADERS, **(headers or {})})


def error_page(exc: TrackerError) -> Response:
    """A dashboard error as a page a person can read (the same status and message as the JSON
    error, and its headers, such as ``Retry-After``)."""
    status, _, headers = render_error(exc)
    extra = {k.decode(): v.decode() for k, v in headers if k != b"content-type"}
    extra.pop("www-authenticate", None)  # a login form answers 401, not the browser's dialog
    return page(
        "error.html", {"status": status, "message": exc.message}, status=status, headers=extra
    )
