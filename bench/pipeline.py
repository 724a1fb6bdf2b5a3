"""Microseconds per stage of the tracking hot path, in process, without HTTP or I/O.

    python bench/pipeline.py [--events 1] [--seconds 2] [--agents/--no-agents]
    python bench/pipeline.py --instructions 1000   # under valgrind: instructions per request

Runs the stages a `/tr/` POST runs (`tracker.http.hot` and `Ingest.track`) for the seed's JSON event, on a scope shaped
like uvicorn's, and prints the mean cost of each (best of three timed loops): reading the scope,
the value map, the request's origin (client IP, host, JA4H), JSON parsing, `normalise`, the write
plan (`plan_event`: coercion and one orjson line per row) and the spool's framing. The spool's
write and fsync, the response and uvicorn itself are not in it; `bench/run.py` measures those.

Timings on a shared machine are noisy. ``--instructions N`` counts machine instructions instead
(valgrind's callgrind, deterministic to a fraction of a percent): the whole pipeline is run N times
and 0 times under valgrind, and the difference over N is printed, so before/after numbers of a
change can be compared on a busy machine (``PYTHONPATH=<other checkout>/src`` measures another tree).
"""

from __future__ import annotations

import argparse
import itertools
import re
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from tracker.http.hot import SOURCES
from tracker.http.request import from_scope
from tracker.metrics import Metrics
from tracker.normalise.agent import AgentParser
from tracker.normalise.client import TrustedProxies
from tracker.normalise.event import NormaliseContext
from tracker.normalise.request import parse_events
from tracker.normalise.urls import UrlFilter
from tracker.plan.event_rows import plan_event
from tracker.runtime import Ingest
from tracker.spool import encode
from tracker.spool.frame import frame

USER_AGENT = (
    b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    b"(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
EVENT = (
    '{"vid":"%s","sid":"%s","ename":"page_view","etyp":"view",'
    '"url":"https://example.com/page","tz":"America/Los_Angeles","device":"Desktop","os":"macOS"}'
)
COUNTER = itertools.count(1)


def fresh_uuid() -> str:
    n = next(COUNTER)
    return f"0badf00d-0000-4{n % 0x1000:03x}-8{n // 0x1000 % 0x1000:03x}-{n:012x}"


def body(events: int) -> bytes:
    items = [EVENT % (fresh_uuid(), fresh_uuid()) for _ in range(events)]
    return (items[0] if events == 1 else "[" + ",".join(items) + "]").encode()


def scope(length: int) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": "/tr/v1/tr/",
        "query_string": b"",
        "http_version": "1.1",
        "scheme": "http",
        "client": ("127.0.0.1", 50000),
        "headers": [
            (b"host", b"127.0.0.1:8080"),
            (b"content-type", b"application/json"),
            (b"user-agent", USER_AGENT),
            (b"accept-language", b"en-US,en;q=0.9"),
            (b"content-length", str(length).encode()),
        ],
    }


def ingest_service(agents: bool) -> Ingest:
    ctx = NormaliseContext(
        url_filter=UrlFilter(None, 0),
        ip_secret=b"bench-secret",
        agents=AgentParser() if agents else None,
    )
    no_spool: Any = None  # the stages below stop before the spool's append
    return Ingest(ctx, TrustedProxies(()), no_spool, Metrics())


def timed(fn: Callable[[], object], seconds: float) -> float:
    """Mean CPU µs per call (CPU time, so other processes on the core count less): the best of
    three loops of about ``seconds / 3`` each."""
    best = float("inf")
    for _ in range(3):
        calls, started = 0, time.process_time()
        deadline = started + seconds / 3
        while time.process_time() < deadline:
            for _ in range(50):
                fn()
            calls += 50
        best = min(best, (time.process_time() - started) / calls * 1e6)
    return best


def instructions(loops: int, events: int, agents: bool) -> int:
    """Instructions valgrind counts for a process running the whole pipeline ``loops`` times."""
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
    argv += [__file__, "--loop", str(loops), "--events", str(events)]
    argv += ["--agents" if agents else "--no-agents"]
    result = subprocess.run(argv, capture_output=True, text=True, check=True)
    match = re.search(r"Collected : (\d+)", result.stderr)
    if match is None:
        raise RuntimeError(f"valgrind printed no count: {result.stderr[-500:]}")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1, help="events per request body")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per stage")
    parser.add_argument("--agents", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--instructions", type=int, metavar="N", help="count under valgrind")
    parser.add_argument("--loop", type=int, help=argparse.SUPPRESS)  # run N times, print nothing
    args = parser.parse_args()
    if args.instructions:
        n = args.instructions
        base = instructions(0, args.events, args.agents)
        per = (instructions(n, args.events, args.agents) - base) / n
        print(
            f"{per:,.0f} instructions per request of {args.events} event(s), agents={args.agents}"
        )
        return
    ingest = ingest_service(args.agents)
    source = SOURCES["tr"]
    raw = body(args.events)
    req = from_scope(scope(len(raw)))
    bodies = parse_events(raw, "application/json")
    arrival = ingest.arrive(req, source)
    events, _ = ingest.events(arrival, bodies)
    records = [r for e in events for r in plan_event(e)]

    def fresh_bodies() -> list[dict[str, Any]] | None:
        return parse_events(body(args.events), "application/json")

    def whole() -> None:
        r = from_scope(scope(len(raw)))
        fresh = parse_events(body(args.events), "application/json")
        evs, _ = ingest.events(ingest.arrive(r, source), fresh)
        frame(encode([rec for e in evs for rec in plan_event(e)]))

    if args.loop is not None:
        for _ in range(20 + args.loop):  # 20 warm-up rounds, also in the `--loop 0` run
            whole()
        return

    stages: list[tuple[str, Callable[[], object]]] = [
        ("from_scope", lambda: from_scope(scope(len(raw)))),
        ("arrive (origin: ip, host, ja4h; value map)", lambda: ingest.arrive(req, source)),
        ("origin (ip, host, ja4h)", lambda: ingest.origin(req, source)),
        ("body + parse_events (fresh ids)", fresh_bodies),
        ("events (values + normalise)", lambda: ingest.events(arrival, fresh_bodies())),
        ("plan_event (all rows)", lambda: [plan_event(e) for e in events]),
        ("spool encode + frame", lambda: frame(encode(records))),
        ("whole pipeline", whole),
    ]
    print(f"{args.events} event(s) per request, {len(records)} rows, agents={args.agents}")
    for name, fn in stages:
        print(f"  {timed(fn, args.seconds):8.1f} µs  {name}")


if __name__ == "__main__":
    main()
