"""``POST /tr/v{N}/ppi/forget``: a deletion request (the right to be forgotten), authenticated.

The body (or the query string) names one person: ``{"vid": "<uuid>"}`` for a visitor, or
``{"uid": "<uuid>"}`` for a user and every visitor id linked to it. ``DELETE`` works the same.
Credentials are those of the redirect API's accounts (`tracker.accounts`): an
``Authorization: Basic base64(uid:password)`` header.

Before deleting, the route waits until the writer has stored everything the tracker had accepted
when the request arrived (at most the longest batch window plus a margin), so rows still in the
spool or an open batch cannot land after the forget. The answer is ``202`` with what was removed
per table (`tracker.privacy.forget`), and ``"settled": false`` when the wait ran out (the store
was down, say): then rows accepted just before may still land, and the request should be repeated.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.accounts import Accounts, credentials
from tracker.errors import BadRequest, MethodNotAllowed
from tracker.http import request as raw
from tracker.http.api import ALL_METHODS, api_errors, cors, json_response, preflight, read_object
from tracker.http.site import Site
from tracker.normalise.ids import Uuid, parse_uuid
from tracker.privacy.forget import forget
from tracker.privacy.store import store_for
from tracker.runtime.policies import longest_batch_seconds

__all__ = ["routes", "settle"]

SETTLE_MARGIN_SECONDS = 5.0
SETTLE_MAX_SECONDS = 120.0


def settle_seconds(site: Site) -> float:
    """How long a forget waits for accepted rows: the longest batch window, plus a margin."""
    longest = longest_batch_seconds(site.settings)
    return min(longest + SETTLE_MARGIN_SECONDS, SETTLE_MAX_SECONDS)


async def settle(site: Site, timeout: float) -> bool:
    """Wait until every row accepted so far is stored, in every spool (with `Workers`, every
    worker's); False when ``timeout`` passed first."""
    target = await asyncio.to_thread(site.rt.accepted)
    deadline = time.monotonic() + timeout
    while True:
        stored = await asyncio.to_thread(site.rt.stored)
        if target and all(stored.get(name, -1) >= end for name, end in target.items()):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)
        target = target or await asyncio.to_thread(site.rt.accepted)


def _person(body: dict[str, Any], query: Any) -> tuple[Uuid | None, Uuid | None]:
    given = {key: body.get(key, query.get(key)) for key in ("vid", "uid")}
    named = {key: value for key, value in given.items() if value not in (None, "")}
    if len(named) != 1:
        raise BadRequest("Name exactly one person: 'vid' (a visitor) or 'uid' (a user).")
    key, value = next(iter(named.items()))
    parsed = parse_uuid(value) if isinstance(value, str) else None
    if parsed is None:
        raise BadRequest(f"Field '{key}' must be a UUID.")
    return (parsed, None) if key == "vid" else (None, parsed)


def routes(site: Site) -> list[Route]:
    rt = site.rt
    accounts = Accounts(rt.sink.query)

    @api_errors(site)
    async def handle(request: Request) -> Response:
        if request.method == "OPTIONS":
            return preflight(site, request)
        if request.method not in ("POST", "DELETE"):
            raise MethodNotAllowed("Method not allowed: send a deletion request with POST.")
        req = raw.from_scope(request.scope)
        await asyncio.to_thread(accounts.authenticate, credentials(req.headers, None, None))
        body = await read_object(site, request) or {}
        vid, uid = _person(body, request.query_params)
        settled = await settle(site, settle_seconds(site))
        store = store_for(rt.settings, rt.sink.query)
        report = await asyncio.to_thread(forget, store, vid=vid, uid=uid)
        answer = {"ok": True, **report.as_json(), "settled": settled}
        return json_response(answer, cors(site, request), status=202)

    path = f"{site.prefix}/ppi/forget"
    return [Route(path, handle, methods=ALL_METHODS)]
