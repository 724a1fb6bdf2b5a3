"""IP2Location BIN databases (DB1-DB26, IPv4 and IPv6 sections), read from a memory map.

Written from the documented layout rather than through the `IP2Location` package: that
package is MIT and correct, but untyped and 2-3x slower per lookup (see
bench/geoip_bench.py); the tests check this reader against it on the same file.

Layout (offsets in the header are 1-based; integers little-endian):

    0  u8 type (1-26)   1 u8 columns   2-4 u8 year, month, day
    5  u32 IPv4 rows    9 u32 IPv4 base   13 u32 IPv6 rows   17 u32 IPv6 base
    21 u32 IPv4 index base   25 u32 IPv6 index base   29 u8 product code (1 = IP2Location)

A row is `ip_from` (u32, or u128 for IPv6) followed by `columns - 1` u32 cells; a range ends
where the next row starts, and one more row after the last closes it. Text cells point at a
length-prefixed string; the country cell points at the ISO code, with the name 3 bytes later;
latitude and longitude cells hold a float32. The optional index holds, for each value of the top
16 address bits, the first and last row to search.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Iterator
from pathlib import Path

from tracker.normalise.geoip import IPV4_MAPPED_BASE, MAX_IPV4, MAX_IPV6, GeoRecord, parse_ip
from tracker.normalise.geoip.store import Fields, Range, float_text

HEADER = struct.Struct("<5B6I3B")
U32 = struct.Struct("<I")
F32 = struct.Struct("<f")
PAIR = struct.Struct("<II")

# Cell positions per database type (index = type; 0 = not in that type), from the format's tables.
_COUNTRY = (0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2)
_REGION = (0, 0, 0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3)
_CITY = (0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4)
_LAT = (0, 0, 0, 0, 0, 5, 5, 0, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5)
_LON = (0, 0, 0, 0, 0, 6, 6, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6)
_ZIP = (0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 7, 7, 7, 0, 7, 7, 7, 0, 7, 0, 7, 7, 7, 0, 7, 7, 7)
_TZ = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 8, 7, 8, 8, 8, 7, 8, 0, 8, 8, 8, 0, 8, 8, 8)


class BinError(ValueError):
    """The file is not an IP2Location BIN database this reader understands."""


class BinDatabase:
    """One BIN file, mapped read-only; `lookup` reads only the rows the search visits."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as handle:
            self._buf = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        if len(self._buf) < HEADER.size:
            raise BinError(f"'{path}' is too short to be an IP2Location BIN file.")
        fields: tuple[int, ...] = HEADER.unpack_from(self._buf, 0)
        self.type, self.columns, year, month, day = fields[:5]
        self.v4_count, v4_base, self.v6_count, v6_base, v4_index, v6_index = fields[5:11]
        product = fields[11]
        if not 1 <= self.type <= 26 or self.columns < 2 or product not in (0, 1):
            raise BinError(f"'{path}' is not an IP2Location BIN database (DB1-DB26).")
        self.date = f"20{year:02d}-{month:02d}-{day:02d}"
        self._base = (v4_base - 1, v6_base - 1)
        self._index = (v4_index - 1 if v4_index else -1, v6_index - 1 if v6_index else -1)
        self._width = (self.columns * 4, self.columns * 4 + 12)
        self._positions = tuple(
            table[self.type] for table in (_COUNTRY, _REGION, _CITY, _LAT, _LON, _ZIP, _TZ)
        )

    def lookup(self, ip: str) -> GeoRecord | None:
        address = parse_ip(ip)
        if address is None:
            return None
        version, number = address
        if version == 4 and not self.v4_count:
            version, number = 6, number + IPV4_MAPPED_BASE
        v6 = version == 6
        row = self._search(number, v6)
        if row is None:
            return None
        return self._record(row, v6)

    def _start(self, row: int, v6: bool) -> int:
        offset = self._base[v6] + row * self._width[v6]
        if v6:
            return int.from_bytes(self._buf[offset : offset + 16], "little")
        value: int = U32.unpack_from(self._buf, offset)[0]
        return value

    def _search(self, number: int, v6: bool) -> int | None:
        count = self.v6_count if v6 else self.v4_count
        if not count:
            return None
        top = MAX_IPV6 if v6 else MAX_IPV4
        number = min(number, top - 1)  # the closing row starts at the top address itself
        low, high = 0, count - 1
        try:
            if self._index[v6] >= 0:
                offset = self._index[v6] + (number >> (112 if v6 else 16)) * 8
                bounds: tuple[int, int] = PAIR.unpack_from(self._buf, offset)
                low, high = bounds[0], min(bounds[1], count - 1)
            while low <= high:
                mid = (low + high) // 2
                start = self._start(mid, v6)
                if number < start:
                    high = mid - 1
                elif number >= self._start(mid + 1, v6):
                    low = mid + 1
                else:
                    return mid
        except struct.error:
            return None  # a truncated file: treat as not found rather than fail the event
        return None

    def _cells(self, row: int, v6: bool) -> int:
        """The file offset of the row's first cell (the one after `ip_from`)."""
        return self._base[v6] + row * self._width[v6] + (16 if v6 else 4)

    def _text(self, pointer: int) -> str:
        length = self._buf[pointer]
        value = self._buf[pointer + 1 : pointer + 1 + length].decode(errors="replace")
        return "" if value == "-" else value

    def _fields(self, row: int, v6: bool) -> Fields:
        cells = self._cells(row, v6)

        def pointer(position: int) -> int:
            value: int = U32.unpack_from(self._buf, cells + (position - 2) * 4)[0]
            return value

        def text(position: int) -> str:
            return self._text(pointer(position)) if position else ""

        def number(position: int) -> str:
            if not position:
                return "0"
            value: float = F32.unpack_from(self._buf, cells + (position - 2) * 4)[0]
            return float_text(round(value, 6))

        country, region, city, lat, lon, zip_code, tz = self._positions
        return (
            text(country),
            self._text(pointer(country) + 3) if country else "",
            text(region),
            text(city),
            number(lat),
            number(lon),
            text(zip_code),
            text(tz),
        )

    def _record(self, row: int, v6: bool) -> GeoRecord | None:
        try:
            iso2, name, region, city, lat, lon, zip_code, tz = self._fields(row, v6)
            start, end = self._start(row, v6), self._start(row + 1, v6) - 1
        except (struct.error, IndexError):
            return None
        if not iso2:
            return None
        return GeoRecord(start, end, iso2, name, region, city, float(lat), float(lon), zip_code, tz)

    def iter_ranges(self) -> Iterator[Range]:
        """Every located range (IPv4 section first), for `tracker geoip import`."""
        for v6, count in ((False, self.v4_count), (True, self.v6_count)):
            for row in range(count):
                fields = self._fields(row, v6)
                if fields[0]:
                    yield self._start(row, v6), self._start(row + 1, v6) - 1, fields, v6

    @property
    def rows(self) -> int:
        return self.v4_count + self.v6_count


def is_bin(path: Path) -> bool:
    return path.suffix.lower() == ".bin"


__all__ = ["BinDatabase", "BinError", "is_bin"]
