"""Short links: the catch-all ``/<path>`` resolves ``host + path`` to a target.

Resolution goes through a bounded in-process cache (LRU, ``MAX_ENTRIES``) that also remembers
misses for a short while, so a flood of unknown paths costs one lookup per path per
``MISS_TTL`` (the Go cache was unbounded, kept hits 5 minutes and no misses). A link
created or changed on this node is put in the cache at once (``remember``), so it resolves here
before its ``redirects`` batch lands; other nodes see it within ``MISS_TTL`` / ``HIT_TTL``.

The key is ``plan.redirect_rows.link_key``: the same normalisation as on write, so
``GO.Example:8443/Promo`` finds ``go.example/promo``.

A hit answers 302 and records an event: a client event ``short_rdr`` (``etyp`` redirect) whose
``vid``/``sid`` cookies ride on the 302 itself (the Go tracker set them after the redirect, so
they were lost), or, when the target is a tracked ``/tr/v1/rdr/`` link, a server event with the
link's parameters, redirecting in one hop to its ``url`` (as Go did). A miss is a 404 JSON error.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tracker.errors import NotFound, TrackerError
from tracker.http import request as raw
from tracker.http.api import cors, query_rows, redirect_response, track, visitor_cookies
from tracker.http.responses import error_response
from tracker.http.site import Site
from tracker.normalise import values
from tracker.normalise.ids import parse_uuid
from tracker.plan.redirect_rows import link_key
from tracker.runtime import Source

__all__ = ["ShortLinks", "TtlCache"]

MAX_ENTRIES = 10_000
HIT_TTL = 60.0
MISS_TTL = 5.0
WRITTEN_TTL = 300.0  # a link written here stays cached while its batch is on its way
ORG_TTL = 300.0
MAX_PATH = 2048
TRACKED = re.compile(r"/tr/v[0-9]+/rdr/")
LINK_SQL = (
    "SELECT urlto FROM redirects FINAL WHERE urlfrom = {key:String} "
    "ORDER BY updated_at DESC LIMIT 1"
)
ORG_SQL = "SELECT toString(ddata) AS ddata FROM orgs FINAL WHERE oid = {oid:UUID}"


# A short link's hit is a client event; a tracked /rdr/ link's is a server event, as in Go.
# Their path is the link's key, never path pairs.
SHORT_LINK = Source("short link", is_server=False)
TRACKED_LINK = Source("tracked short link", is_server=True)


class TtlCache:
    """A bounded LRU map whose entries expire; None values (misses) expire sooner."""

    def __init__(
        self,
        max_entries: int = MAX_ENTRIES,
        hit_ttl: float = HIT_TTL,
        miss_ttl: float = MISS_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.hit_ttl = hit_ttl
        self.miss_ttl = miss_ttl
        self.clock = clock
        self._entries: OrderedDict[str, tuple[str | None, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> tuple[bool, str | None]:
        """(True, value) for a live entry, (False, None) when absent or expired."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        if entry[1] <= self.clock():
            del self._entries[key]
            return False, None
        self._entries.move_to_end(key)
        return True, entry[0]

    def put(self, key: str, value: str | None, ttl: float | None = None) -> None:
        if ttl is None:
            ttl = self.hit_ttl if value is not None else self.miss_ttl
        self._entries[key] = (value, self.clock() + ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


class ShortLinks:
    """Resolution and serving of short links; ``remember`` is called by the admin API on write."""

    def __init__(self, site: Site, clock: Callable[[], float] = time.monotonic) -> None:
        self.site = site
        self.links = TtlCache(clock=clock)
        self.orgs = TtlCache(1000, ORG_TTL, ORG_TTL, clock)
        self._writes = 0  # bumped on every remember(): a lookup racing a write must not win

    def remember(self, key: str, target: str) -> None:
        self._writes += 1
        self.links.put(key, target, WRITTEN_TTL)

    async def target(self, key: str) -> str | None:
        found, value = self.links.get(key)
        if found:
            return value
        epoch = self._writes
        rows = await query_rows(self.site, LINK_SQL, {"key": key})
        urlto = rows[0].get("urlto") if rows else None
        value = urlto if isinstance(urlto, str) and urlto else None
        if self._writes != epoch:  # written while we read: the cache holds the newer answer
            found, cached = self.links.get(key)
            return cached if found else value
        self.links.put(key, value)
        return value

    async def org_host(self, oid: str) -> str:
        """``orgs.ddata.default_destination_host`` of ``oid`` ('' when unknown)."""
        found, value = self.orgs.get(oid)
        if found:
            return value or ""
        host = ""
        for row in await query_rows(self.site, ORG_SQL, {"oid": oid}):
            try:
                data = orjson.loads(row.get("ddata") or "{}")
            except orjson.JSONDecodeError:
                continue
            candidate = data.get("default_destination_host") if isinstance(data, dict) else None
            if isinstance(candidate, str) and candidate:
                host = candidate
                break
        self.orgs.put(oid, host)
        return host

    async def tracked(self, target: str) -> tuple[str, dict[str, Any]]:
        """The one-hop destination of a tracked ``/rdr/`` target and the event's values."""
        pairs = parse_qsl(urlsplit(target).query, keep_blank_values=True)
        destination = next((value for key, value in pairs if key == "url" and value), target)
        injected = values.from_query(
            [(key, value) for key, value in pairs if values.norm_key(key) != "url"], ""
        )
        oid = parse_uuid(injected.get("oid"))
        if destination.startswith("/") and not destination.startswith("//") and oid is not None:
            destination = await self.org_host(oid) + destination
        return destination, injected

    async def endpoint(self, request: Request) -> Response:
        site = self.site
        headers = cors(site, request)
        req = raw.from_scope(request.scope)
        try:
            path = req.path
            target = None
            if 2 <= len(path) <= MAX_PATH:
                target = await self.target(link_key(site.ingest.host(req), path))
            if target is None:
                raise NotFound(f"Nothing at {path[:200]}: no route and no short link.")
            if TRACKED.search(target):
                destination, injected = await self.tracked(target)
                hit = {**injected, "last": req.request_uri}
                await track(site, req, hit, TRACKED_LINK, path_values={})
                return redirect_response(destination, req.method, headers)
            hit = {"last": req.request_uri, "etyp": "redirect", "ename": "short_rdr"}
            event = await track(site, req, hit, SHORT_LINK, path_values={})
            return redirect_response(
                target, req.method, headers + visitor_cookies(site, req, event)
            )
        except TrackerError as exc:
            return error_response(exc, headers)
