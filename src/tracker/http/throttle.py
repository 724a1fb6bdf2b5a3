"""`FailureLimit`: failed logins counted per key (a client IP, an account id) in a sliding window.

The redirect API (`/rpi/`) checks its credentials with scrypt, so each guess costs the attacker
little and us tens of milliseconds; without a limit a password can be guessed at the speed of the
server. Past ``limit`` failures in ``window`` seconds, a key gets 429 with `Retry-After` until its
oldest failure leaves the window; a success clears the key. The table is bounded: beyond
``max_keys`` the key seen longest ago is forgotten.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable

WINDOW_SECONDS = 600.0
MAX_KEYS = 100_000


class FailureLimit:
    def __init__(
        self,
        limit: int,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.limit = limit  # 0: no limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._failures: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )

    def retry_after(self, key: str) -> int | None:
        """Seconds until ``key`` may try again, or None when it may now."""
        if not self.limit:
            return None
        times = self._failures.get(key)
        if times is None:
            return None
        now = self.clock()
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) < self.limit:
            return None
        return max(math.ceil(times[0] + self.window - now), 1)

    def failed(self, key: str) -> None:
        if not self.limit:
            return
        times = self._failures.get(key)
        if times is None:
            times = self._failures[key] = collections.deque(maxlen=self.limit)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)
        self._failures.move_to_end(key)
        times.append(self.clock())

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
