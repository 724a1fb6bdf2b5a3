"""Where accepted records wait before the batch writer takes them.

`Spool.append` returns once the records are as safe as the configured mode promises; only then is
the request acknowledged. `MemorySpool` hands them straight to the writer (the Go tracker's
fire-and-forget); the durable, fsync'd log replaces it behind the same method.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tracker.batch.writer import BatchWriter
from tracker.plan.event_rows import Record


class Spool(Protocol):
    async def append(self, records: Sequence[Record]) -> None: ...


class MemorySpool:
    def __init__(self, writer: BatchWriter) -> None:
        self.writer = writer

    async def append(self, records: Sequence[Record]) -> None:
        self.writer.submit(records)
