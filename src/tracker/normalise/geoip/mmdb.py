"""MaxMind-format `.mmdb` databases (GeoLite2/GeoIP2 City or Country, DB-IP, IPinfo, …).

Read with `maxminddb` (Apache-2.0, C extension) in MODE_MEMORY: the file is read once and
lookups never touch the disk. Records in the GeoIP2 shape (`country.iso_code`, `city.names.en`,
`location.latitude`, …) are understood, and so are flat ones (`country_code`, `city`,
`latitude`, …) as IPinfo and others write them. `tz` is the database's own value: an IANA zone
for GeoIP2-shaped files, where IP2Location gives a UTC offset.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import maxminddb

from tracker.normalise.geoip import GeoRecord, parse_ip, to_float


def _get(record: Any, *path: str | int) -> Any:
    for step in path:
        if isinstance(step, int):
            if not isinstance(record, list) or len(record) <= step:
                return None
        elif not isinstance(record, dict):
            return None
        try:
            record = record[step]
        except (KeyError, IndexError):
            return None
    return record


def _first_text(record: dict[str, Any], *paths: tuple[str | int, ...]) -> str:
    for path in paths:
        value = _get(record, *path)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    return ""


def _first_number(record: dict[str, Any], *paths: tuple[str, ...]) -> float:
    for path in paths:
        value = _get(record, *path)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return to_float(str(value))
        if isinstance(value, str) and value:
            return to_float(value)
    return 0.0


def record_from(data: dict[str, Any], first: int, last: int) -> GeoRecord | None:
    """A GeoRecord from one mmdb data record; None when it names no country."""
    iso2 = _first_text(
        data,
        ("country", "iso_code"),
        ("registered_country", "iso_code"),
        ("country_code",),
        ("country_short",),
    ).upper()
    if not iso2 or iso2 == "-":
        return None
    return GeoRecord(
        ip_from=first,
        ip_to=last,
        iso2=iso2,
        country=_first_text(
            data,
            ("country", "names", "en"),
            ("registered_country", "names", "en"),
            ("country_name",),
            ("country_long",),
            ("country",),
        ),
        region=_first_text(
            data, ("subdivisions", 0, "names", "en"), ("region",), ("region_name",), ("state",)
        ),
        city=_first_text(data, ("city", "names", "en"), ("city",), ("city_name",)),
        lat=_first_number(data, ("location", "latitude"), ("latitude",), ("lat",)),
        lon=_first_number(data, ("location", "longitude"), ("longitude",), ("lon",), ("lng",)),
        zip=_first_text(data, ("postal", "code"), ("zip_code",), ("zip",), ("postal_code",)),
        tz=_first_text(data, ("location", "time_zone"), ("time_zone",), ("timezone",)),
    )


class MmdbDatabase:
    """One `.mmdb` file held in memory."""

    def __init__(self, path: Path) -> None:
        try:
            self._reader = maxminddb.open_database(str(path), maxminddb.MODE_MEMORY)
        except maxminddb.InvalidDatabaseError as exc:
            raise ValueError(f"'{path}' is not a MaxMind DB file: {exc}") from exc
        metadata = self._reader.metadata()
        self.database_type: str = metadata.database_type
        self.build_epoch: int = metadata.build_epoch

    def lookup(self, ip: str) -> GeoRecord | None:
        address = parse_ip(ip)
        if address is None:
            return None
        version, number = address
        bits = 32 if version == 4 else 128
        text = socket.inet_ntop(
            socket.AF_INET if version == 4 else socket.AF_INET6, number.to_bytes(bits // 8, "big")
        )
        try:
            data, prefix = self._reader.get_with_prefix_len(text)
        except (ValueError, maxminddb.InvalidDatabaseError):
            return None  # an IPv6 address in an IPv4-only database, or a corrupt record
        if not isinstance(data, dict):
            return None
        host_bits = bits - prefix
        first = number >> host_bits << host_bits
        return record_from(data, first, first | ((1 << host_bits) - 1))

    def close(self) -> None:
        self._reader.close()


def is_mmdb(path: Path) -> bool:
    return path.suffix.lower() == ".mmdb"


__all__ = ["MmdbDatabase", "is_mmdb", "record_from"]
