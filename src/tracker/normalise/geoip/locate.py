"""Where an event happened: the client's own values, then its time zone, then GeoIP.

Precedence, field by field: a value the client sent wins; the country of the client's time zone
comes next; GeoIP fills what is still missing. Differences from the Go tracker, all deliberate:

* a GeoIP latitude or longitude of exactly 0 is a position like any other (Go took them only when
  both were non-zero); they are taken as a pair, when the client sent neither;
* GeoIP's region, city, zip and position are taken only when GeoIP agrees with the country
  already known (the client's or its time zone's), so an event never says FR and New York;
* GeoIP's region and city are lowercased like the client's, so one column holds one spelling;
* with `UseRegionDescriptions` false GeoIP's region and city are not used (Go cleared them after
  the lookup and then let the client's override, which comes to the same).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from tracker.normalise.geoip import GeoIP


class Location(NamedTuple):
    """Where an event happened. A named tuple, not a frozen dataclass: one is built per event,
    and a frozen dataclass sets each of its fields through `object.__setattr__` (~3x slower)."""

    country: str = ""
    region: str = ""
    city: str = ""
    zip: str = ""
    lat: float = 0.0
    lon: float = 0.0


# The value-map keys `locate` reads.
_CLIENT_KEYS = frozenset(("country", "region", "city", "zip", "lat", "lon"))


def _given(values: Mapping[str, Any], key: str) -> str | None:
    """The client's text for `key`, trimmed; None when absent or empty."""
    value = values.get(key)
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value).strip()
    return text or None


def _coordinate(values: Mapping[str, Any], key: str) -> float | None:
    value = values.get(key)
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def locate(
    values: Mapping[str, Any],
    ip: str,
    tz_country: str | None,
    geoip: GeoIP | None,
    region_descriptions: bool,
) -> Location:
    region: str | None
    city: str | None
    zip_code: str | None
    lat: float | None
    lon: float | None
    if _CLIENT_KEYS.isdisjoint(values):  # most events: the client sent no place at all
        country = (tz_country or "").upper()
        region = city = zip_code = lat = lon = None
    else:
        country = (_given(values, "country") or tz_country or "").upper()
        region = _given(values, "region")
        city = _given(values, "city")
        zip_code = _given(values, "zip")
        lat, lon = _coordinate(values, "lat"), _coordinate(values, "lon")
        if region is not None:
            region = region.lower()
        if city is not None:
            city = city.lower()
    complete = None not in (region, city, zip_code, lat, lon) and country
    if geoip is not None and ip and not complete:
        record = geoip.lookup(ip)
        if record is not None and (not country or country == record.iso2):
            country = record.iso2
            if region_descriptions:
                region = region if region is not None else record.region.lower()
                city = city if city is not None else record.city.lower()
            zip_code = zip_code if zip_code is not None else record.zip
            if lat is None and lon is None:
                lat, lon = record.lat, record.lon
    return Location(
        country=country,
        region=region or "",
        city=city or "",
        zip=zip_code or "",
        lat=lat or 0.0,
        lon=lon or 0.0,
    )


__all__ = ["Location", "locate"]
