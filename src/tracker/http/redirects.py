"""Tracked redirects (``/rdr/``, ``/xrdr/``) and the short-link admin API (``/rpi/``).

``/tr/v{N}/rdr/?url=…`` records a server event and ``/xrdr/`` a client event (with the ``vid`` and
``sid`` cookies on the 302), then redirect to ``url``. Unlike the Go tracker's, they are not open
redirects: ``url`` must be a path on this host (``/…``) or an http(s) URL whose host is one of
``Domains`` or matches ``RedirectAllowHosts`` (exact names, ``*.example.com`` for subdomains, ``*``
for any host); anything else is a 400. Without ``url``,
``DefaultRedirect`` is used; when it is empty or points at ``/rdr/`` or ``/xrdr/`` itself the
answer is 404, never a redirect loop. ``url`` is resolved the way a browser resolves it before it
is checked (`AllowList.check`), and the Location sent is what was checked.

The admin API, authenticated as ``tracker.accounts`` describes:

* ``POST /tr/v{N}/rpi/redirect[/{uid}/{password}]`` creates or updates a short link;
* ``GET /tr/v{N}/rpi/redirects[/{uid}/{password}]/{host}`` lists that host's link history as
  ``{"results": [...]}`` (Go listed every host's).

With an ``Authorization: Basic`` header the ``{uid}/{password}`` segments may be left out (or be
placeholders such as ``-/-``), which keeps passwords out of URLs and access logs. Without either,
a dashboard login (its session cookie) is the account, for a request from a dashboard page of
this host (the same-origin check): that is how the short-link page works.
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import urlsplit

from ada_url import URL
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.accounts import Accounts, Credentials, credentials
from tracker.errors import BadRequest, MethodNotAllowed, NotFound, TooManyRequests, Unauthorized
from tracker.http import request as raw
from tracker.http.api import (
    ALL_METHODS,
    Endpoint,
    after,
    api_errors,
    cors,
    empty_response,
    json_response,
    preflight,
    query_rows,
    read_object,
    redirect_response,
    track,
    visitor_cookies,
)
from tracker.http.dashboard.auth import SESSION_COOKIE, same_origin
from tracker.http.dashboard.ui import DashboardUI
from tracker.http.shortlinks import ShortLinks
from tracker.http.site import Site
from tracker.http.throttle import FailureLimit
from tracker.normalise import client
from tracker.normalise.event import now_ms
from tracker.normalise.ids import Uuid
from tracker.normalise.request import RawRequest
from tracker.plan.redirect_rows import normal_host, parse_change, records_for
from tracker.runtime import Source

__all__ = ["AllowList", "fallback", "routes"]

SELF_ROUTE = re.compile(r"/tr/v[0-9]+/x?rdr(/|$)")
HISTORY_SQL = (
    "SELECT urlfrom, hostfrom, slugfrom, urlto, hostto, pathto, searchto, updater, oid, org, "
    "updated_at FROM redirect_history FINAL WHERE hostfrom = {host:String} "
    "ORDER BY urlfrom, updated_at"
)


SOURCES = {"rdr": Source("/rdr/", is_server=True), "xrdr": Source("/xrdr/", is_server=False)}
THIS_HOST = "tracker.invalid"  # stands for this host while a target is resolved
RESOLVE_BASES = (f"https://{THIS_HOST}/tr/", f"http://{THIS_HOST}/tr/")
WHATWG_STRIPPED = "".join(map(chr, range(0x21)))  # leading C0 controls and spaces


class AllowList:
    """Hosts a tracked redirect may lead to: ``Domains`` plus ``RedirectAllowHosts`` patterns."""

    def __init__(self, domains: tuple[str, ...], patterns: tuple[str, ...]) -> None:
        names = [normal_host(d) for d in (*domains, *patterns)]
        self.any = "*" in names
        self.exact = frozenset(n for n in names if n and not n.startswith("*"))
        self.suffixes = tuple(n[1:] for n in names if n.startswith("*.") and len(n) > 2)

    def allows(self, host: str) -> bool:
        host = normal_host(host).rstrip(".")
        return self.any or host in self.exact or host.endswith(self.suffixes)

    def check(self, target: str) -> str:
        """The Location for ``target`` when it is a safe redirect; BadRequest otherwise.

        The target is resolved as a browser resolves a Location (the WHATWG URL rules, by
        ada-url): tabs and newlines removed, backslashes taken as slashes, extra slashes,
        percent-encoding, schemes without slashes. It is resolved against an https and an http
        page, and both must land on this host (a path) or on the same allowed host; otherwise
        ``///evil.com``, ``/\\evil.com`` or ``http:evil.com`` would pass as paths and take the
        visitor elsewhere. The answer is the resolved URL, so the browser follows exactly what
        was checked.
        """
        resolved = []
        for base in RESOLVE_BASES:
            try:
                url = URL(target, base)
            except ValueError:
                raise BadRequest("Redirect target 'url' is not a URL.") from None
            if url.protocol not in ("http:", "https:"):
                raise BadRequest(
                    "Redirect target 'url' must be an http(s) URL or a path starting with '/'."
                )
            resolved.append(url)
        hosts = {url.hostname for url in resolved}
        if hosts == {THIS_HOST}:
            if target.strip(WHATWG_STRIPPED)[:1] not in ("/", "\\"):
                raise BadRequest(
                    "Redirect target 'url' must be an http(s) URL or a path starting with '/'."
                )
            url = resolved[0]
            path = url.pathname + url.search + url.hash
            return "/." + path if path.startswith("//") else path  # never a host of its own
        if len(hosts) != 1:
            raise BadRequest("Redirect target 'url' is ambiguous: give a full http(s) URL.")
        [host] = hosts
        if not self.allows(host):
            raise BadRequest(
                f"Redirect target host {host[:100]!r} is not allowed: "
                "add it to RedirectAllowHosts (or Domains) in config.json."
            )
        href: str = resolved[0].href
        return href


def fallback(default_redirect: str) -> str:
    """The target of a request without ``url``: ``DefaultRedirect``, unless that is empty or
    points at ``/rdr/`` or ``/xrdr/`` (which would redirect to itself): then a 404."""
    target = default_redirect.strip()
    if not target:
        raise NotFound("No redirect target: no 'url' parameter and no DefaultRedirect is set.")
    if SELF_ROUTE.search(urlsplit(target).path):
        raise NotFound("DefaultRedirect points at the redirect route itself; not looping.")
    return target


def routes(site: Site, links: ShortLinks, ui: DashboardUI | None = None) -> list[Route]:
    base = site.prefix
    settings = site.settings
    allow = AllowList(settings.domains, settings.redirect_allow_hosts)
    accounts = Accounts(site.rt.sink.query)
    default = settings.default_redirect
    per_ip = FailureLimit(settings.auth_failures_per_ip)
    per_account = FailureLimit(settings.auth_failures_per_account)

    async def authenticate(req: RawRequest, pair: list[str]) -> Credentials:
        """The request's credentials, checked; 429 once its IP or account failed too often."""
        ip = client.client_ip(req.peer, req.headers, site.ingest.trusted_proxies)
        wait = per_ip.retry_after(ip)
        if wait is not None:
            raise TooManyRequests("Too many failed logins from this IP; retry later.", wait)
        try:
            creds = credentials(req.headers, *(pair if pair else (None, None)))
        except (Unauthorized, BadRequest):
            per_ip.failed(ip)
            raise
        wait = per_account.retry_after(creds.uid)
        if wait is not None:
            raise TooManyRequests("Too many failed logins to this account; retry later.", wait)
        try:
            await asyncio.to_thread(accounts.authenticate, creds)
        except Unauthorized:
            per_ip.failed(ip)
            per_account.failed(creds.uid)
            raise
        per_ip.succeeded(ip)
        return creds

    def redirect_route(source: Source) -> Endpoint:
        async def handle(request: Request) -> Response:
            req = raw.from_scope(request.scope)
            given = next((v for k, v in req.query_pairs() if k == "url" and v), None)
            target = allow.check(given) if given is not None else fallback(default)
            event = await track(site, req, {}, source)
            headers = cors(site, request) + visitor_cookies(site, req, event)
            return redirect_response(target, req.method, headers)

        return handle

    async def account(req: RawRequest, pair: list[str]) -> Uuid:
        """The account of the request: its credentials, else its dashboard login."""
        if ui is not None and not pair and not req.headers.get("authorization"):
            uid = ui.sessions.verify(req.cookies.get(SESSION_COOKIE))
            if uid is not None:
                same_origin(req.headers, site.ingest.host(req))
                return uid
        return (await authenticate(req, pair)).uid

    async def create(request: Request, segments: list[str]) -> Response:
        if request.method != "POST":
            raise MethodNotAllowed("Method not allowed: create or update a short link with POST.")
        req = raw.from_scope(request.scope)
        uid = await account(req, segments[1:3] if len(segments) == 3 else [])
        body = await read_object(site, request)
        if body is None:
            raise BadRequest("Bad request (body): expected a JSON object with urlfrom and urlto.")
        change = parse_change(body, settings.domains)
        ingest = site.ingest
        await ingest.store(records_for(change, uid, ingest.host(req), now_ms()))
        links.remember(change.key, change.urlto)
        return empty_response(cors(site, request))

    async def listing(request: Request, segments: list[str]) -> Response:
        if request.method not in ("GET", "HEAD"):
            raise MethodNotAllowed("Method not allowed: list short links with GET.")
        req = raw.from_scope(request.scope)
        await account(req, segments[1:3] if len(segments) == 4 else [])
        rows = await query_rows(site, HISTORY_SQL, {"host": normal_host(segments[-1])})
        return json_response({"results": rows}, cors(site, request))

    @api_errors(site)
    async def rpi(request: Request) -> Response:
        if request.method == "OPTIONS":
            return preflight(site, request)
        segments = [s for s in after(request, f"{base}/rpi").split("/") if s]
        if segments and segments[0] == "redirect" and len(segments) in (1, 3):
            return await create(request, segments)
        if segments and segments[0] == "redirects" and len(segments) in (2, 4):
            return await listing(request, segments)
        raise NotFound(
            f"No such redirect API route: expected {base}/rpi/redirect[/uid/password] "
            f"or {base}/rpi/redirects[/uid/password]/host."
        )

    out: list[Route] = []
    for name, source in SOURCES.items():
        handler = api_errors(site)(redirect_route(source))
        out.append(Route(f"{base}/{name}", handler, methods=ALL_METHODS))
        out.append(Route(f"{base}/{name}/{{rest:path}}", handler, methods=ALL_METHODS))
    for path in (
        "redirect",
        "redirect/{uid}/{password}",
        "redirects/{host}",
        "redirects/{uid}/{password}/{host}",
        "",
        "{rest:path}",  # anything else: 404
    ):
        out.append(Route(f"{base}/rpi/{path}".rstrip("/"), rpi, methods=ALL_METHODS))
    return out
