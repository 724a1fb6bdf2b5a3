"""GeoIP: an IP address → a location record, from whichever database the config names.

Readers, one module each, all answering `GeoIP.lookup(ip) -> GeoRecord | None`:

* `csv_zip` — IP2Location LITE DB11 CSV files, plain or zipped (the Go tracker's `IPv4GeoIPZip` /
  `IPv6GeoIPZip`), parsed into a `store.RangeStore` in memory;
* `store` — the compact sorted-range file `tracker geoip import` writes into `<DataDir>/geoip`, so a
  big CSV or BIN is converted once and only memory-mapped at start-up (Go re-imported the CSV on
  start-up, blocking the listener);
* `bin` — IP2Location BIN files, read from a memory map;
* `mmdb` — MaxMind-format `.mmdb` files (GeoLite2, DB-IP, IPinfo, …) through `maxminddb`;
* `default` — the country-only database that ships inside the `iptocc` package (RIR allocations);
* `service` — picks one by config and loads it off the request path.

Addresses are parsed once (`parse_ip`): an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is looked
up as the IPv4 address it carries, as the Go tracker did.
"""

from __future__ import annotations

import socket
from typing import NamedTuple, Protocol

MAX_IPV4 = 0xFFFFFFFF
MAX_IPV6 = (1 << 128) - 1
IPV4_MAPPED_BASE = 0xFFFF << 32  # ::ffff:0.0.0.0


class GeoRecord(NamedTuple):
    """One range of addresses and where it is (what `/ppi/geoip` answers); empty fields are "".

    A NamedTuple rather than a frozen dataclass: one is built per lookup, and a frozen
    dataclass's `__init__` costs ten times as much.
    """

    ip_from: int
    ip_to: int
    iso2: str
    country: str = ""
    region: str = ""
    city: str = ""
    lat: float = 0.0
    lon: float = 0.0
    zip: str = ""
    tz: str = ""

    def as_json(self) -> dict[str, str | float]:
        """The `/ppi/geoip` answer, keys in Go's order; `ips`/`ipe` are decimal strings."""
        return {
            "ips": str(self.ip_from),
            "ipe": str(self.ip_to),
            "iso2": self.iso2,
            "country": self.country,
            "region": self.region,
            "city": self.city,
            "lat": self.lat,
            "lon": self.lon,
            "zip": self.zip,
            "tz": self.tz,
        }


class GeoIP(Protocol):
    """A loaded GeoIP database. `lookup` is thread-safe, does no I/O and never raises."""

    def lookup(self, ip: str) -> GeoRecord | None: ...


def parse_ip(text: str) -> tuple[int, int] | None:
    """`(4, n)` or `(6, n)` for an address (IPv4-mapped IPv6 gives 4); None when it does not parse."""
    text = text.strip()
    try:
        if ":" in text:
            if text.startswith("[") and text.endswith("]"):
                text = text[1:-1]
            number = int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
            if number >> 32 == 0xFFFF:
                return 4, number & MAX_IPV4
            return 6, number
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except (OSError, ValueError):
        return None


def to_float(text: str) -> float:
    """A latitude or longitude from text; anything unparsable or not finite is 0, as in Go."""
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return value if value == value and abs(value) != float("inf") else 0.0


__all__ = ["IPV4_MAPPED_BASE", "MAX_IPV4", "MAX_IPV6", "GeoIP", "GeoRecord", "parse_ip", "to_float"]
