"""The sink writer against real chDB: dedup on replay, bad-row isolation, failing sinks, strategies."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import orjson
import pytest
from tests.conftest import Storage, wait_until

from tracker.batch.breaker import CircuitBreaker
from tracker.batch.cursor import CursorJournal
from tracker.batch.deadletter import DeadLetters
from tracker.batch.policy import Policy, Strategy
from tracker.batch.writer import SinkWriter
from tracker.errors import SinkMisconfigured, SinkUnreachable
from tracker.metrics import Metrics
from tracker.plan.rows import record
from tracker.sinks.base import Sink
from tracker.sinks.faults import FaultInjectingSink
from tracker.spool import LogSpool, Record
from tracker.spool.segmented import SegmentedLog

EVENTS_BY_SIZE = {"events": Policy(Strategy.SIZE, max_rows=1000, max_seconds=3600)}


@pytest.fixture
def chdb(tmp_path: Path, store: Storage) -> Iterator[Sink]:
    """The store's sink: embedded chDB, or (marked `both_stores`) a ClickHouse server too."""
    sink = store.sink(tmp_path)
    yield sink
    sink.close()


def event_records(count: int, marker: str = "") -> list[Record]:
    return [
        record("events", {"eid": str(uuid.uuid4()), "ename": marker if i == 7 else "e"})
        for i in range(count)
    ]


