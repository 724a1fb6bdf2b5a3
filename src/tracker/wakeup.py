"""`Wakeup`: how one thread tells another, sleeping one that there is work (spool syncer, writers)."""

from __future__ import annotations

import threading


class Wakeup:
    """A wake-up for one sleeping thread: `set` from any thread, `wait` in the sleeper.

    A `set` before the `wait` is kept, so none is lost, and several count as one (the woken thread
    reads all there is). Two bare locks, not `threading.Event` or `Condition`, whose methods are
    Python code: the spool sets it on every request.
    """

    def __init__(self) -> None:
        self._signal = threading.Lock()  # released while a wake-up is pending
        self._signal.acquire()
        self._guard = threading.Lock()
        self._pending = False

    def set(self) -> None:
        with self._guard:
            if not self._pending:
                self._pending = True
                self._signal.release()

    def wait(self, timeout: float = -1) -> bool:
        """Until `set` (True) or ``timeout`` seconds (False); ``-1`` waits for ever."""
        woken = self._signal.acquire(timeout=timeout)
        if woken:
            with self._guard:
                self._pending = False
        return woken
