"""``/tr/v{N}/ppi/{action}``: the privacy API (docs/privacy.md).

* ``POST agree`` records consent in ``agreements`` and ``agreed`` (200, empty body);
* ``agree`` with any other method returns the visitor's agreements as a JSON array (``?vid=``,
  else the ``vid`` cookie); the Go tracker always answered ``null``;
* ``jds`` returns every ``jurisdictions`` row as a JSON array;
* ``geoip[?ip=]`` returns the GeoIP record of ``ip`` (default: the client's IP): 400 when the
  address does not parse, 503 when GeoIP is off, 404 when no range holds it.

OPTIONS on any ``/ppi/`` path gets the preflight; an unknown action is a 400, an empty action or
extra segments a 404; every answer carries CORS headers and errors are the JSON error shape.
The listed agreements leave out the raw ``ip`` column: the route is unauthenticated and a vid is
not a secret worth a visitor's address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.errors import BadRequest, NotFound, TrackerError
from tracker.http import request as raw
from tracker.http.api import (
    ALL_METHODS,
    after,
    api_errors,
    cors,
    empty_response,
    json_response,
    preflight,
    query_rows,
    read_object,
)
from tracker.http.site import Site
from tracker.normalise import client, hashing, values
from tracker.normalise.ids import parse_uuid
from tracker.plan.privacy_rows import Requester, agreement_records
from tracker.runtime import Source
from tracker.schema.tables import TABLES

__all__ = ["routes"]

JSON_NUMBERS = "SETTINGS output_format_json_quote_64bit_integers = 0"
AGREEMENT_COLUMNS = ", ".join(c for c in TABLES["agreements"].column_names() if c != "ip")
AGREEMENTS_SQL = (
    f"SELECT {AGREEMENT_COLUMNS} FROM agreements FINAL WHERE vid = {{vid:UUID}} "
    f"ORDER BY created_at, updated_at {JSON_NUMBERS}"
)
JURISDICTIONS_SQL = (
    "SELECT regulation, compliance, seq, rules, locs, updated_at FROM jurisdictions FINAL "
    f"ORDER BY regulation, compliance, seq {JSON_NUMBERS}"
)
ACTIONS = ("agree", "jds", "geoip")


class GeoIPOff(TrackerError):
    status = 503


AGREE_SOURCE = Source("/ppi/agree", is_server=False)


def geo_of(site: Site, ip: str) -> Mapping[str, Any]:
    """The GeoIP record of ``ip`` as a dict, or {} when there is none (or GeoIP is off)."""
    geoip = site.rt.geoip
    if geoip is None or not ip:
        return {}
    found = geoip.lookup(ip)
    return found.as_json() if found is not None else {}


def routes(site: Site) -> list[Route]:
    prefix = f"{site.prefix}/ppi"
    ingest = site.ingest

    async def agree(request: Request) -> Response:
        req = raw.from_scope(request.scope)
        body = await read_object(site, request)
        if body is None:
            raise BadRequest("The body is empty: expected a JSON object with the visitor's 'vid'.")
        v: dict[str, Any] = {}
        values.merge(v, body)
        vid = parse_uuid(v.get("vid")) or parse_uuid(req.cookies.get("vid"))
        if vid is None:
            raise BadRequest("Field 'vid' must be the visitor's UUID (or send the vid cookie).")
        origin = ingest.origin(req, AGREE_SOURCE)
        ctx = ingest.ctx
        who = Requester(
            ip="" if ctx.remove_ip else origin.ip,
            iphash=hashing.iphash(origin.ip, ctx.ip_secret),
            hhash=hashing.hhash(origin.host),
            browser=origin.user_agent.strip().lower(),
            bhash=hashing.bhash(origin.user_agent),
            culture=origin.culture,
        )
        records = agreement_records(v, vid, who, geo_of(site, origin.ip), origin.now)
        await ingest.store(records)
        return empty_response(cors(site, request))

    async def agreements(request: Request) -> Response:
        given = request.query_params.get("vid") or request.cookies.get("vid")
        if not given:
            raise BadRequest("Query parameter 'vid' is required (or send the vid cookie).")
        vid = parse_uuid(given)
        if vid is None:
            raise BadRequest(f"Query parameter 'vid' has value {given[:40]!r}: expected a UUID.")
        rows = await query_rows(site, AGREEMENTS_SQL, {"vid": str(vid)})
        return json_response(rows, cors(site, request))

    async def jurisdictions(request: Request) -> Response:
        return json_response(await query_rows(site, JURISDICTIONS_SQL, {}), cors(site, request))

    async def geoip(request: Request) -> Response:
        given = request.query_params.get("ip")
        if given is None:
            req = raw.from_scope(request.scope)
            given = client.client_ip(req.peer, req.headers, ingest.trusted_proxies)
        try:
            ip = str(ipaddress.ip_address(given.strip()))
        except ValueError:
            raise BadRequest(
                f"Query parameter 'ip' has value {given[:60]!r}: expected an IPv4 or IPv6 address."
            ) from None
        geoip = site.rt.geoip
        if geoip is None or not geoip.available:
            raise GeoIPOff("GeoIP is off: set UseGeoIP (or GeoIPDatabase) in config.json.")
        found = geoip.lookup(ip)
        if found is None:
            raise NotFound(f"No GeoIP record covers {ip}.")
        return json_response(found.as_json(), cors(site, request))

    @api_errors(site)
    async def ppi(request: Request) -> Response:
        if request.method == "OPTIONS":
            return preflight(site, request)
        action = after(request, prefix)
        if not action or "/" in action:
            raise NotFound(
                f"Nothing at {request.url.path}: expected {prefix}/agree, {prefix}/jds or "
                f"{prefix}/geoip."
            )
        if action == "agree":
            return await (agree(request) if request.method == "POST" else agreements(request))
        if action == "jds":
            return await jurisdictions(request)
        if action == "geoip":
            return await geoip(request)
        raise BadRequest(f"Unknown action {action[:40]!r}: expected one of {', '.join(ACTIONS)}.")

    return [
        *(Route(f"{prefix}/{action}", ppi, methods=ALL_METHODS) for action in ACTIONS),
        Route(prefix, ppi, methods=ALL_METHODS),
        Route(prefix + "/{rest:path}", ppi, methods=ALL_METHODS),  # unknown actions: 400, 404
    ]
