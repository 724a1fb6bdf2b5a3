"""The one way into a storage system: the `Sink` protocol (like httpx's transport).

Only modules in ``tracker.sinks`` import a database driver. A sink is owned by one thread (the
batch writer's); ``query`` may be called from other threads and must be safe for that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol


class Sink(Protocol):
    name: str

    def open(self) -> None:
        """Connect, create the schema if needed, and check the store; raise SinkError if down."""

    def healthcheck(self) -> bool:
        """A cheap probe; True when the store answers."""

    def write(self, table: str, lines: Sequence[bytes], token: str | None = None) -> None:
        """Insert JSONEachRow lines into ``table``; ``token`` deduplicates a replayed batch.

        Raises SinkRejected for bad data (never retried) and SinkUnreachable otherwise.
        """

    def query(
        self, sql: str, fmt: str = "JSONEachRow", params: Mapping[str, object] | None = None
    ) -> bytes:
        """Run a query and return its output in ClickHouse format ``fmt``.

        ``params`` fill ClickHouse query parameters (``{name:Type}`` in ``sql``); never format
        request values into SQL text.
        """

    def close(self) -> None:
        """Release the store; idempotent."""
