"""What chDB costs per stored row: the write plan's rows inserted straight through `ChdbSink`.

    python bench/chdb_insert.py [--events 20000] [--batches 1000,10000]     # per table
    python bench/chdb_insert.py --formats [--events 20000] [--batch 5000]   # events: input formats
    python bench/chdb_insert.py --dependents [--events 20000] [--batch 5000]  # events: views, projections

Builds the rows of ``--events`` seed events with the real pipeline (normalise, plan), then inserts
each table's rows into a fresh embedded store in batches of each size, as the writer would
(SummingMergeTree batches pre-aggregated), and prints the process CPU time per row and per
insert. CPU time counts chDB's own threads (parsing, materialized views, projections, merges
started meanwhile), so it is the store's share of an event's cost whatever the HTTP side does.
Run it pinned (``taskset -c 0``) to compare with `run.py`'s one-core numbers.

``events (parse only)`` inserts the same rows into a ``Null``-engine copy of ``events``: chDB
parses them and fills the defaults but writes no part, runs no view and builds no projection. It
is the least any JSONEachRow insert of these rows can cost, whatever the batch size.

``--formats``: the same ``events`` rows, re-encoded by chDB itself into each input format, parsed
into the ``Null`` copy: what chDB's parsing costs per row in each format (the Python side of
producing that format is not in it). ``--dependents``: the ``events`` insert with everything, then
with the projections and the materialized views that read ``events`` dropped one at a time; the
difference between two steps is what the dropped one costs per row.
"""

from __future__ import annotations

import argparse
import collections
import re
import resource
import shutil
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline import body, ingest_service, scope

from tracker.batch.aggregate import pre_aggregate
from tracker.http.hot import SOURCES
from tracker.http.request import from_scope
from tracker.normalise.request import parse_events
from tracker.plan.event_rows import plan_event
from tracker.schema.tables import TABLES
from tracker.sinks.chdb import ChdbSink

PARSE_ONLY = "events_parse_only"
FORMATS = ("JSONEachRow", "TSV", "RowBinary", "Native", "Arrow")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def planned_rows(events: int) -> dict[str, list[bytes]]:
    ingest = ingest_service(agents=True)
    source = SOURCES["tr"]
    by_table: dict[str, list[bytes]] = collections.defaultdict(list)
    for _ in range(events):
        arrival = ingest.arrive(from_scope(scope(100)), source)
        found, _ = ingest.events(arrival, parse_events(body(1), "application/json"))
        for event in found:
            for table, line in plan_event(event):
                by_table[table].append(line)
    return by_table


@contextmanager
def store() -> Iterator[ChdbSink]:
    work = Path(tempfile.mkdtemp(prefix="tracker-chdb-"))
    sink = ChdbSink(work / "clickhouse")
    sink.open()
    try:
        yield sink
    finally:
        sink.close()
        shutil.rmtree(work, ignore_errors=True)


def insert_cost(sink: ChdbSink, table: str, lines: list[bytes], batch: int) -> tuple[float, int]:
    """CPU seconds to insert ``lines`` in batches of ``batch``, and the number of inserts."""
    schema = TABLES["events" if table == PARSE_ONLY else table]
    started, inserts = cpu_seconds(), 0
    for start in range(0, len(lines), batch):
        sink.write(table, pre_aggregate(schema, lines[start : start + batch]))
        inserts += 1
    return cpu_seconds() - started, inserts


def per_table(rows: dict[str, list[bytes]], batches: list[int]) -> None:
    rows[PARSE_ONLY] = rows["events"]
    for batch in batches:
        with store() as sink:
            db = sink.database
            sink.query(f"CREATE TABLE {db}.{PARSE_ONLY} AS {db}.events ENGINE = Null")
            print(f"batches of {batch} rows:")
            for table, lines in rows.items():
                spent, inserts = insert_cost(sink, table, lines, batch)
                print(
                    f"  {table:18} {len(lines):7} rows, {inserts:4} inserts: "
                    f"{spent / len(lines) * 1e6:7.1f} µs CPU per row, "
                    f"{spent / inserts * 1e3:7.1f} ms per insert"
                )


