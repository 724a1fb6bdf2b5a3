"""The writer reads the spool once per rest, not once per request: a wake-up per fsync group
cost it a loop round and the event loop's core a thread switch on every single-event POST."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import Storage
from tests.integration.test_sink_writer import EVENTS_BY_SIZE, Harness, count, event_records

from tracker.batch.writer import READ_REST_SECONDS
from tracker.sinks.base import Sink


@pytest.fixture
def chdb(tmp_path: Path, store: Storage) -> Iterator[Sink]:
    sink = store.sink(tmp_path)
    yield sink
    sink.close()


def test_entries_of_requests_close_together_are_read_together(tmp_path: Path, chdb: Sink) -> None:
    harness = Harness(tmp_path, chdb, EVENTS_BY_SIZE)
    reads = 0
    real_read = harness.spool.read

    def counted_read(offset: int, max_bytes: int) -> list:  # type: ignore[type-arg]
        nonlocal reads
        entries = real_read(offset, max_bytes)
        reads += bool(entries)
        return entries

    harness.spool.read = counted_read  # type: ignore[method-assign]
    harness.writer.start()
    records = event_records(200)

    async def one_request_at_a_time() -> float:
        started = time.monotonic()
        for record in records:  # each awaits its own fsync, as a request does
            await harness.spool.append([record])
        return time.monotonic() - started

    elapsed = asyncio.run(one_request_at_a_time())
    assert harness.close(timeout=30), "the writer did not catch up"
    assert count(chdb) == 200
    # One read per rest (and a few more at the start and the end), not one per fsync group.
    most = elapsed / READ_REST_SECONDS + 5
    assert reads <= most, f"{reads} reads of the spool for 200 appends in {elapsed:.2f} s"
