"""Sorted address ranges in one compact file, looked up with `bisect` over a memory map.

The Go tracker copied IP2Location CSVs into a Pebble store at `./pdb` on every start-up that saw a
new `GeoIPVersion`, blocking the listener meanwhile. Here the CSV (or
BIN) is converted once, by `tracker geoip import`, into `<DataDir>/geoip/geoip.store`, which
start-up maps in milliseconds. The CSV reader builds the same structure in memory.

File layout (little-endian; every section starts on a 16-byte boundary):

    header   magic "TRKGEO\\0\\1", then u32: n4, n6, records, blob bytes, meta bytes
    v4       starts u32[n4], ends u32[n4], record u32[n4]      sorted by start
    v6       starts u8[16][n6] and ends u8[16][n6] (big-endian, so bytes sort as numbers),
             record u32[n6]
    records  offsets u32[records + 1] into the blob; record i is blob[off[i]:off[i+1]], UTF-8
             fields iso2, country, region, city, lat, lon, zip, tz joined by U+001F
    meta     JSON: where the data came from and when it was imported

Identical location records are stored once, so a DB11 file shrinks to its distinct places.
"""

from __future__ import annotations

import mmap
import os
import struct
import sys
from array import array
from bisect import bisect_right
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from tracker.normalise.geoip import IPV4_MAPPED_BASE, GeoRecord, parse_ip, to_float

MAGIC = b"TRKGEO\x00\x01"
HEADER = struct.Struct("<8s5I")
SEPARATOR = "\x1f"
Fields = tuple[str, str, str, str, str, str, str, str]  # iso2 country region city lat lon zip tz
Range = tuple[int, int, Fields, bool]  # first, last (included), fields, is it an IPv6 range
Place = tuple[str, str, str, str, float, float, str, str]  # a GeoRecord without its range
PLACE_CACHE = 65_536


class StoreError(ValueError):
    """The file is not a store this version can read."""


def _pad(out: bytearray) -> None:
    out.extend(b"\x00" * (-len(out) % 16))


