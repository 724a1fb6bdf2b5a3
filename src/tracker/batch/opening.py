"""Opening a writer's store: the schema (``Sink.open``), then ``on_open`` (retention TTLs).

The writer tries once at start-up, then on its own thread with backoff until the store answers,
while the spool takes the traffic. What went wrong decides what happens:

* the store does not answer (`SinkUnreachable`): a warning, and another try later;
* the store answers but refuses the tracker (`SinkMisconfigured`: credentials, grants, an unknown
  cluster; `SinkRejected`: DDL it cannot run; any other `TrackerError`, such as a migration that
  cannot run): at start-up the tracker stops with the message, later it is an error in the log
  and another try (an operator may fix the server without restarting the tracker).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tracker.batch.breaker import backoff
from tracker.errors import SinkMisconfigured, SinkUnreachable, TrackerError
from tracker.sinks.base import Sink

log = logging.getLogger(__name__)


class StoreOpener:
    def __init__(self, sink: Sink, on_open: Callable[[], None], clock: Callable[[], float]) -> None:
        self.sink = sink
        self.on_open = on_open
        self.clock = clock
        self.state = "closed"  # "ok" once open; "unreachable" or "refused" while it cannot be
        self.error = ""
        self.attempts = 0
        self.next_at = 0.0  # no try before this clock time

    @property
    def is_open(self) -> bool:
        return self.state == "ok"

    def try_open(self, starting: bool = False) -> bool:
        """One attempt, when the backoff allows it; True once the store is open. At start-up a
        refusal raises `SinkMisconfigured`; an outage never raises."""
        if self.state == "ok":
            return True
        if self.clock() < self.next_at:
            return False
        try:
            self.sink.open()
            self.on_open()
        except TrackerError as exc:
            refused = not isinstance(exc, SinkUnreachable) or isinstance(exc, SinkMisconfigured)
            self.state, self.error = ("refused" if refused else "unreachable"), str(exc)
            if refused and starting:
                raise SinkMisconfigured(f"the store refuses the tracker: {exc}") from exc
            self.attempts += 1
            delay = backoff(self.attempts, base=0.5)
            self.next_at = self.clock() + delay
            if not starting:
                log.log(
                    logging.ERROR if refused else logging.WARNING,
                    "%s: opening the store failed (attempt %d), next try in %.1f s: %s",
                    self.sink.name,
                    self.attempts,
                    delay,
                    exc,
                )
            return False
        if self.attempts:
            log.info("%s: the store answers again; writing the spooled events", self.sink.name)
        self.state, self.error, self.attempts = "ok", "", 0
        return True

    def wait_seconds(self) -> float:
        """How long the writer may sleep before the next try (bounded, to notice a stop)."""
        return min(max(self.next_at - self.clock(), 0.01), 0.5)
