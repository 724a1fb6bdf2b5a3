"""Which GeoIP database to use, and loading it without holding up the listener.

The choice, first match wins:

1. `GeoIPDatabase`: an IP2Location `.BIN`, a MaxMind `.mmdb`, or an IP2Location CSV (or zip);
2. with `UseGeoIP`, the Go tracker's `IPv4GeoIPZip` / `IPv6GeoIPZip` (CSV member names from
   `IPv4GeoIPCSVDest` / `IPv6GeoIPCSVDest`; the archives are read in place, `TempDirectory` is
   not needed);
3. what `tracker geoip import` left in `<DataDir>/geoip`;
4. with `GeoIPDefault`, the built-in country database (`default.py`).

GeoIP is on when `UseGeoIP` is true or `GeoIPDatabase` is set (with no config file at all,
`UseGeoIP` defaults to true). CSV sources are converted into `<DataDir>/geoip/geoip.store`
once; later start-ups reuse it while the files' size and mtime and `GeoIPVersion` match. The
conversion runs on a background thread; until it is done the built-in database answers.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from tracker.config import Settings
from tracker.normalise.geoip import GeoIP, GeoRecord
from tracker.normalise.geoip.bin import BinDatabase, is_bin
from tracker.normalise.geoip.csv_zip import Progress, fingerprint, load_csv
from tracker.normalise.geoip.default import DefaultCountries
from tracker.normalise.geoip.mmdb import MmdbDatabase, is_mmdb
from tracker.normalise.geoip.store import RangeStore, StoreError, open_store

log = logging.getLogger(__name__)

STORE_FILE = "geoip.store"  # what `tracker geoip import` converts CSV and BIN files into
MMDB_FILE = "geoip.mmdb"  # what it copies a MaxMind DB to
Sources = tuple[tuple[Path, str], ...]  # (file, CSV member inside a zip or "")


def geoip_dir(data_root: Path) -> Path:
    return data_root / "geoip"


def enabled(settings: Settings) -> bool:
    return settings.use_geoip or settings.geoip_database is not None


def configured_sources(settings: Settings) -> Sources:
    """The files the config names (rules 1 and 2), or () when it names none."""
    if settings.geoip_database:
        return ((Path(settings.geoip_database).expanduser(), ""),)
    if settings.use_geoip:
        pairs = (
            (settings.ipv4_geoip_zip, settings.ipv4_geoip_csv_dest),
            (settings.ipv6_geoip_zip, settings.ipv6_geoip_csv_dest),
        )
        return tuple((Path(path).expanduser(), member) for path, member in pairs if path)
    return ()


def _matching_store(path: Path, sources: Sources, version: int) -> RangeStore | None:
    try:
        store = open_store(path)
    except (OSError, StoreError):
        return None
    meta = store.meta
    same = (
        meta.get("sources") == fingerprint(p for p, _ in sources)
        and meta.get("geoip_version", 0) == version
    )
    return store if same else None


class NeedsConversion(Exception):
    """The configured CSV has no up-to-date converted store yet (and `convert` was False)."""


def open_configured(
    settings: Settings,
    *,
    persist: bool,
    convert: bool = True,
    progress: Progress | None = None,
) -> tuple[GeoIP, str] | None:
    """The configured or imported database, opened now; None when there is none.

    Everything but an unconverted CSV opens in milliseconds (a map, or one read of an mmdb);
    that one is read and converted here when `convert`, else `NeedsConversion` is raised.
    """
    sources = configured_sources(settings)
    folder = geoip_dir(settings.data_dir)
    if len(sources) == 1 and is_mmdb(sources[0][0]):
        return MmdbDatabase(sources[0][0]), f"MaxMind DB {sources[0][0]}"
    if len(sources) == 1 and is_bin(sources[0][0]):
        return BinDatabase(sources[0][0]), f"IP2Location BIN {sources[0][0]}"
    if sources:
        names = ", ".join(str(path) for path, _ in sources)
        existing = _matching_store(folder / STORE_FILE, sources, settings.geoip_version)
        if existing is not None:
            return existing, f"IP2Location CSV {names} (converted)"
        if not convert:
            raise NeedsConversion(names)
        builder = load_csv(sources, progress or (lambda _: None))
        if not len(builder):
            raise ValueError(f"{names} hold no IP2Location ranges (expected DB11 CSV rows)")
        builder.meta["geoip_version"] = settings.geoip_version
        if not persist:
            return RangeStore(builder.render()), f"IP2Location CSV {names}"
        builder.write(folder / STORE_FILE)
        return open_store(folder / STORE_FILE), f"IP2Location CSV {names} (converted)"
    if (folder / MMDB_FILE).exists():
        return MmdbDatabase(folder / MMDB_FILE), "imported MaxMind DB"
    if (folder / STORE_FILE).exists():
        return open_store(folder / STORE_FILE), "imported GeoIP store"
    return None


def fallback(settings: Settings) -> tuple[GeoIP | None, str]:
    """What answers while no configured or imported database does (none loaded yet, or it
    cannot be read): the built-in countries with `GeoIPDefault`, else nothing."""
    if settings.geoip_default:
        return DefaultCountries(), "built-in countries (iptocc)"
    return None, "none"


def not_loaded(exc: Exception, source: str) -> str:
    """The warning when the configured database cannot be read (serve and `geoip lookup`)."""
    return f"GeoIP database not loaded ({exc}); using {source}"


class GeoService:
    """The live database behind `Runtime.geoip`; a finished load swaps in atomically."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.fallback, self.source = fallback(settings)
        self._db: GeoIP | None = self.fallback
        self.loading = False
        self._thread: threading.Thread | None = None

    @property
    def available(self) -> bool:
        """Whether any database answers (else `/ppi/geoip` is 'Service Unavailable')."""
        return self._db is not None

    def lookup(self, ip: str) -> GeoRecord | None:
        db = self._db
        if db is None:
            return None
        try:
            return db.lookup(ip)
        except Exception as exc:  # a reader bug must not fail the event; the address is not logged
            log.warning("GeoIP lookup failed in %s: %s", self.source, type(exc).__name__)
            return None

    def start(self) -> None:
        """Open the configured database now when that is quick, so the first event gets it;
        a CSV that needs converting is converted on a daemon thread (it can take minutes)."""
        try:
            self._use(open_configured(self.settings, persist=True, convert=False))
        except NeedsConversion:
            log.info(
                "GeoIP: converting the configured CSV files; %s answers meanwhile", self.source
            )
            self.loading = True
            self._thread = threading.Thread(target=self._load, name="geoip-load", daemon=True)
            self._thread.start()
        except (OSError, ValueError) as exc:
            log.warning("%s", not_loaded(exc, self.source))

    def _use(self, opened: tuple[GeoIP, str] | None) -> None:
        if opened is not None:
            self._db, self.source = opened
            log.info("GeoIP: %s", self.source)

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _load(self) -> None:
        try:
            opened = open_configured(self.settings, persist=True)
        except (OSError, ValueError) as exc:
            log.warning("%s", not_loaded(exc, self.source))
        else:
            self._use(opened)
        finally:
            self.loading = False


__all__ = [
    "GeoService",
    "NeedsConversion",
    "configured_sources",
    "enabled",
    "fallback",
    "geoip_dir",
    "not_loaded",
    "open_configured",
]