class Harness:
    def __init__(
        self,
        tmp_path: Path,
        sink: object,
        policies: dict[str, Policy],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tmp_path = tmp_path
        self.spool = LogSpool(
            SegmentedLog(tmp_path / "spool"), max_bytes=1 << 30, durable=True, epoch="test"
        )
        self.metrics = Metrics()
        self.writer = SinkWriter(
            sink,  # type: ignore[arg-type]
            self.spool,
            CursorJournal(tmp_path / "spool" / "cursor.json"),
            policies,
            self.metrics,
            DeadLetters(tmp_path / "dead", "clickhouse"),
            clock=clock,
            breaker=CircuitBreaker(time.monotonic, threshold=2, reset_seconds=0.2),
            on_progress=lambda: self.spool.release(self.writer.safe),
        )

    def append(self, records: Sequence[Record], per_entry: int = 100) -> None:
        async def go() -> None:
            for i in range(0, len(records), per_entry):
                await self.spool.append(records[i : i + per_entry])

        asyncio.run(go())

    def close(self, timeout: float = 10) -> bool:
        landed = self.writer.stop(timeout)
        self.spool.close()
        return landed


def count(sink: Sink, sql: str = "SELECT count() AS n FROM events") -> int:
    return int(orjson.loads(sink.query(sql, "JSONEachRow"))["n"])


class LostAcknowledgement:
    """The insert lands, then the connection dies before the answer (a retry must not duplicate)."""

    def __init__(self, inner: Sink) -> None:
        self.inner = inner
        self.name = inner.name
        self.tokens: list[str | None] = []

    def write(self, table: str, lines: Sequence[bytes], token: str | None = None) -> None:
        self.inner.write(table, lines, token)
        self.tokens.append(token)
        if len(self.tokens) == 1:
            raise SinkUnreachable("connection reset after the insert")

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


@pytest.mark.both_stores
def test_a_batch_retried_after_a_lost_acknowledgement_is_stored_once(
    tmp_path: Path, chdb: Sink
) -> None:
    sink = LostAcknowledgement(chdb)
    harness = Harness(tmp_path, sink, EVENTS_BY_SIZE)
    harness.writer.start()
    harness.append(event_records(1000))
    wait_until("the write and its retry", lambda: list(sink.tokens), lambda t: len(t) == 2)
    assert harness.close()
    assert sink.tokens[0] == sink.tokens[1]  # the retry sent the same range with the same token
    assert count(chdb) == 1000


def test_the_same_spool_range_replayed_after_a_crash_is_stored_once(
    tmp_path: Path, chdb: Sink
) -> None:
    sink = LostAcknowledgement(chdb)
    sink.tokens.append("warm")  # no injected failure this time
    harness = Harness(tmp_path, sink, EVENTS_BY_SIZE)
    harness.writer.start()
    harness.append(event_records(1000))
    assert harness.close()
    token = sink.tokens[-1]
    assert token is not None
    _, table, start, end = token.rsplit("-", 3)
    # The process died after the insert and before the journal recorded it: the intent remains.
    journal = tmp_path / "spool" / "cursor.json"
    journal.write_bytes(
        orjson.dumps(
            {"safe": int(start), "committed": {}, "inflight": {table: [[int(start), int(end)]]}}
        )
    )
    again = Harness(tmp_path, sink, EVENTS_BY_SIZE)
    again.writer.start()
    assert again.close()
    assert sink.tokens[-1] == token
    assert count(chdb) == 1000


def test_one_bad_row_in_a_batch_of_a_thousand_goes_to_the_dead_letter_file(
    tmp_path: Path, chdb: Sink
) -> None:
    control = tmp_path / "faults.json"
    control.write_text('{"reject_containing": "poison-row"}')
    harness = Harness(tmp_path, FaultInjectingSink(chdb, control), EVENTS_BY_SIZE)
    harness.writer.start()
    harness.append(event_records(1000, marker="poison-row"))
    assert harness.close()
    assert count(chdb) == 999
    assert count(chdb, "SELECT count() AS n FROM events WHERE ename = 'poison-row'") == 0
    dead = [
        orjson.loads(line)
        for line in (tmp_path / "dead" / "clickhouse.jsonl").read_bytes().splitlines()
    ]
    assert len(dead) == 1
    assert dead[0]["table"] == "events"
    assert "poison-row" in dead[0]["row"]
    assert "refused" in dead[0]["reason"]
    assert harness.metrics.dropped["sink_rejected"] == 1


def test_a_failing_sink_opens_the_circuit_and_everything_lands_after_recovery(
    tmp_path: Path, chdb: Sink
) -> None:
    control = tmp_path / "faults.json"
    control.write_text('{"unreachable": true}')
    policies = {"events": Policy(Strategy.IMMEDIATE, max_rows=1, max_seconds=0)}
    harness = Harness(tmp_path, FaultInjectingSink(chdb, control), policies)
    harness.writer.start()
    harness.append(event_records(300), per_entry=10)
    wait_until("the circuit trips", lambda: harness.writer.breaker.trips, lambda n: n > 0)
    assert harness.metrics.sinks["clickhouse"]["circuit"] in ("open", "half_open")
    assert count(chdb) == 0
    control.unlink()
    wait_until("all 300 rows are stored", lambda: count(chdb), lambda n: n == 300)
    assert harness.close()
    assert count(chdb) == 300


def test_a_size_batch_waits_for_its_size_however_old_it_grows(tmp_path: Path, chdb: Sink) -> None:
    skipped = 0.0  # seconds the writer's clock is ahead of the real one

    def clock() -> float:
        return time.monotonic() + skipped

    policies = {
        "events": Policy(Strategy.SIZE, max_rows=500, max_seconds=0),
        "counters": Policy(Strategy.IMMEDIATE, max_rows=1, max_seconds=0),
    }
    harness = Harness(tmp_path, chdb, policies, clock=clock)
    harness.writer.start()
    harness.append(event_records(300))
    # The writer reads the spool in order and decides on every table each time round: once a
    # counter row spooled after the events is written, the writer has read them and kept them.
    marker = [record("counters", {"id": "marker", "total": 1, "date": "2026-11-27"})]
    markers = "SELECT sum(total) AS n FROM counters"
    harness.append(marker)
    wait_until("the first marker is written", lambda: count(chdb, markers), lambda n: n == 1)
    skipped = 86400.0  # the buffered events are a day old now
    harness.append(marker)
    wait_until("the second marker is written", lambda: count(chdb, markers), lambda n: n == 2)
    assert count(chdb) == 0  # under its size: nothing written, whatever the time
    harness.append(event_records(200))
    wait_until("the 500 rows are written", lambda: count(chdb), lambda n: n == 500)
    assert harness.close()


def test_shutdown_writes_what_no_rule_has_flushed_yet(tmp_path: Path, chdb: Sink) -> None:
    harness = Harness(
        tmp_path, chdb, {"events": Policy(Strategy.TIME, max_rows=10, max_seconds=3600)}
    )
    harness.writer.start()
    harness.append(event_records(1))  # the first row after a quiet spell is written at once...
    wait_until("the first row is written", lambda: count(chdb), lambda n: n == 1)
    harness.append(event_records(42))  # ...the next ones wait an hour after that flush
    assert harness.close()
    assert count(chdb) == 43


def test_a_quiet_table_writes_its_first_row_at_once_and_then_batches_by_age(
    tmp_path: Path, chdb: Sink
) -> None:
    skipped = 0.0  # seconds the writer's clock is ahead of the real one

    def clock() -> float:
        return time.monotonic() + skipped

    policies = {
        "events": Policy(Strategy.TIME, max_rows=10, max_seconds=3600),
        "counters": Policy(Strategy.IMMEDIATE, max_rows=1, max_seconds=0),
    }
    harness = Harness(tmp_path, chdb, policies, clock=clock)
    harness.writer.start()
    harness.append(event_records(1))
    # The Go batch manager's rule: a batch's age counts from the table's last flush, so a row
    # arriving after a quiet spell (here: since the start) does not wait a whole hour.
    wait_until("the first row is written", lambda: count(chdb), lambda n: n == 1, timeout=10)
    harness.append(event_records(5))
    marker = [record("counters", {"id": "marker", "total": 1, "date": "2026-11-27"})]
    harness.append(marker)  # spooled after the events: once it is written, they have been read
    markers = "SELECT sum(total) AS n FROM counters"
    wait_until("the marker is written", lambda: count(chdb, markers), lambda n: n == 1)
    assert count(chdb) == 1  # a busy table still batches: an hour after the last flush
    skipped = 3600.0
    wait_until("the batch is written once it is an hour old", lambda: count(chdb), lambda n: n == 6)
    assert harness.close()


def test_counter_rows_land_pre_aggregated(tmp_path: Path, chdb: Sink) -> None:
    harness = Harness(
        tmp_path, chdb, {"dailies": Policy(Strategy.SIZE, max_rows=100, max_seconds=0)}
    )
    harness.writer.start()
    harness.append(
        [record("dailies", {"ip": "10.0.0.1", "day": "2026-11-27", "total": 1}) for _ in range(100)]
    )
    assert harness.close()
    rows = orjson.loads(
        chdb.query("SELECT count() AS rows, sum(total) AS total FROM dailies", "JSONEachRow")
    )
    assert rows == {"rows": 1, "total": "100"} or rows == {"rows": 1, "total": 100}


def test_two_identical_counter_batches_written_apart_are_both_counted(
    tmp_path: Path, chdb: Sink
) -> None:
    # Without a token, ClickHouse would take the second block for a duplicate of the first.
    harness = Harness(
        tmp_path, chdb, {"counters": Policy(Strategy.IMMEDIATE, max_rows=1, max_seconds=0)}
    )
    harness.writer.start()
    row = record("counters", {"id": "vids_created", "total": 1, "date": "2026-11-27"})
    harness.append([row])
    counters = "SELECT count() AS n FROM counters"
    wait_until("the first batch is written", lambda: count(chdb, counters), lambda n: n == 1)
    harness.append([row])
    assert harness.close()
    assert count(chdb, "SELECT sum(total) AS n FROM counters") == 2


class OpensLate:
    """A store that does not answer for its first ``failures`` opens (then it does)."""

    def __init__(self, inner: Sink, failures: int, error: type[SinkUnreachable]) -> None:
        self.inner = inner
        self.name = inner.name
        self.failures = failures
        self.error = error
        self.opens = 0

    def open(self) -> None:
        self.opens += 1
        if self.opens <= self.failures:
            raise self.error("the store does not answer")
        self.inner.open()

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def test_a_store_that_opens_late_gets_everything_spooled_meanwhile(
    tmp_path: Path, chdb: Sink
) -> None:
    sink = OpensLate(chdb, failures=3, error=SinkUnreachable)
    harness = Harness(
        tmp_path, sink, {"events": Policy(Strategy.IMMEDIATE, max_rows=1, max_seconds=0)}
    )
    harness.writer.start()  # does not raise: the thread keeps trying
    assert harness.writer.opener.state == "unreachable"
    harness.append(event_records(50), per_entry=10)
    wait_until("all 50 rows are stored", lambda: count(chdb), lambda n: n == 50)
    assert harness.writer.opener.state == "ok"
    assert sink.opens == 4
    assert harness.close()


def test_a_store_that_refuses_the_tracker_stops_the_start(tmp_path: Path, chdb: Sink) -> None:
    sink = OpensLate(chdb, failures=1, error=SinkMisconfigured)
    harness = Harness(tmp_path, sink, EVENTS_BY_SIZE)
    with pytest.raises(SinkMisconfigured, match="the store refuses the tracker"):
        harness.writer.start()
    harness.spool.close()
