"""A circuit breaker per sink and capped exponential backoff with jitter.

closed ──(threshold consecutive failures)──▶ open ──(reset_seconds)──▶ half-open
   ▲                                                                      │
   └──────────────────────(the trial write succeeds)──────────────────────┘
                           (the trial fails: open again)

While open, the writer does not call the sink at all; rows wait in the spool.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from enum import StrEnum


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self, clock: Callable[[], float], threshold: int = 5, reset_seconds: float = 30.0
    ) -> None:
        self.clock = clock
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self.failures = 0
        self.opened_at = 0.0
        self._state = State.CLOSED
        self.trips = 0

    @property
    def state(self) -> State:
        if self._state is State.OPEN and self.clock() - self.opened_at >= self.reset_seconds:
            self._state = State.HALF_OPEN
        return self._state

    def allows(self) -> bool:
        return self.state is not State.OPEN

    def retry_in(self) -> float:
        """Seconds until a write may be tried again (0 when it may be tried now)."""
        if self.state is State.OPEN:
            return max(self.opened_at + self.reset_seconds - self.clock(), 0.0)
        return 0.0

    def success(self) -> None:
        self.failures = 0
        self._state = State.CLOSED

    def failure(self) -> None:
        self.failures += 1
        if self._state is State.HALF_OPEN or self.failures >= self.threshold:
            if self._state is not State.OPEN:
                self.trips += 1
            self._state = State.OPEN
            self.opened_at = self.clock()


def backoff(attempt: int, base: float = 0.1, cap: float = 30.0, floor: float = 0.0) -> float:
    """Delay before retry number ``attempt`` (1-based): full-jitter exponential, capped.

    ``floor`` is a server's Retry-After: never retry sooner than it asks.
    """
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return max(floor, random.uniform(ceiling / 2, ceiling))
