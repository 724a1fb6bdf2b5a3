"""`SpoolMode: memory`: the log in memory only, as the Go tracker kept events (lost on a crash)."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable

from tracker.spool.frame import HEADER, Entry


def _entry_start(entry: Entry) -> int:
    return entry.start


def _entry_end(entry: Entry) -> int:
    return entry.end


class MemoryLog:
    """`SpoolMode: memory`: the same interface, nothing on disk (the Go tracker's guarantee)."""

    def __init__(self) -> None:
        self._entries: list[Entry] = []
        self._first = 0
        self._end = 0
        self._bytes = 0
        self._lock = threading.Lock()
        self.on_durable: Callable[[int], None] = lambda end: None
        self.on_failed: Callable[[OSError], None] = lambda exc: None
        self.on_recovered: Callable[[], None] = lambda: None

    @property
    def durable_end(self) -> int:
        return self._end

    @property
    def start(self) -> int:
        return self._first

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def append(self, payload: bytes) -> int:
        with self._lock:
            entry = Entry(self._end, self._end + HEADER.size + len(payload), payload)
            self._entries.append(entry)
            self._end = entry.end
            self._bytes += entry.end - entry.start
        self.on_durable(entry.end)
        return entry.end

    def read(self, offset: int, max_bytes: int) -> list[Entry]:
        # Entries are in offset order: find the first by bisection. A scan from the oldest entry
        # held the GIL for every entry not yet released (seconds of traffic) on each read.
        with self._lock:
            out: list[Entry] = []
            size = 0
            entries = self._entries
            for index in range(bisect.bisect_left(entries, offset, key=_entry_start), len(entries)):
                entry = entries[index]
                out.append(entry)
                size += entry.end - entry.start
                if size >= max_bytes:
                    break
            return out

    def release(self, offset: int) -> None:
        with self._lock:
            passed = bisect.bisect_right(self._entries, offset, key=_entry_end)
            self._bytes -= sum(e.end - e.start for e in self._entries[:passed])
            del self._entries[:passed]
            self._first = self._entries[0].start if self._entries else self._end

    def close(self) -> None:
        pass
