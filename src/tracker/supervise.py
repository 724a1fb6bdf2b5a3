"""`Supervised`: a background thread that survives its own unexpected errors.

Every background thread of the tracker (a sink's writer, the spool's syncer, …) runs its loop
under one of these. When the loop raises, the error is logged (its type and where it happened;
an `OSError`'s message too, which names a file, never a payload), counted, and the loop is
started again after a capped exponential backoff with jitter, once ``recover`` has put the
thread's state back in order. The thread is *failing* from the error until the loop reports
progress again (`progress`), which is what `/health` reads: a thread that cannot make progress
is seen, and one that got over it is healthy again without a restart of the process.

The loop returning normally ends the thread (that is how it stops).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import random
import threading
import traceback
from collections.abc import Callable

log = logging.getLogger(__name__)

BACKOFF_BASE = 0.1
BACKOFF_CAP = 30.0


_PR_SET_NAME = 15
_prctl = getattr(ctypes.CDLL(ctypes.util.find_library("c")), "prctl", None)  # Linux only


def name_native_thread(name: str) -> None:
    """Give the calling thread ``name`` in the kernel too (``comm``: 15 bytes), so `top -H`,
    ``/proc/<pid>/task/*/comm`` and `bench/threads.py` tell our threads from chDB's; Python 3.11
    names threads for Python only."""
    if _prctl is not None:
        _prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def describe(exc: BaseException) -> str:
    """An error for the log and `/health`: its type, and an OSError's message (no payloads)."""
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


class Supervised:
    def __init__(
        self,
        name: str,
        loop: Callable[[], None],
        *,
        recover: Callable[[], None] = lambda: None,
        on_restart: Callable[[], None] = lambda: None,
        base: float = BACKOFF_BASE,
        cap: float = BACKOFF_CAP,
    ) -> None:
        self.name = name
        self.loop = loop
        self.recover = recover
        self.on_restart = on_restart
        self.base = base
        self.cap = cap
        self.restarts = 0
        self.last_error: str | None = None
        self._failures = 0  # consecutive, without progress in between
        self._failing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def failing(self) -> bool:
        """An unexpected error happened and the loop has not made progress since."""
        return self._failing

    def progress(self) -> None:
        """Called by the loop after a round that worked: the thread is healthy again."""
        if self._failing:
            self._failing = False
            self._failures = 0
            log.warning("%s: working again after %s", self.name, self.last_error)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._supervise, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """No more restarts: the next error ends the thread (the loop is asked to stop itself)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def backoff(self) -> float:
        delay: float = min(self.cap, self.base * 2 ** (self._failures - 1))
        return delay * random.uniform(0.5, 1.0)

    def _supervise(self) -> None:
        name_native_thread(self.name)
        while True:
            try:
                self.loop()
                return
            except Exception as exc:
                self._failed(exc)
            if self._stop.wait(self.backoff()):
                return
            try:
                self.recover()
            except Exception as exc:  # recovering failed too: count it and wait longer
                self._failed(exc)
                continue
            self.restarts += 1
            self.on_restart()

    def _failed(self, exc: Exception) -> None:
        self._failures += 1
        self._failing = True
        self.last_error = describe(exc)
        where = "".join(traceback.format_tb(exc.__traceback__)).rstrip()
        log.error(
            "%s: unexpected %s (failure %d in a row); starting again in the background:\n%s",
            self.name,
            self.last_error,
            self._failures,
            where,
        )


__all__ = ["Supervised", "describe", "name_native_thread"]
