"""The built-in database: country codes from the `iptocc` package, so a fresh install answers.

Chosen over `geoip2fast` after looking inside both (see the README's dependency list):

* `iptocc` (MIT OR Apache-2.0) embeds the five Regional Internet Registries' delegation files,
  which are public and free to redistribute, in its compiled module: IPv4 and IPv6, country only,
  about 0.3 µs a lookup, no file I/O. It names the country a block is *allocated* to, which agrees
  with geolocation databases for about 95 % of IPv4 addresses. Version 3.3.170 (2026-10).
* `geoip2fast` is MIT code around MaxMind GeoLite2 data (2024-06); GeoLite2 comes under MaxMind's
  own licence terms, which restrict redistribution, and the data is two years old.

Registry data has no ranges per lookup, no region, city or position, so a record from here has
`ips` = `ipe` = the address, and only `iso2` and `country` set. Country names come from the tz
database's `iso3166.tab` (public domain), generated into `countries.py` with a few names made
plainer; regenerate after a tzdata update with

    python -m tracker.normalise.geoip.default /usr/share/zoneinfo/iso3166.tab \
        > src/tracker/normalise/geoip/countries.py
"""

from __future__ import annotations

import socket
import sys
from importlib.metadata import version
from pathlib import Path

from iptocc import country_code

from tracker.normalise.geoip import GeoRecord, parse_ip
from tracker.normalise.geoip.countries import COUNTRY_NAMES

# iso3166.tab sorts related names together ("Samoa (American)"); these read better in an API.
_PLAINER = {
    "AS": "American Samoa",
    "GB": "United Kingdom",
    "KP": "North Korea",
    "KR": "South Korea",
    "MF": "Saint Martin",
    "SX": "Sint Maarten",
    "VG": "British Virgin Islands",
    "VI": "U.S. Virgin Islands",
    "WS": "Samoa",
}


class DefaultCountries:
    """Country-only lookups from the registry data inside `iptocc`."""

    def __init__(self) -> None:
        self.source = f"iptocc {version('iptocc')} (RIR allocations, country only)"

    def lookup(self, ip: str) -> GeoRecord | None:
        address = parse_ip(ip)
        if address is None:
            return None
        family, number = address
        if family == 4:
            text = socket.inet_ntop(socket.AF_INET, number.to_bytes(4, "big"))
        else:
            text = socket.inet_ntop(socket.AF_INET6, number.to_bytes(16, "big"))
        code = country_code(text)
        if not code:
            return None
        code = code.upper()
        return GeoRecord(number, number, code, COUNTRY_NAMES.get(code, ""))


def render_countries(iso3166_tab: str) -> str:
    """The source text of `countries.py` from tzdata's `iso3166.tab`."""
    names: dict[str, str] = {}
    for line in iso3166_tab.splitlines():
        if line.strip() and not line.startswith("#"):
            code, name = line.split("\t", 1)
            names[code] = _PLAINER.get(code, name.strip().replace(" & ", " and "))
    lines = [
        '"""ISO 3166 alpha-2 code → English country name. GENERATED: do not edit.',
        "",
        "Generated from tzdata's iso3166.tab (public domain) by `python -m",
        "tracker.normalise.geoip.default /usr/share/zoneinfo/iso3166.tab`.",
        '"""',
        "",
        "COUNTRY_NAMES: dict[str, str] = {",
        *(f'    "{code}": "{names[code]}",' for code in sorted(names)),
        "}",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/zoneinfo/iso3166.tab")
    sys.stdout.write(render_countries(source.read_text(encoding="utf-8")))