class StoreBuilder:
    """Collects ranges (in any order) and renders the store file's bytes."""

    def __init__(self) -> None:
        self.meta: dict[str, Any] = {}  # stored with the ranges: where they came from
        self.v4: list[tuple[int, int, int]] = []
        self.v6: list[tuple[int, int, int]] = []
        self._ids: dict[Fields, int] = {}

    def __len__(self) -> int:
        return len(self.v4) + len(self.v6)

    def add(self, start: int, end: int, fields: Fields, *, v6: bool) -> None:
        """One range, both ends included; a v4 range must lie within 0..2**32-1."""
        if start > end:
            return
        record = self._ids.setdefault(fields, len(self._ids))
        (self.v6 if v6 else self.v4).append((start, end, record))

    def extend(self, ranges: Iterable[Range]) -> None:
        for start, end, fields, v6 in ranges:
            self.add(start, end, fields, v6=v6)

    def render(self) -> bytes:
        self.v4.sort()
        self.v6.sort()
        blob = bytearray()
        offsets = array("I", [0])
        for fields in self._ids:  # dicts keep insertion order: index i is record i
            blob += SEPARATOR.join(fields).encode()
            offsets.append(len(blob))
        meta_bytes = orjson.dumps(self.meta)
        out = bytearray(
            HEADER.pack(
                MAGIC, len(self.v4), len(self.v6), len(self._ids), len(blob), len(meta_bytes)
            )
        )
        for column in range(3):
            _pad(out)
            out += _le(array("I", (row[column] for row in self.v4)))
        for column in range(2):
            _pad(out)
            out += b"".join(row[column].to_bytes(16, "big") for row in self.v6)
        _pad(out)
        out += _le(array("I", (row[2] for row in self.v6)))
        _pad(out)
        out += _le(offsets)
        _pad(out)
        out += blob
        _pad(out)
        out += meta_bytes
        return bytes(out)

    def write(self, path: Path) -> None:
        """Write atomically: a running tracker keeps its map of the old file until it restarts."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_bytes(self.render())
        os.replace(temporary, path)


def _le(values: array[int]) -> bytes:
    if sys.byteorder != "little":
        values.byteswap()
    return values.tobytes()


class _Keys16:
    """A read-only sequence of 16-byte big-endian keys, for `bisect`."""

    __slots__ = ("_view",)

    def __init__(self, view: memoryview) -> None:
        self._view = view

    def __len__(self) -> int:
        return len(self._view) // 16

    def __getitem__(self, index: int) -> bytes:
        return self._view[index * 16 : index * 16 + 16].tobytes()


class RangeStore:
    """Lookups over a store held in `buffer` (the bytes just rendered, or a memory map)."""

    def __init__(self, buffer: bytes | mmap.mmap) -> None:
        self._buffer = buffer
        if len(buffer) < HEADER.size:
            raise StoreError("The GeoIP store is truncated.")
        magic, n4, n6, records, blob_size, meta_size = HEADER.unpack_from(buffer, 0)
        if magic != MAGIC:
            raise StoreError(
                "The file is not a tracker GeoIP store (or was written by a newer version)."
            )
        view = memoryview(buffer)
        position = HEADER.size

        def take(size: int) -> memoryview:
            nonlocal position
            position += -position % 16
            part = view[position : position + size]
            if len(part) != size:
                raise StoreError("The GeoIP store is truncated.")
            position += size
            return part

        self._v4_starts = _u32(take(4 * n4))
        self._v4_ends = _u32(take(4 * n4))
        self._v4_records = _u32(take(4 * n4))
        self._v6_starts = _Keys16(take(16 * n6))
        self._v6_ends = _Keys16(take(16 * n6))
        self._v6_records = _u32(take(4 * n6))
        self._offsets = _u32(take(4 * (records + 1)))
        self._blob = take(blob_size)
        self.meta: dict[str, Any] = orjson.loads(bytes(take(meta_size))) if meta_size else {}
        self.counts = (n4, n6)
        # Decoded places by record number: visitors come from a few places over and over.
        self._place = lru_cache(maxsize=PLACE_CACHE)(self._decode)

    def lookup(self, ip: str) -> GeoRecord | None:
        address = parse_ip(ip)
        if address is None:
            return None
        version, number = address
        if version == 4 and len(self._v4_starts):
            return self._find_v4(number)
        if version == 4:
            number += IPV4_MAPPED_BASE  # only an IPv6 file was loaded: it covers ::ffff:0:0/96
        return self._find_v6(number)

    def _find_v4(self, number: int) -> GeoRecord | None:
        starts = self._v4_starts
        index = bisect_right(starts, number) - 1
        if index < 0:
            return None
        end = self._v4_ends[index]
        if number > end:
            return None
        return self._record(starts[index], end, self._v4_records[index])

    def _find_v6(self, number: int) -> GeoRecord | None:
        key = number.to_bytes(16, "big")
        index = bisect_right(self._v6_starts, key) - 1
        if index < 0:
            return None
        end = self._v6_ends[index]
        if key > end:
            return None
        start = int.from_bytes(self._v6_starts[index], "big")
        return self._record(start, int.from_bytes(end, "big"), self._v6_records[index])

    def _record(self, start: int, end: int, record: int) -> GeoRecord | None:
        place = self._place(record)
        return None if place is None else GeoRecord(start, end, *place)

    def _decode(self, record: int) -> Place | None:
        raw = self._blob[self._offsets[record] : self._offsets[record + 1]]
        fields = str(raw, "utf-8", "replace").split(SEPARATOR)
        if len(fields) != 8 or not fields[0]:
            return None  # a "-" row: the range is known to have no location
        iso2, country, region, city, lat, lon, zip_code, tz = fields
        return iso2, country, region, city, to_float(lat), to_float(lon), zip_code, tz

    def close(self) -> None:
        """Drop the references; the map itself closes when the last lookup is done with it."""
        self._buffer = b""


def _u32(view: memoryview) -> memoryview | array[int]:
    if sys.byteorder == "little":
        return view.cast("I")
    values = array("I", view.tobytes())
    values.byteswap()
    return values


def open_store(path: Path) -> RangeStore:
    """Map a store file read-only; lookups then touch only the pages they need."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise StoreError("The GeoIP store is empty.")
        return RangeStore(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))


def float_text(value: float) -> str:
    """A latitude or longitude as stored text (round-trips through `to_float`)."""
    return repr(float(value)) if value else "0"


__all__ = [
    "Fields",
    "Range",
    "RangeStore",
    "StoreBuilder",
    "StoreError",
    "float_text",
    "open_store",
]
