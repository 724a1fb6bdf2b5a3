"""Time zone → country, and the generator of its data module.

`country_for_tz` looks the zone up in `tz_countries.TZ_COUNTRIES`, a literal dict generated from
the tz database; nothing is read from the system at run time. Differences from the Go map, all
deliberate: the lookup trims and lowercases its input (Go matched only already-lowercase zones,
so WebSocket `America/Los_Angeles` missed), every key is lowercase (Go had three mixed-case keys
that never matched), and zones Go did not know (zone.tab-only zones such as
`Europe/Oslo`, and old link names that browsers' `Intl` still reports such as `Asia/Calcutta`)
are mapped too.

Regenerate the data module after a tzdata update with:

    python -m tracker.normalise.geo > src/tracker/normalise/tz_countries.py

How the map is built (`render_tz_countries`):

1. `zone1970.tab`: zone (column 3) → the FIRST country code of column 1, as the Go map did.
2. `zone.tab`: zones missing from step 1 → their own country code (zone.tab has one per line).
3. `tzdata.zi` link lines (`L target alias`): aliases still missing → the country of the target
   they resolve to, except the few links that cross a border (e.g. `Pacific/Truk` is a link to
   `Pacific/Port_Moresby` but is in Micronesia), which take the country from `_LINK_COUNTRY`.
   Links to zones without a country (`Etc/*`, `UTC`) are left out.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from tracker.normalise.tz_countries import TZ_COUNTRIES

__all__ = ["country_for_tz", "render_tz_countries"]

# Link names whose target zone lies in another country than the name itself.
_LINK_COUNTRY: Mapping[str, str] = {
    "Africa/Asmera": "ER",
    "Africa/Timbuktu": "ML",
    "America/Coral_Harbour": "CA",
    "America/Virgin": "VI",
    "Antarctica/South_Pole": "AQ",
    "Atlantic/Jan_Mayen": "SJ",
    "Iceland": "IS",
    "Pacific/Johnston": "UM",
    "Pacific/Ponape": "FM",
    "Pacific/Truk": "FM",
    "Pacific/Yap": "FM",
}


def country_for_tz(tz: object) -> str | None:
    """ISO 3166 alpha-2 country for an IANA zone name (any case, trimmed); None if unknown."""
    if not isinstance(tz, str):
        return None
    return TZ_COUNTRIES.get(tz.strip().lower())


def _tab_rows(text: str) -> list[list[str]]:
    return [
        line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]


def render_tz_countries(zone1970_tab: str, zone_tab: str, tzdata_zi: str, version: str) -> str:
    """The source text of `tz_countries.py` for the given tzdata files (see the module docstring)."""
    countries: dict[str, str] = {}
    for row in _tab_rows(zone1970_tab):
        countries.setdefault(row[2], row[0].split(",")[0])
    for row in _tab_rows(zone_tab):
        countries.setdefault(row[2], row[0])
    links: dict[str, str] = {}
    for line in tzdata_zi.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0] == "L":
            links[fields[2]] = fields[1]
    for alias in sorted(links):
        if alias in countries:
            continue
        target, hops = links[alias], 0
        while target in links and hops < 16:
            target, hops = links[target], hops + 1
        code = _LINK_COUNTRY.get(alias) or countries.get(target)
        if code:
            countries[alias] = code
    lines = [
        '"""IANA time zone (lowercase) → ISO 3166 alpha-2 country. GENERATED: do not edit.',
        "",
        f"Generated from tzdata {version} (zone1970.tab, zone.tab and the links in tzdata.zi) by",
        "",
        "    python -m tracker.normalise.geo > src/tracker/normalise/tz_countries.py",
        "",
        "The rules are in the docstring of tracker/normalise/geo.py.",
        '"""',
        "",
        f'TZDATA_VERSION = "{version}"',
        "",
        "TZ_COUNTRIES: dict[str, str] = {",
    ]
    lowered = {zone.lower(): code for zone, code in countries.items()}
    lines.extend(f'    "{zone}": "{lowered[zone]}",' for zone in sorted(lowered))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _tzdata_version(tzdata_zi: str) -> str:
    for line in tzdata_zi.splitlines()[:5]:
        if line.startswith("# version "):
            return line.removeprefix("# version ").strip()
    return "unknown"


def zoneinfo_dir() -> Path:
    """The zoneinfo directory of the `tzdata` package (dev extra), pinned so the data is fixed."""
    import tzdata  # type: ignore[import-untyped,unused-ignore]

    return Path(tzdata.__file__).parent / "zoneinfo"


def main(argv: list[str]) -> int:
    """CLI: `python -m tracker.normalise.geo [ZONEINFO_DIR]` prints the data module; the
    directory defaults to the pinned `tzdata` package of the dev extra."""
    root = Path(argv[1]) if len(argv) > 1 else zoneinfo_dir()
    zi = (root / "tzdata.zi").read_text(encoding="utf-8")
    sys.stdout.write(
        render_tz_countries(
            (root / "zone1970.tab").read_text(encoding="utf-8"),
            (root / "zone.tab").read_text(encoding="utf-8"),
            zi,
            _tzdata_version(zi),
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
