"""Public read-only links: one random token per link, naming one site.

A link is made (or turned off) by a logged-in account and stored in ``dashboard_shares`` through
the ingest service like every other row; reads go through the dashboard's query threads. A token
written here is remembered at once, so the link works before its row has landed.
"""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from datetime import UTC, datetime

from tracker.dashboard import Dashboard
from tracker.dashboard.queries import SHARE_SQL, SITE_SHARES_SQL
from tracker.http.shortlinks import TtlCache
from tracker.normalise.ids import Uuid
from tracker.plan.coerce import format_time
from tracker.plan.rows import record
from tracker.runtime import Ingest

__all__ = ["TOKEN", "Shares"]

TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")
WRITTEN_TTL = 300.0
RECENT_MAX = 1000


class Shares:
    def __init__(self, ingest: Ingest, board: Dashboard) -> None:
        self.ingest = ingest
        self.board = board
        self.cache = TtlCache(1000, hit_ttl=30.0, miss_ttl=5.0)
        # Written here lately: (site, enabled) by token, until their rows can be read back.
        self.recent: OrderedDict[str, tuple[str, bool]] = OrderedDict()

    async def _write(self, token: str, site: str, enabled: bool, creator: Uuid) -> None:
        now = format_time(datetime.now(UTC))
        row = {
            "token": token,
            "site": site,
            "enabled": enabled,
            "creator": creator,
            "created_at": now,
            "updated_at": now,
        }
        await self.ingest.store([record("dashboard_shares", row)])
        self.cache.put(token, site if enabled else None, WRITTEN_TTL)
        self.recent[token] = (site, enabled)
        self.recent.move_to_end(token)
        while len(self.recent) > RECENT_MAX:
            self.recent.popitem(last=False)

    async def create(self, site: str, creator: Uuid) -> str:
        token = secrets.token_urlsafe(24)
        await self._write(token, site, True, creator)
        return token

    async def revoke(self, token: str, creator: Uuid) -> None:
        site = await self.site_of(token)
        if site is not None:
            await self._write(token, site, False, creator)

    async def site_of(self, token: str) -> str | None:
        """The site a live token shows; None for an unknown or turned-off one."""
        if not TOKEN.fullmatch(token):
            return None
        found, site = self.cache.get(token)
        if found:
            return site
        rows = await self.board.call(self.board.run, SHARE_SQL, {"token": token})
        site = rows[0]["site"] if rows and rows[0].get("enabled") else None
        self.cache.put(token, site)
        return site

    async def of_site(self, site: str) -> list[str]:
        """The live tokens of ``site``, oldest first."""
        rows = await self.board.call(self.board.run, SITE_SHARES_SQL, {"site": site})
        tokens = [row["token"] for row in rows]
        for token, (where, enabled) in self.recent.items():
            if where == site and enabled and token not in tokens:
                tokens.append(token)
        return [t for t in tokens if self.recent.get(t, (site, True))[1]]
