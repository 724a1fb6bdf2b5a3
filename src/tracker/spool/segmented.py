"""`SpoolMode: durable`: the log on disk, cut into segment files named by their first offset.

A reader resumes anywhere, and whole segments are deleted once every sink has passed them.

An append only queues its frame; a group-commit thread writes the queued frames and
``fdatasync``s them, so concurrent requests share one write and one sync, and the event loop never
waits on the disk (a ``write`` to a file that is being synced can block for the whole sync).
`durable_end` only moves past bytes that are on disk; readers (the sinks) never see anything
beyond it, so nothing is sent to a database that a crash could take back.

When a write or a sync fails (a full disk, an I/O error) the log first cuts its files back to the
durable end, so no frame of a request about to be answered 503 survives, not even a restart; then
it reports the error through `on_failed` and refuses appends. The syncer then tries the disk
again with a capped backoff (a probe file written and synced) and, once it takes writes, accepts
appends again and calls `on_recovered`: no restart is needed after the space comes back.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
import zlib
from collections.abc import Callable
from pathlib import Path

from tracker.spool.frame import HEADER, Entry, frame
from tracker.supervise import Supervised, describe
from tracker.wakeup import Wakeup

log = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".log"
PROBE_NAME = ".probe"
PROBE_BYTES = 1 << 20  # the disk must take this much before appends are accepted again
RETRY_BASE = 0.1  # seconds; the probe's backoff doubles up to RETRY_CAP
RETRY_CAP = 5.0


class SegmentedLog:
    def __init__(self, directory: Path, segment_bytes: int = 64 * 2**20) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._segments = self._recover()  # sorted first offsets
        self._write_fd = -1
        self._write_base = 0
        self._end = 0
        self._durable = 0
        self._pending: list[tuple[int, bytes]] = []  # (fd, frame) queued for the syncer
        self._wakeup = Wakeup()  # set by appends and close; the syncer waits on it when idle
        self._failed: OSError | None = None
        self._cut_pending = False  # a failure's frames are still in the files
        self._to_close: list[int] = []
        self._lock = threading.Lock()
        self._closed = False
        self._stopped = threading.Event()  # set by close: the syncer stops retrying
        self._released = 0
        self.on_durable: Callable[[int], None] = lambda end: None
        self.on_failed: Callable[[OSError], None] = lambda exc: None
        self.on_recovered: Callable[[], None] = lambda: None
        self._open_tail()
        self._syncer = Supervised("spool-fsync", self._sync_loop, recover=self._unexpected)
        self._syncer.start()

    # -- opening ------------------------------------------------------------------------------
    def _path(self, base: int) -> Path:
        return self.directory / f"{base:020d}{SEGMENT_SUFFIX}"

    def _recover(self) -> list[int]:
        bases = sorted(
            int(p.stem) for p in self.directory.glob(f"*{SEGMENT_SUFFIX}") if p.stem.isdigit()
        )
        if bases:
            self._truncate_torn_tail(self._path(bases[-1]))
        return bases

    @staticmethod
    def _truncate_torn_tail(path: Path) -> None:
        """Cut a half-written last entry left by a crash (short frame or bad checksum)."""
        data = path.read_bytes()
        pos = 0
        while pos + HEADER.size <= len(data):
            length, crc = HEADER.unpack_from(data, pos)
            payload = data[pos + HEADER.size : pos + HEADER.size + length]
            if len(payload) < length or zlib.crc32(payload) != crc:
                break
            pos += HEADER.size + length
        if pos < len(data):
            log.warning(
                "spool: cut %d bytes of a torn entry at the end of %s", len(data) - pos, path.name
            )
            with open(path, "r+b") as handle:
                handle.truncate(pos)
                os.fsync(handle.fileno())

    def _open_tail(self) -> None:
        if not self._segments:
            self._segments = [0]
        base = self._segments[-1]
        path = self._path(base)
        self._write_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._write_base = base
        self._end = self._durable = base + os.fstat(self._write_fd).st_size
        self._fsync_dir()

    def _fsync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- properties ---------------------------------------------------------------------------
    @property
    def durable_end(self) -> int:
        return self._durable

    @property
    def end(self) -> int:
        return self._end

    @property
    def start(self) -> int:
        return self._segments[0]

    @property
    def size_bytes(self) -> int:
        """Bytes not yet released by every reader (what counts against the spool's limit)."""
        return self._end - max(self._released, self._segments[0])

    # -- writing (event loop) -----------------------------------------------------------------
    def append(self, payload: bytes) -> int:
        data = frame(payload)
        with self._lock:
            if self._closed:
                raise OSError("the spool is closed")
            if self._failed is not None:
                raise OSError(f"the spool cannot be written: {self._failed}")
            if self._end - self._write_base >= self.segment_bytes:
                self._rotate()
            self._pending.append((self._write_fd, data))
            self._end += len(data)
            self._wakeup.set()  # a busy syncer takes this frame after its current sync
            return self._end

    def _rotate(self) -> None:
        self._to_close.append(self._write_fd)
        base = self._end
        self._write_fd = os.open(self._path(base), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._write_base = base
        self._segments.append(base)
        self._fsync_dir()

    # -- group commit (its own thread) --------------------------------------------------------
    def _sync_loop(self) -> None:
        while True:
            if self._failed is not None and not self._wait_for_disk():
                return  # closed while the disk was failing
            with self._lock:
                pending, self._pending = self._pending, []
                target, closed = self._end, self._closed
                closing, self._to_close = self._to_close, []  # only ever with a pending frame
            if not pending:
                if closed:
                    return
                self._wakeup.wait()  # until an append or close
                continue
            try:
                self._write_and_sync(pending)  # releases the GIL; appends go on meanwhile
            except OSError as exc:
                self._fail(exc, closing)
                continue
            for fd in closing:
                os.close(fd)
            self._durable = target
            self.on_durable(target)

    def _fail(self, exc: OSError, closing: list[int]) -> None:
        """Refuse appends, cut the files back to the durable end, then report the failure."""
        with self._lock:
            self._failed = exc
            self._pending = []  # frames queued behind the failed write: their requests get 503
            self._cut_pending = True
            closing = closing + self._to_close
            self._to_close = []
        for fd in closing:
            with contextlib.suppress(OSError):
                os.close(fd)
        try:
            self._cut_back()
        except OSError as cut_exc:  # tried again before appends are accepted
            log.error("spool: cutting the failed write back failed too (%s)", cut_exc)
        self.on_failed(exc)  # before logging, which lets other threads run meanwhile
        log.error("spool: writing the log failed (%s); new events are refused until it works", exc)

    def _unexpected(self) -> None:
        """After an unexpected error in the syncer: handled as a failed write."""
        error = self._syncer.last_error or "an unexpected error"
        self._fail(OSError(errno.EIO, f"the spool's syncer failed: {error}"), [])

    def _cut_back(self) -> None:
        """Truncate the log to its durable end: frames after it belong to refused requests."""
        durable = self._durable
        with self._lock:
            drop = [b for b in self._segments if b > durable]
            keep = [b for b in self._segments if b <= durable]
            fd, self._write_fd = self._write_fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
        for base in drop:
            with contextlib.suppress(FileNotFoundError):
                self._path(base).unlink()
        base = keep[-1]
        fd = os.open(self._path(base), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with self._lock:
            self._segments = [b for b in self._segments if b <= durable]
            self._write_fd, self._write_base = fd, base
            self._end = durable
        os.ftruncate(fd, durable - base)
        os.fsync(fd)
        if drop:
            self._fsync_dir()
        self._cut_pending = False

    def _probe(self) -> None:
        """Write and sync PROBE_BYTES next to the log: raises OSError while the disk refuses."""
        path = self.directory / PROBE_NAME
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            block = bytes(1 << 16)
            for _ in range(PROBE_BYTES // len(block)):
                view = memoryview(block)
                while view:
                    written = os.write(fd, view)
                    if not written:
                        raise OSError(errno.ENOSPC, "the probe file took no bytes")
                    view = view[written:]
            os.fdatasync(fd)
        finally:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()

    def _wait_for_disk(self) -> bool:
        """Try the disk with a capped backoff until it takes writes; False once closed."""
        delay = RETRY_BASE
        while not self._stopped.wait(delay):
            try:
                if self._cut_pending:
                    self._cut_back()
                self._probe()
            except OSError as exc:
                log.debug("spool: the disk still refuses writes (%s)", describe(exc))
                delay = min(delay * 2, RETRY_CAP)
                continue
            with self._lock:
                self._failed = None
            log.warning("spool: the disk takes writes again; new events are accepted")
            self.on_recovered()
            return True
        return False

    @staticmethod
    def _write_and_sync(pending: list[tuple[int, bytes]]) -> None:
        """Write the queued frames in order (one write per segment file), then sync each file."""
        by_fd: dict[int, list[bytes]] = {}
        for fd, data in pending:
            by_fd.setdefault(fd, []).append(data)
        for fd, chunks in by_fd.items():
            view = memoryview(b"".join(chunks))
            while view:
                written = os.write(fd, view)
                if not written:
                    raise OSError(errno.ENOSPC, "the spool file took no bytes")
                view = view[written:]
        for fd in by_fd:
            os.fdatasync(fd)

    # -- reading (sink threads) ---------------------------------------------------------------
    def read(self, offset: int, max_bytes: int) -> list[Entry]:
        limit = self._durable
        out: list[Entry] = []
        size = 0
        while offset < limit and size < max_bytes:
            base = self._segment_for(offset)
            if base is None:
                break
            with open(self._path(base), "rb") as handle:
                handle.seek(offset - base)
                segment_end = min(limit, self._next_base(base) or limit)
                data = handle.read(min(segment_end - offset, max(max_bytes - size, HEADER.size)))
            pos = 0
            while pos + HEADER.size <= len(data):
                length, crc = HEADER.unpack_from(data, pos)
                if pos + HEADER.size + length > len(data):
                    if pos == 0:  # one entry bigger than max_bytes: read it whole
                        with open(self._path(base), "rb") as handle:
                            handle.seek(offset - base)
                            data = handle.read(HEADER.size + length)
                        continue
                    break
                payload = data[pos + HEADER.size : pos + HEADER.size + length]
                if zlib.crc32(payload) != crc:
                    raise OSError(f"spool entry at offset {offset + pos} is corrupt")
                start = offset + pos
                end = start + HEADER.size + length
                out.append(Entry(start, end, payload))
                size += end - start
                pos += HEADER.size + length
            if pos == 0:
                break
            offset += pos
            if offset >= segment_end and self._next_base(base) is None:
                break
        return out

    def _segment_for(self, offset: int) -> int | None:
        candidates = [b for b in self._segments if b <= offset]
        return candidates[-1] if candidates else None

    def _next_base(self, base: int) -> int | None:
        later = [b for b in self._segments if b > base]
        return later[0] if later else None

    # -- reclaiming -------------------------------------------------------------------------
    def release(self, offset: int) -> None:
        with self._lock:
            self._released = max(self._released, offset)
            while len(self._segments) > 1 and self._segments[1] <= offset:
                base = self._segments.pop(0)
                with contextlib.suppress(FileNotFoundError):
                    self._path(base).unlink()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._stopped.set()
        self._syncer.stop()
        self._wakeup.set()
        self._syncer.join()
        with contextlib.suppress(OSError):
            os.fsync(self._write_fd)
            os.close(self._write_fd)
