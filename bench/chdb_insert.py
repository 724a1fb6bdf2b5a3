"""What chDB costs per stored row: the write plan's rows inserted straight through `ChdbSink`.

    python bench/chdb_insert.py [--events 20000] [--batches 1000,10000]

Builds the rows of ``--events`` seed events with the real pipeline (normalise, plan), then inserts
each table's rows into a fresh embedded store in batches of each size, as the writer would
(SummingMergeTree batches pre-aggregated), and prints the process CPU time per row and per
insert. CPU time counts chDB's own threads (parsing, materialized views, projections, merges
started meanwhile), so it is the store's share of an event's cost whatever the HTTP side does.
Run it pinned (``taskset -c 0``) to compare with `run.py`'s one-core numbers.

``events (parse only)`` inserts the same rows into a ``Null``-engine copy of ``events``: chDB
parses them and fills the defaults but writes no part, runs no view and builds no projection. It
is the least any JSONEachRow insert of these rows can cost, whatever the batch size.
"""

from __future__ import annotations

import argparse
import collections
import resource
import shutil
import tempfile
from pathlib import Path

from pipeline import body, endpoint, scope

from tracker.batch.aggregate import pre_aggregate
from tracker.http.hot import ROUTES
from tracker.http.request import from_scope, parse_events
from tracker.plan.event_rows import plan_event
from tracker.schema.tables import TABLES
from tracker.sinks.chdb import ChdbSink


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


PARSE_ONLY = "events_parse_only"


def planned_rows(events: int) -> dict[str, list[bytes]]:
    tracking = endpoint(agents=True)
    req = from_scope(scope(100))
    by_table: dict[str, list[bytes]] = collections.defaultdict(list)
    for _ in range(events):
        for event in tracking.events(req, ROUTES["tr"], parse_events(body(1), "")):
            for table, line in plan_event(event):
                by_table[table].append(line)
    return by_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batches", default="1000,10000", help="batch sizes, comma-separated")
    args = parser.parse_args()
    rows = planned_rows(args.events)
    rows[PARSE_ONLY] = rows["events"]
    for batch in (int(size) for size in args.batches.split(",")):
        work = Path(tempfile.mkdtemp(prefix="tracker-chdb-"))
        sink = ChdbSink(work / "clickhouse")
        sink.open()
        sink.query(
            f"CREATE TABLE {sink.database}.{PARSE_ONLY} AS {sink.database}.events ENGINE = Null"
        )
        try:
            print(f"batches of {batch} rows:")
            for table, lines in rows.items():
                schema = TABLES["events" if table == PARSE_ONLY else table]
                started, inserts = cpu_seconds(), 0
                for start in range(0, len(lines), batch):
                    sink.write(table, pre_aggregate(schema, lines[start : start + batch]))
                    inserts += 1
                spent = cpu_seconds() - started
                print(
                    f"  {table:18} {len(lines):7} rows, {inserts:4} inserts: "
                    f"{spent / len(lines) * 1e6:7.1f} µs CPU per row, "
                    f"{spent / inserts * 1e3:7.1f} ms per insert"
                )
        finally:
            sink.close()
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
