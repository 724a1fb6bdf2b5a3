"""Spools shared between processes: `Workers` > 1 (docs/workers.md).

Each HTTP worker K appends to its own durable log in ``<DataDir>/spool/worker-K/`` (so the
request path takes no lock another process holds); the one process that owns the store reads
every worker's log with a writer of its own. The two processes share, besides the segment files,
one small file mapped by both (``state``):

* ``durable``, written by the worker after each group commit and before any request waiting on
  it is answered: the owner's reader never reads past it, so it never stores an entry a crash of
  the worker's machine could take back, nor one of a request answered 503 (the log is cut back
  to this offset when the disk fails);
* ``released``, written by the owner once its writer has committed a range: the worker deletes
  the segments before it (only the process that appends deletes, so its size accounting, which
  decides `SpoolMaxBytes`, stays exact).

Each worker also writes its request figures to ``figures.json`` about twice a second, which the
owner adds up for `/metrics`.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import secrets
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from tracker.spool.frame import Entry
from tracker.spool.segmented import SEGMENT_SUFFIX, SegmentedLog
from tracker.spool.spool import LogSpool, open_spool

WORKER_PREFIX = "worker-"
STATE_FILE = "state"
STATE_BYTES = 64
FIGURES_FILE = "figures.json"
_OFFSET = struct.Struct("<Q")


def worker_dir(spool_root: Path, index: int) -> Path:
    return spool_root / f"{WORKER_PREFIX}{index}"


def worker_dirs(spool_root: Path) -> list[Path]:
    """Every worker spool under ``spool_root``, by index (also those of workers no longer run)."""
    found = [
        path
        for path in spool_root.glob(f"{WORKER_PREFIX}*")
        if path.is_dir() and path.name[len(WORKER_PREFIX) :].isdigit()
    ]
    return sorted(found, key=lambda path: int(path.name[len(WORKER_PREFIX) :]))


def ensure_epoch(directory: Path) -> str:
    """The spool's epoch (part of every dedup token), made once even when two processes race."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "epoch"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(6))
        out.flush()
        os.fsync(out.fileno())
    return path.read_text().strip()


class SharedState:
    """The two offsets of one worker spool, in a file both processes map (shared memory)."""

    def __init__(self, directory: Path) -> None:
        fd = os.open(directory / STATE_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < STATE_BYTES:
                os.ftruncate(fd, STATE_BYTES)
            self._map = mmap.mmap(fd, STATE_BYTES)
        finally:
            os.close(fd)

    @property
    def durable(self) -> int:
        return int(_OFFSET.unpack_from(self._map, 0)[0])

    def publish_durable(self, end: int) -> None:
        _OFFSET.pack_into(self._map, 0, end)

    @property
    def released(self) -> int:
        return int(_OFFSET.unpack_from(self._map, 8)[0])

    def publish_released(self, offset: int) -> None:
        if offset > self.released:
            _OFFSET.pack_into(self._map, 8, offset)

    def close(self) -> None:
        with contextlib.suppress(ValueError, BufferError):
            self._map.close()


def open_worker_spool(directory: Path, max_bytes: int) -> tuple[LogSpool, SharedState]:
    """A worker's own durable spool, publishing its durable end to the owner."""
    ensure_epoch(directory)
    spool = open_spool(directory, durable=True, max_bytes=max_bytes)
    state = SharedState(directory)
    state.publish_durable(spool.end)  # what a previous run left is durable now
    spool.subscribe(state.publish_durable)  # called before the waiting requests are answered
    spool.release(state.released)
    return spool, state


class SharedLogReader(SegmentedLog):
    """The owner's read-only view of a worker's log: `read` as `SegmentedLog.read`, up to the
    durable end the worker published. No file is opened for writing and no syncer runs, so the
    parent's `__init__` is not called; only what `read` uses is set."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.state = SharedState(directory)
        self._segments = [0]
        self._durable = 0
        self.on_durable: Callable[[int], None] = lambda end: None
        self.on_failed: Callable[[OSError], None] = lambda exc: None
        self.on_recovered: Callable[[], None] = lambda: None
        self._refresh()

    def _refresh(self) -> None:
        bases = sorted(
            int(p.stem) for p in self.directory.glob(f"*{SEGMENT_SUFFIX}") if p.stem.isdigit()
        )
        self._segments = bases or [self.state.durable]
        self._durable = self.state.durable

    @property
    def durable_end(self) -> int:
        return self.state.durable

    @property
    def end(self) -> int:
        return self.state.durable

    @property
    def start(self) -> int:
        self._refresh()
        return self._segments[0]

    @property
    def size_bytes(self) -> int:
        return max(self.state.durable - max(self.state.released, self._segments[0]), 0)

    def append(self, payload: bytes) -> int:
        raise OSError(f"the worker spool {self.directory} is read here, never written")

    def read(self, offset: int, max_bytes: int) -> list[Entry]:
        self._refresh()
        return super().read(offset, max_bytes)

    def release(self, offset: int) -> None:
        self.state.publish_released(offset)

    def close(self) -> None:
        self.state.close()


def open_reader_spool(directory: Path, max_bytes: int) -> LogSpool:
    """The owner's spool over a worker's log (its epoch, so its writer's tokens are the ones a
    replay after any crash sends again)."""
    epoch = ensure_epoch(directory)
    return LogSpool(SharedLogReader(directory), max_bytes=max_bytes, durable=True, epoch=epoch)


def publish_figures(directory: Path, figures: dict[str, Any]) -> None:
    """Write a worker's request figures for the owner (replaced whole: a reader sees one)."""
    tmp = directory / f".{FIGURES_FILE}.tmp"
    tmp.write_bytes(orjson.dumps(figures))
    os.replace(tmp, directory / FIGURES_FILE)


def read_figures(directory: Path) -> dict[str, Any] | None:
    try:
        figures = orjson.loads((directory / FIGURES_FILE).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return figures if isinstance(figures, dict) else None
