"""Short links: the lookup key, the checks of a create/update request, and its two rows.

The key is the one rule shared by writing a link and resolving it: the host lowercased without
its port, then the path lowercased (no scheme, no query). The Go tracker stored that form but
looked up the raw ``Host`` (port and case kept) and the path with its case, so links failed on
``:8443`` and on mixed-case paths.

Checks of ``POST /rpi/redirect`` run in the Go tracker's order and answer its texts, each followed
by what was expected (``shorten_url.html`` shows the text to the user), with Go's bugs fixed:
a missing or non-string URL is a 400, not a panic, and the self-reference check compares
hosts without ports. ``redirect_history.pathto`` is the target's path, not the source's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import SplitResult, urlsplit

from tracker.errors import BadRequest
from tracker.normalise import client, hashing
from tracker.normalise.ids import Uuid
from tracker.plan.rows import record
from tracker.spool.records import Record

__all__ = [
    "LinkChange",
    "link_key",
    "normal_host",
    "parse_change",
    "records_for",
]

# Paths the tracker itself serves: a short link there could never be reached.
RESERVED_PREFIXES = ("/tr/", "/api/", "/dashboard/")
RESERVED_PATHS = frozenset(
    {"/tr", "/api", "/dashboard", "/health", "/metrics", "/ping", "/status", "/clear"}
)
# Targets a browser must never be sent to from a short link.
BLOCKED_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "blob"})


def normal_host(host: str) -> str:
    """A host as keys hold it: trimmed, lowercased, without port (IPv6 without brackets)."""
    return client.request_host(host, {}, peer_trusted=False)


def link_key(host: str, path: str) -> str:
    return normal_host(host) + path.lower()


@dataclass(frozen=True)
class LinkChange:
    key: str  # redirects.urlfrom: host + path, lowercased, no port
    urlfrom: str  # the source as given, trimmed and lowercased (redirect_history.urlfrom)
    hostfrom: str
    slugfrom: str
    urlto: str
    hostto: str
    pathto: str
    searchto: object
    oid: object
    org: object


def _bad(kind: str, detail: str) -> BadRequest:
    return BadRequest(f"Bad URL ({kind}): {detail}")


def _has_unsafe_characters(url: str) -> bool:
    return any(ord(ch) <= 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in url)


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    return parts


def _source(urlfrom: str) -> SplitResult | None:
    """``scheme://host/path``, ``//host/path`` or ``host/path``; None without a host."""
    parts = _split(urlfrom)
    if parts is not None and not parts.netloc and not parts.scheme and not urlfrom.startswith("/"):
        parts = _split("//" + urlfrom)
    if parts is None or not parts.hostname:
        return None
    return parts


def parse_change(body: Mapping[str, Any], domains: Iterable[str]) -> LinkChange:
    """Check a create/update request; raise BadRequest naming the first problem."""
    raw_from, raw_to = body.get("urlfrom"), body.get("urlto")
    if not isinstance(raw_from, str) or not isinstance(raw_to, str):
        raise _bad("null", "'urlfrom' and 'urlto' must both be strings.")
    urlfrom, urlto = raw_from.strip().lower(), raw_to.strip()
    if not urlfrom or not urlto:
        raise _bad("null", "'urlfrom' and 'urlto' must not be empty.")
    if urlfrom == urlto.lower():
        raise _bad("equal", "'urlfrom' and 'urlto' are the same URL.")
    target = _split(urlto)
    if (
        target is None
        or _has_unsafe_characters(urlto)
        or not target.scheme
        or not target.hostname
        or target.scheme.lower() in BLOCKED_SCHEMES
    ):
        raise _bad(
            "destination", "'urlto' must be an absolute URL such as https://example.com/page."
        )
    hostto = normal_host(target.netloc.rpartition("@")[2])
    if "/rdr/" not in target.path and hostto in {d.strip().lower() for d in domains}:
        raise _bad(
            "self-referential",
            f"'urlto' points at this tracker's own domain {hostto}; use a tracked /rdr/ link.",
        )
    source = _source(urlfrom)
    if source is None or _has_unsafe_characters(urlfrom):
        raise _bad("from", "'urlfrom' must be a URL with a host, such as https://go.example/promo.")
    path = source.path
    if len(path) < 2:
        raise _bad("from path", "the path of 'urlfrom' must be at least one character after '/'.")
    if path in RESERVED_PATHS or path.startswith(RESERVED_PREFIXES):
        raise _bad("from path", f"{path} is one of the tracker's own routes.")
    hostfrom = normal_host(source.netloc.rpartition("@")[2])
    return LinkChange(
        key=hostfrom + path,
        urlfrom=urlfrom,
        hostfrom=hostfrom,
        slugfrom=path,
        urlto=urlto,
        hostto=hostto,
        pathto=target.path.lower(),
        searchto=body.get("searchto"),
        oid=body.get("oid"),
        org=body.get("org"),
    )


def records_for(
    change: LinkChange, updater: Uuid, request_host: str, now: datetime
) -> list[Record]:
    """The live ``redirects`` row (latest write wins) and one ``redirect_history`` row."""
    shared = {"oid": change.oid, "org": change.org, "updater": updater, "updated_at": now}
    return [
        record(
            "redirects",
            {
                **shared,
                "hhash": hashing.hhash(request_host),
                "urlfrom": change.key,
                "urlto": change.urlto,
                "created_at": now,
            },
        ),
        record(
            "redirect_history",
            {
                **shared,
                "urlfrom": change.urlfrom,
                "hostfrom": change.hostfrom,
                "slugfrom": change.slugfrom,
                "urlto": change.urlto,
                "hostto": change.hostto,
                "pathto": change.pathto,
                "searchto": change.searchto,
            },
        ),
    ]
