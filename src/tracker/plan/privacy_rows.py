"""Consent: the row ``POST /ppi/agree`` writes to ``agreements`` and ``agreed``.

The body's keys are read lowercased (the Go tracker read them as given, so ``VID`` was lost);
values keep their case. Every value is coerced to its column's type, so a number in a String
column or a bad ``ref`` no longer drops the whole batch (as it did in Go).

Differences from the Go tracker, all deliberate:

* ``vid`` must be a UUID, from the body or else the ``vid`` cookie (Go wrote the zero UUID);
* ``UseRemoveIP`` is honoured here too (Go stored the raw IP in agreements whatever it said),
  and ``iphash`` is the same keyed hash as in ``events`` (empty for an empty IP);
* ``hhash``, ``browser`` and ``bhash`` are computed as for events (normalised host, trimmed and
  lowercased user agent), so agreements join events;
* ``culture`` falls back to the request's ``Accept-Language``; ``compliances`` and ``loc`` are
  stored when the body holds objects there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tracker.normalise import geo
from tracker.normalise.consent import parse_cflags
from tracker.normalise.ids import Uuid
from tracker.plan.coerce import to_float
from tracker.plan.rows import record
from tracker.spool.records import Record

__all__ = ["Requester", "agreement_records"]

PASSED = (
    "sid", "uid", "avid", "owner", "oid", "org", "app", "rel", "url", "gaid", "idfa", "msid",
    "fbid", "source", "medium", "campaign", "term", "ref", "rcode", "aff", "device", "os", "tz",
    "zip", "compliances", "loc",
)  # fmt: skip


@dataclass(frozen=True)
class Requester:
    """What the request itself says about the visitor (already normalised like events)."""

    ip: str  # '' under UseRemoveIP
    iphash: str
    hhash: str
    browser: str
    bhash: str
    culture: str


def _position(body: Mapping[str, Any], geo_record: Mapping[str, Any]) -> tuple[float, float]:
    lat, lon = to_float(body.get("lat")), to_float(body.get("lon"))
    if isinstance(lat, float) and isinstance(lon, float):
        return lat, lon
    lat, lon = to_float(geo_record.get("lat")), to_float(geo_record.get("lon"))
    if isinstance(lat, float) and isinstance(lon, float) and lat and lon:
        return lat, lon
    return 0.0, 0.0


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def agreement_records(
    body: Mapping[str, Any],
    vid: Uuid,
    who: Requester,
    geo_record: Mapping[str, Any],
    now: datetime,
) -> list[Record]:
    """One identical row for ``agreements`` (current consent) and ``agreed`` (the history).

    ``geo_record`` is the GeoIP answer for the client IP (``{}`` when there is none): its
    ``iso2``, ``region``, ``lat`` and ``lon`` fill what the body does not say.
    """
    row: dict[str, Any] = {key: body[key] for key in PASSED if key in body}
    country = geo.country_for_tz(body.get("tz")) or _text(geo_record.get("iso2"))
    if body.get("country") is not None:
        country = _text(body["country"]) or str(body["country"])
    region = _text(geo_record.get("region"))
    if body.get("region") is not None:
        region = _text(body["region"]) or str(body["region"])
    lat, lon = _position(body, geo_record)
    row.update(
        vid=vid,
        created_at=now,
        updated_at=now,
        cflags=parse_cflags(body.get("cflags")) or 0,
        hhash=who.hhash,
        ip=who.ip,
        iphash=who.iphash,
        browser=who.browser,
        bhash=who.bhash,
        culture=body.get("culture", who.culture),
        country=country.upper(),
        region=region.lower(),
        lat=lat,
        lon=lon,
        vp_w=body.get("w"),
        vp_h=body.get("h"),
    )
    return [record("agreements", row), record("agreed", row)]
