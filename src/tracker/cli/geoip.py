"""`tracker geoip lookup IP` and `tracker geoip import FILE…`.

    tracker geoip lookup IP [config.json] [--data-dir D]
    tracker geoip import FILE [FILE …] [--config config.json] [--data-dir D]

`lookup` prints the `/ppi/geoip` JSON object of the database the server would use (the configured
file, else the imported one, else the built-in countries), exit 1 when no range holds the
address. `import` converts IP2Location CSV/zip/BIN files (or copies a `.mmdb`) into
`<DataDir>/geoip` with a progress bar on stderr; start-up then maps the result instead of
reading the big file.

Progress bars come from `tqdm`: one small package without dependencies that falls back to plain
lines off a terminal (`rich` would bring pygments and markdown-it for one bar).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson
from tqdm import tqdm

from tracker.cli.common import Commands, UsageError, settings_from
from tracker.config import Settings
from tracker.normalise.geoip import GeoIP, parse_ip
from tracker.normalise.geoip.csv_zip import Progress
from tracker.normalise.geoip.importer import import_files
from tracker.normalise.geoip.service import fallback, not_loaded, open_configured

NAMES = ("geoip",)


def add_parsers(commands: Commands) -> None:
    geoip = commands.add_parser("geoip", help="look up an IP, or import a GeoIP database")
    actions = geoip.add_subparsers(dest="geoip_action", required=True)
    lookup = actions.add_parser("lookup", help="print the GeoIP record of an address as JSON")
    lookup.add_argument("ip", help="an IPv4 or IPv6 address")
    lookup.add_argument("config", nargs="?", type=Path, help="config.json (optional)")
    lookup.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    imports = actions.add_parser(
        "import", help="convert IP2Location CSV/zip/BIN (or copy .mmdb) into the data directory"
    )
    imports.add_argument("files", nargs="+", type=Path, help="the database files")
    imports.add_argument("--config", type=Path, help="config.json (optional)")
    imports.add_argument("--data-dir", type=Path, help="data directory (default ./data)")


def _bar(name: str, total: int, unit: str) -> Progress:
    bar = tqdm(
        total=total,
        desc=name,
        unit=unit,
        unit_scale=unit == "B",
        file=sys.stderr,
        mininterval=0.5,
        leave=True,
    )

    def advance(done: int) -> None:
        bar.update(done)
        if bar.n >= total:
            bar.close()

    return advance


def open_for_lookup(settings: Settings) -> tuple[GeoIP, str]:
    """What the server would answer from (GeoIP on or off), read now, by the server's rule: the
    configured or imported database, else (also when it cannot be read) the fallback."""
    try:
        opened = open_configured(settings, persist=False)
    except (OSError, ValueError) as exc:
        opened = None
        print(f"tracker: warning: {not_loaded(exc, fallback(settings)[1])}", file=sys.stderr)
    if opened is not None:
        return opened
    database, source = fallback(settings)
    if database is None:
        raise UsageError(
            "No GeoIP database answers: none is configured or imported (`tracker geoip "
            "import FILE`), and GeoIPDefault is false."
        )
    return database, source


def cmd_lookup(settings: Settings, ip: str) -> int:
    if parse_ip(ip) is None:
        raise UsageError(f"'{ip}' is not an IPv4 or IPv6 address.")
    database, source = open_for_lookup(settings)
    record = database.lookup(ip)
    if record is None:
        print(f"tracker: no GeoIP range holds {ip.strip()} ({source})", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(orjson.dumps(record.as_json()) + b"\n")
    sys.stdout.flush()
    return 0


def cmd_import(settings: Settings, files: list[Path]) -> int:
    try:
        written = import_files(
            files, settings.data_dir, geoip_version=settings.geoip_version, progress=_bar
        )
    except (OSError, ValueError) as exc:
        raise UsageError(f"GeoIP import failed: {exc}") from exc
    print(f"tracker: GeoIP data written to {written}; a running tracker uses it after a restart")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.geoip_action == "lookup":
        return cmd_lookup(settings_from(args), args.ip)
    return cmd_import(settings_from(args), args.files)


__all__ = ["NAMES", "add_parsers", "run"]