def formats(lines: list[bytes], batch: int) -> None:
    """chDB's parse cost per ``events`` row in each input format (the Null engine stores none)."""
    with store() as sink:
        db = sink.database
        sink.query(f"CREATE TABLE {db}.{PARSE_ONLY} AS {db}.events ENGINE = Null")
        sink.query(f"CREATE TABLE {db}.staged AS {db}.events ENGINE = Memory")
        sink.write("staged", lines)
        count = len(lines)
        structure = ", ".join(
            " ".join(line.decode().split("\t")[:2])
            for line in sink.query(f"DESCRIBE TABLE {db}.staged", "TabSeparated").splitlines()
        )
        print(f"events rows parsed into a Null table, batches of {batch}, {count} rows:")
        for fmt in FORMATS:
            blobs = [
                sink.query(
                    f"SELECT * FROM {db}.staged ORDER BY eid LIMIT {batch} OFFSET {start}", fmt
                )
                for start in range(0, count, batch)
            ]
            paths = []
            for n, blob in enumerate(blobs):  # read from files: a query's text is not binary-safe
                paths.append(sink.path.parent / f"batch-{n}.{fmt}")
                paths[-1].write_bytes(blob)
            started = cpu_seconds()
            for path in paths:
                sink.query(
                    f"INSERT INTO {db}.{PARSE_ONLY} SELECT * FROM file('{path}', {fmt}, "
                    f"'{structure}')"
                )
            spent = cpu_seconds() - started
            size = sum(map(len, blobs)) / count
            print(
                f"  {fmt:12} {spent / count * 1e6:7.2f} µs CPU per row, {size:6.0f} bytes per row"
            )


def dependents(lines: list[bytes], batch: int, repeats: int) -> None:
    """The events insert with everything, then without each projection and view in turn."""
    with store() as sink:
        db = sink.database
        views = [
            line.decode()
            for line in sink.query(
                "SELECT arrayJoin(dependencies_table) FROM system.tables"
                " WHERE database = {db:String} AND name = 'events'",
                "TabSeparated",
                {"db": db},
            ).splitlines()
        ]
        create = sink.query(f"SHOW CREATE TABLE {db}.events", "TabSeparatedRaw").decode()
        projections = re.findall(r"PROJECTION (\w+)", create)
        steps: list[tuple[str, str | None]] = [("everything", None)]
        steps += [(f"- projection {p}", f"ALTER TABLE {db}.events DROP PROJECTION {p}")
                  for p in projections]  # fmt: skip
        steps += [(f"- view {v}", f"DROP TABLE {db}.{v}") for v in views]
        print(f"events inserts of {batch} rows, {len(lines) * repeats} rows per step:")
        insert_cost(sink, "events", lines, batch)  # warm-up: the first inserts cost more
        previous: float | None = None
        for label, change in steps:
            if change is not None:
                sink.query(change)
            sink.query(f"OPTIMIZE TABLE {db}.events FINAL")  # merges of the last step end here
            spent = sum(insert_cost(sink, "events", lines, batch)[0] for _ in range(repeats))
            per_row = spent / (len(lines) * repeats) * 1e6
            saved = "" if previous is None else f"  (this one cost {previous - per_row:5.1f})"
            print(f"  {label:36} {per_row:7.1f} µs CPU per row{saved}")
            previous = per_row


def with_and_without(lines: list[bytes], batch: int, repeats: int) -> None:
    """Interleaved: the events insert into a store with all its projections and views, and into
    one with none of them (medians per row: less noise than the steps above)."""
    with store() as full:
        bare = ChdbSink(full.path, database="bare")  # one chDB per process: a second database
        bare.open()
        db = bare.database
        create = bare.query(f"SHOW CREATE TABLE {db}.events", "TabSeparatedRaw").decode()
        for name in re.findall(r"PROJECTION (\w+)", create):
            bare.query(f"ALTER TABLE {db}.events DROP PROJECTION {name}")
        for line in bare.query(
            "SELECT arrayJoin(dependencies_table) FROM system.tables"
            " WHERE database = {db:String} AND name = 'events'",
            "TabSeparated",
            {"db": db},
        ).splitlines():
            bare.query(f"DROP TABLE {db}.{line.decode()}")
        costs: dict[str, list[float]] = {"with": [], "without": []}
        for n in range(repeats + 1):
            for label, sink in (("with", full), ("without", bare)):
                spent = insert_cost(sink, "events", lines, batch)[0] / len(lines) * 1e6
                if n:  # the first round warms up
                    costs[label].append(spent)
        for label, values in costs.items():
            print(
                f"  {label:7} projections and views: median {statistics.median(values):6.1f} µs"
                f" CPU per row ({', '.join(f'{v:.1f}' for v in values)})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batches", default="1000,10000", help="batch sizes, comma-separated")
    parser.add_argument("--formats", action="store_true", help="events: parse cost per format")
    parser.add_argument("--dependents", action="store_true", help="events: views, projections")
    parser.add_argument("--batch", type=int, default=5000, help="batch size of those two")
    parser.add_argument("--repeats", type=int, default=2, help="inserts of the rows per step")
    args = parser.parse_args()
    rows = planned_rows(args.events)
    if args.formats:
        formats(rows["events"], args.batch)
    if args.dependents:
        dependents(rows["events"], args.batch, args.repeats)
        with_and_without(rows["events"], args.batch, max(args.repeats, 5))
    if not (args.formats or args.dependents):
        per_table(rows, [int(size) for size in args.batches.split(",")])


if __name__ == "__main__":
    main()
