"""A writer thread that hits an unexpected error carries on: logged, counted, retried with backoff.

The errors are the ones seen in production: no space left for the cursor journal, no file
descriptor left for a spool read. Only the OS boundary is faked (`tests/unit/test_spool_failure`'s
`FaultyOs` as `tracker.batch.cursor` sees ``os``, or a failing ``open`` in
`tracker.spool.segmented`); the writer, the spool and chDB are real.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import wait_until
from tests.integration.test_sink_writer import EVENTS_BY_SIZE, Harness, count, event_records
from tests.unit.test_spool_failure import FaultyOs

import tracker.batch.cursor as cursor_module
import tracker.spool.segmented as spool_log
from tracker.batch.policy import Policy, Strategy
from tracker.sinks.chdb import ChdbSink

IMMEDIATE = {"events": Policy(Strategy.IMMEDIATE, max_rows=1, max_seconds=0)}
WRITER = "writer-clickhouse"


@pytest.fixture
def chdb(tmp_path: Path) -> Iterator[ChdbSink]:
    sink = ChdbSink(tmp_path / "clickhouse")
    sink.open()
    yield sink
    sink.close()


@pytest.fixture
def journal_disk(monkeypatch: pytest.MonkeyPatch) -> FaultyOs:
    faulty = FaultyOs()
    monkeypatch.setattr(cursor_module, "os", faulty)
    return faulty


def test_a_writer_whose_journal_gets_no_space_carries_on_once_there_is_space(
    tmp_path: Path, chdb: ChdbSink, journal_disk: FaultyOs
) -> None:
    harness = Harness(tmp_path, chdb, IMMEDIATE)
    harness.writer.start()
    journal_disk.arm("write", errno.ENOSPC)
    harness.append(event_records(300), per_entry=10)
    # It tries again and again (a dead thread would have tried once), and says it is stuck.
    wait_until("the writer tries the journal again", lambda: journal_disk.calls, lambda n: n >= 3)
    failing = wait_until("the writer reports it is failing", lambda: harness.writer.failing)
    assert "No space left on device" in failing
    assert harness.writer._thread.is_alive()
    journal_disk.disarm()
    wait_until("all 300 rows are stored", lambda: count(chdb), lambda n: n == 300)
    wait_until("the writer is healthy again", lambda: harness.writer.failing, lambda f: f is None)
    assert harness.metrics.thread_restarts[WRITER] >= 2
    assert harness.metrics.as_json()["threads"][WRITER]["restarts"] >= 2
    assert harness.close()
    assert count(chdb) == 300


class FailingOpen:
    """``open`` as the spool log sees it: EMFILE while armed (no descriptor left)."""

    def __init__(self) -> None:
        self.armed = True
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.armed:
            self.calls += 1
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
        return open(*args, **kwargs)


def test_a_writer_that_cannot_open_the_spool_carries_on_once_it_can(
    tmp_path: Path, chdb: ChdbSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness = Harness(tmp_path, chdb, EVENTS_BY_SIZE)
    failing_open = FailingOpen()
    monkeypatch.setattr(spool_log, "open", failing_open, raising=False)
    harness.writer.start()
    harness.append(event_records(1000))
    wait_until("the writer tries to read again", lambda: failing_open.calls, lambda n: n >= 3)
    assert "Too many open files" in (harness.writer.failing or "")
    failing_open.armed = False
    wait_until("all 1000 rows are stored", lambda: count(chdb), lambda n: n == 1000)
    assert harness.close()


class ArmsAfterWrite:
    """The sink: each write lands, then the journal's disk fills before it can be committed."""

    def __init__(self, inner: ChdbSink, disk: FaultyOs) -> None:
        self.inner = inner
        self.disk = disk
        self.name = inner.name
        self.tokens: list[str | None] = []

    def write(self, table: str, lines: Sequence[bytes], token: str | None = None) -> None:
        self.inner.write(table, lines, token)
        self.tokens.append(token)
        if len(self.tokens) == 1:
            self.disk.arm("write", errno.ENOSPC)

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_a_batch_stored_before_the_error_is_not_stored_again_and_its_commit_is_recorded(
    tmp_path: Path, chdb: ChdbSink, journal_disk: FaultyOs
) -> None:
    sink = ArmsAfterWrite(chdb, journal_disk)
    harness = Harness(tmp_path, sink, EVENTS_BY_SIZE)
    harness.writer.start()
    harness.append(event_records(1000))
    wait_until("the commit fails", lambda: journal_disk.calls, lambda n: n >= 1)
    journal = tmp_path / "spool" / "cursor.json"
    journal_disk.disarm()
    wait_until(
        "the commit is recorded once the disk has space",
        lambda: journal.read_bytes() if journal.exists() else b"",
        lambda data: b'"committed":{"events"' in data,
    )
    assert harness.close()
    assert len(sink.tokens) == 1  # the writer knew the batch had landed: not sent again
    assert count(chdb) == 1000
