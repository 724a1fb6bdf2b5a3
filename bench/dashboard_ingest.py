"""What the dashboard's copy of events (`dashboard_events_mv`) costs every insert into ``events``.

    python bench/dashboard_ingest.py [--events 20000] [--batch 5000] [--rounds 6]

Builds the ``events`` rows of ``--events`` seed events with the real pipeline (`pipeline.py`'s
request: normalise, plan), then inserts them into one embedded store in batches of ``--batch`` rows (the
writer's batch size for events), alternately with the view attached and detached
(``DETACH TABLE … dashboard_events_mv``), ``--rounds`` times each. It prints the process CPU time
per row and per insert both ways, and the difference: what the view adds to the store's share of
an event. Alternating in one process pairs the two under the same load, so the difference holds
better than two separate runs on a shared machine; the spread over the rounds is printed with it.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import tempfile
from pathlib import Path

from pipeline import body, ingest_service, scope

from tracker.http.hot import SOURCES
from tracker.http.request import from_scope
from tracker.normalise.request import parse_events
from tracker.plan.event_rows import plan_event
from tracker.sinks.chdb import ChdbSink

VIEW = "dashboard_events_mv"


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def events_rows(events: int) -> list[bytes]:
    """The ``events`` rows of ``events`` seed POSTs, each with fresh ids."""
    ingest, source = ingest_service(agents=True), SOURCES["tr"]
    rows = []
    for _ in range(events):
        raw = body(1)
        arrival = ingest.arrive(from_scope(scope(len(raw))), source)
        events, _refused = ingest.events(arrival, parse_events(raw, "application/json"))
        for event in events:
            rows.extend(line for table, line in plan_event(event) if table == "events")
    return rows


def insert_all(sink: ChdbSink, lines: list[bytes], batch: int) -> float:
    """CPU seconds to insert ``lines`` into events in batches of ``batch``."""
    started = cpu_seconds()
    for start in range(0, len(lines), batch):
        sink.write("events", lines[start : start + batch])
    return cpu_seconds() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    lines = events_rows(args.events)
    inserts = -(-len(lines) // args.batch)
    work = Path(tempfile.mkdtemp(prefix="tracker-dashboard-ingest-"))
    sink = ChdbSink(work / "clickhouse")
    sink.open()
    with_view: list[float] = []
    without: list[float] = []
    try:
        insert_all(sink, lines, args.batch)  # warm-up: caches, first parts
        for _ in range(args.rounds):
            with_view.append(insert_all(sink, lines, args.batch))
            sink.query(f"DETACH TABLE {sink.database}.{VIEW}", "TSV")
            without.append(insert_all(sink, lines, args.batch))
            sink.query(f"ATTACH TABLE {sink.database}.{VIEW}", "TSV")
    finally:
        sink.close()
        shutil.rmtree(work, ignore_errors=True)
    rows = len(lines)
    print(f"{rows} events rows per round, {inserts} inserts of up to {args.batch} rows, "
          f"{args.rounds} rounds each way (median, min-max):")  # fmt: skip
    for label, spent in (("with the dashboard view", with_view), ("without it", without)):
        per_row = [s / rows * 1e6 for s in spent]
        print(
            f"  {label:24} {statistics.median(per_row):6.1f} µs CPU per row "
            f"({min(per_row):.1f}-{max(per_row):.1f}), "
            f"{statistics.median(spent) / inserts * 1e3:6.1f} ms per insert"
        )
    diffs = [(a - b) / rows * 1e6 for a, b in zip(with_view, without, strict=True)]
    share = statistics.median(diffs) / (statistics.median(without) / rows * 1e6)
    print(
        f"  the view adds {statistics.median(diffs):.1f} µs CPU per row (median of paired rounds, "
        f"{min(diffs):.1f} to {max(diffs):.1f}): {share:+.0%} of the store's cost of an event"
    )


if __name__ == "__main__":
    main()
