"""What the per-route latency histogram costs each request, in process.

    python bench/request_metrics.py                    # CPU µs per request (noisy on a shared box)
    python bench/request_metrics.py --instructions 20000   # under valgrind: instructions per request

Runs exactly what `TrackerApp.__call__` adds to every HTTP request for `/metrics`: two
`perf_counter()` calls, the route's histogram child from a dict, and prometheus_client's
`observe`. Compare with `python bench/pipeline.py --instructions 1000`, the instructions of the
tracking path itself (which leaves out uvicorn and the spool's write, so the share printed there
is an upper bound).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from time import perf_counter
from typing import Any

from tracker.metrics import Metrics

ROUTE = "/tr/v1/tr/"


def request_cost(metrics: Metrics, children: dict[str, Any]) -> None:
    started = perf_counter()
    child = children.get(ROUTE)
    if child is None:
        child = children[ROUTE] = metrics.request_seconds.labels(ROUTE)
    child.observe(perf_counter() - started)


def loop(n: int) -> None:
    metrics, children = Metrics(), {}
    for _ in range(n):
        request_cost(metrics, children)


def instructions(loops: int) -> int:
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
    argv += [__file__, "--loop", str(loops)]
    result = subprocess.run(argv, capture_output=True, text=True, check=True)
    match = re.search(r"Collected : (\d+)", result.stderr)
    if match is None:
        raise RuntimeError(f"valgrind printed no count: {result.stderr[-500:]}")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instructions", type=int, metavar="N", help="count under valgrind")
    parser.add_argument("--loop", type=int, help=argparse.SUPPRESS)  # run N times, print nothing
    args = parser.parse_args()
    if args.loop is not None:
        loop(args.loop)
        return
    if args.instructions:
        n = args.instructions
        per = (instructions(n) - instructions(0)) / n
        print(f"{per:,.0f} instructions per request for the latency histogram")
        return
    metrics, children = Metrics(), {}
    best = float("inf")
    for _ in range(3):
        started, calls = time.process_time(), 200_000
        for _ in range(calls):
            request_cost(metrics, children)
        best = min(best, (time.process_time() - started) / calls * 1e6)
    print(f"{best:.3f} µs of CPU per request for the latency histogram")


if __name__ == "__main__":
    main()
