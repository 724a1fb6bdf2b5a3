"""The log's framing and the interface both logs offer.

An entry is one request's records, framed as ``[u32 length][u32 crc32][payload]``. Offsets are
global byte positions and grow forever, so a reader resumes anywhere.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

HEADER = struct.Struct("<II")


@dataclass(frozen=True, slots=True)
class Entry:
    start: int
    end: int
    payload: bytes


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


class Log(Protocol):
    on_durable: Callable[[int], None]
    on_failed: Callable[[OSError], None]  # the log can no longer make appends durable
    on_recovered: Callable[[], None]  # it can again

    @property
    def durable_end(self) -> int: ...

    @property
    def start(self) -> int: ...

    @property
    def size_bytes(self) -> int: ...

    def append(self, payload: bytes) -> int:
        """Write one entry; return its end offset (durable once `durable_end` reaches it)."""

    def read(self, offset: int, max_bytes: int) -> list[Entry]:
        """Durable entries from ``offset`` (an entry boundary), about ``max_bytes`` of them."""

    def release(self, offset: int) -> None:
        """Every reader has passed ``offset``: the space before it may be reclaimed."""

    def close(self) -> None: ...
