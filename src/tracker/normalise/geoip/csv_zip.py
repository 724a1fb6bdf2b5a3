"""IP2Location LITE DB11 CSV files, plain or inside a zip archive (the Go tracker's format).

Each row: `ip_from, ip_to, country_code, country_name, region_name, city_name, latitude,
longitude, zip_code, time_zone`, double-quoted, no header. `ip_from`/`ip_to` are decimal integers
(32-bit in the IPv4 file, 128-bit in the IPv6 file, which also covers the IPv4-mapped range).
`-` means empty. As in the Go tracker, rows with fewer than 10 columns or a missing `ip_from`/
`ip_to` are skipped; unlike it, a row whose numbers do not parse or do not fit is skipped too
instead of being stored under a truncated key.

The Go tracker unpacked each zip into `TempDirectory` first; the archive is read in place here.
A file is an IPv6 file when its name says `IPV6` or its first range ends past 2**32-1.
"""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

from tracker.normalise.geoip import MAX_IPV4, MAX_IPV6
from tracker.normalise.geoip.store import Fields, Range, RangeStore, StoreBuilder

Progress = Callable[[int], None]  # called with the number of bytes read since the last call
PROGRESS_STEP = 1 << 20


def _none(_: int) -> None:
    return None


def is_zip(path: Path) -> bool:
    return zipfile.is_zipfile(path)


def csv_members(archive: zipfile.ZipFile, member: str = "") -> list[zipfile.ZipInfo]:
    """The CSV files of an archive: the one named `member` (by base name), else every `.csv`."""
    infos = [info for info in archive.infolist() if not info.is_dir()]
    if member:
        wanted = Path(member).name.lower()
        chosen = [info for info in infos if Path(info.filename).name.lower() == wanted]
        if not chosen:
            raise ValueError(f"The archive has no file named '{wanted}'.")
        return chosen
    chosen = [info for info in infos if info.filename.lower().endswith(".csv")]
    if not chosen:
        raise ValueError("The archive holds no .csv file.")
    return chosen


def source_size(path: Path, member: str = "") -> int:
    """Bytes of CSV text a source holds (for a progress bar's total)."""
    if is_zip(path):
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in csv_members(archive, member))
    return path.stat().st_size


def iter_source(path: Path, member: str = "", progress: Progress = _none) -> Iterator[Range]:
    """Every range of one CSV file, or of the CSV files of one zip archive."""
    if is_zip(path):
        with zipfile.ZipFile(path) as archive:
            for info in csv_members(archive, member):
                with archive.open(info) as raw:
                    member_text = io.TextIOWrapper(
                        raw, encoding="utf-8", errors="replace", newline=""
                    )
                    yield from iter_rows(member_text, "ipv6" in info.filename.lower(), progress)
        return
    with open(path, encoding="utf-8", errors="replace", newline="") as text:
        yield from iter_rows(text, "ipv6" in path.name.lower(), progress)


def iter_rows(text: IO[str], named_v6: bool, progress: Progress = _none) -> Iterator[Range]:
    v6: bool | None = True if named_v6 else None
    for row in csv.reader(_counted(text, progress)):
        if len(row) < 10:
            continue
        try:
            start, end = int(row[0]), int(row[1])
        except ValueError:
            continue  # "-", "" or garbage
        if v6 is None:
            v6 = end > MAX_IPV4
        if not 0 <= start <= end <= (MAX_IPV6 if v6 else MAX_IPV4):
            continue
        fields: Fields = (
            _text(row[2]).upper(),
            _text(row[3]),
            _text(row[4]),
            _text(row[5]),
            _text(row[6]),
            _text(row[7]),
            _text(row[8]),
            _text(row[9]),
        )
        yield start, end, fields, v6


def _text(value: str) -> str:
    value = value.strip()
    return "" if value == "-" else value


def _counted(text: IO[str], progress: Progress) -> Iterator[str]:
    pending = 0
    for line in text:
        pending += len(line)
        if pending >= PROGRESS_STEP:
            progress(pending)
            pending = 0
        yield line
    progress(pending)


def load_csv(sources: Sequence[tuple[Path, str]], progress: Progress = _none) -> StoreBuilder:
    """Read `(path, member)` sources into a store builder whose meta describes them."""
    builder = StoreBuilder()
    for path, member in sources:
        builder.extend(iter_source(path, member, progress))
    builder.meta = {
        "kind": "ip2location-csv",
        "sources": fingerprint(path for path, _ in sources),
        "imported_at": int(time.time()),
        "ranges": len(builder),
    }
    return builder


def fingerprint(paths: Iterable[Path]) -> list[dict[str, object]]:
    """What identifies a source file's version: its resolved path, size and mtime."""
    out: list[dict[str, object]] = []
    for path in paths:
        stat = path.stat()
        out.append({"path": str(path.resolve()), "size": stat.st_size, "mtime": int(stat.st_mtime)})
    return out


def open_csv(sources: Sequence[tuple[Path, str]], progress: Progress = _none) -> RangeStore:
    """The CSV sources as an in-memory store (the same lookups as an imported one)."""
    return RangeStore(load_csv(sources, progress).render())


__all__ = [
    "csv_members",
    "fingerprint",
    "iter_rows",
    "iter_source",
    "load_csv",
    "open_csv",
    "source_size",
]
