"""`tracker geoip import`: turn big files into what start-up can map in milliseconds.

IP2Location CSV files (plain or zipped) and BIN files are converted into one sorted-range store,
`<DataDir>/geoip/geoip.store` (so the IPv4 and IPv6 files of DB11 can be imported together); a
MaxMind `.mmdb` is already a lookup structure and is copied as `<DataDir>/geoip/geoip.mmdb`. The
newest import replaces the previous one. Both are written under a temporary name and renamed, so
a tracker that is running keeps its old copy until it restarts.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from tracker.normalise.geoip.bin import BinDatabase, is_bin
from tracker.normalise.geoip.csv_zip import Progress, fingerprint, iter_source, source_size
from tracker.normalise.geoip.mmdb import MmdbDatabase, is_mmdb
from tracker.normalise.geoip.service import MMDB_FILE, STORE_FILE, geoip_dir
from tracker.normalise.geoip.store import Range, StoreBuilder

# Made for each file: (file name, total units, unit name) → the progress callback for it.
ProgressFactory = Callable[[str, int, str], Progress]
BIN_PROGRESS_STEP = 65536


def _quiet(_name: str, _total: int, _unit: str) -> Progress:
    return lambda _: None


def bin_ranges(database: BinDatabase, progress: Progress) -> Iterator[Range]:
    for done, item in enumerate(database.iter_ranges(), 1):
        if done % BIN_PROGRESS_STEP == 0:
            progress(BIN_PROGRESS_STEP)
        yield item
    progress(0)


def import_files(
    paths: Sequence[Path],
    data_root: Path,
    *,
    geoip_version: int = 0,
    progress: ProgressFactory = _quiet,
) -> Path:
    """Import `paths` into `data_root`'s GeoIP folder; returns the file written."""
    if not paths:
        raise ValueError("Name at least one GeoIP file to import.")
    for path in paths:
        if not path.is_file():
            raise ValueError(f"GeoIP file '{path}' does not exist.")
    folder = geoip_dir(data_root)
    folder.mkdir(parents=True, exist_ok=True)
    if any(is_mmdb(path) for path in paths):
        if len(paths) > 1:
            raise ValueError("Import a MaxMind DB (.mmdb) on its own.")
        return _import_mmdb(paths[0], folder)
    builder = StoreBuilder()
    kinds: list[str] = []
    for path in paths:
        before = len(builder)
        if is_bin(path):
            database = BinDatabase(path)
            callback = progress(path.name, database.rows, "rows")
            builder.extend(bin_ranges(database, callback))
            kinds.append(f"ip2location-bin {database.date}")
        else:
            callback = progress(path.name, source_size(path), "B")
            builder.extend(iter_source(path, "", callback))
            kinds.append("ip2location-csv")
        if len(builder) == before:
            raise ValueError(f"'{path}' holds no IP2Location ranges (expected DB11 CSV rows).")
    builder.meta = {
        "kind": ", ".join(kinds),
        "sources": fingerprint(paths),
        "geoip_version": geoip_version,
        "imported_at": int(time.time()),
        "ranges": len(builder),
    }
    builder.write(folder / STORE_FILE)
    (folder / MMDB_FILE).unlink(missing_ok=True)
    return folder / STORE_FILE


def _import_mmdb(path: Path, folder: Path) -> Path:
    MmdbDatabase(path).close()  # refuse a file that does not open
    temporary = folder / (MMDB_FILE + ".tmp")
    shutil.copyfile(path, temporary)
    os.replace(temporary, folder / MMDB_FILE)
    (folder / STORE_FILE).unlink(missing_ok=True)
    return folder / MMDB_FILE


__all__ = ["ProgressFactory", "import_files"]
