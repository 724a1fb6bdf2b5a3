"""Ingestion benchmark: the tracker against the floor, side by side, written to bench/results/.

    python bench/run.py [--seconds 10] [--runs 3] [--connections 64] [--modes durable,memory]

Each run measures the floor (a bare ASGI app on the same uvicorn stack, `floor_app.py`) and then,
for each ``SpoolMode``, each scenario on a fresh tracker with its own data directory:

* ``get``: the URL-path GET event; ``post``: the seed's JSON POST event; ``batch``: a JSON-array
  POST of ``--batch-size`` events (wrk with the Lua scripts in ``wrk/``);
* ``ws``: LZ4 binary WebSocket frames (``ws_client.py``).

``--workers 1,2`` runs each of them for each `Workers` count: N = 1 is the single process on one
core (the target is named by the mode alone), N > 1 (target ``durable w2``) the supervisor, the
store owner and N HTTP workers on every core, the load generator sharing one of them; CPU is
then that of the whole process tree, so CPU per event compares across N.

The server runs on one core and the load generator on the other (``taskset``). A short warm-up
precedes the measured window; after a graceful stop (SIGTERM) the rows in ``events`` are counted
with ``tracker query`` and must equal the 200s received (warm-up included) times events per request.
The report takes the median over runs; the floor ratio is computed per run, then its median.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from procs import (
    BENCH,
    Server,
    count_rows,
    floor_server,
    missing_tools,
    peak_rss_mb,
    run_wrk,
    run_ws,
    tracker_server,
    tree_cpu_seconds,
)
from report import Outcome, machine, write_report
from threads import ThreadSampler, Window

SCRIPTS = {"get": "get_event.lua", "post": "post_event.lua", "batch": "batch_events.lua"}
SCENARIOS = ("get", "post", "batch", "ws")
WARM_UP_SECONDS = 1.0
# Idle keep-alive connections stay open 60 s (uvicorn's default is 5 s): wrk's connections idle
# through the grace period after the window, and closing them would show as socket errors.
BASE_CONFIG = {"ApiVersion": 1, "IdleTimeoutSeconds": 60}


def load(server: Server, scenario: str, seconds: float, args: argparse.Namespace) -> dict[str, Any]:
    per = args.batch_size if scenario == "batch" else 1
    if scenario == "ws":
        counts = run_ws(
            server.url,
            seconds=seconds,
            per_frame=1,
            connections=args.connections,
            core=args.client_core,
        )
        return {"sent": counts["sent"], "ok": counts["sent"], "non200": 0, "per_request": 1,
                "window_s": counts["window_s"]}  # fmt: skip
    return run_wrk(
        server.url,
        SCRIPTS[scenario],
        seconds=seconds,
        per_request=per,
        connections=args.connections,
        core=args.client_core,
        grace=5.0 if per == 1 else 15.0,  # a batch is answered seconds after it is sent
    )


def measure(
    server: Server,
    scenario: str,
    args: argparse.Namespace,
    run: int,
    target: str,
    per_thread: bool = True,
) -> tuple[Outcome, int]:
    """Warm up, then measure one window; returns the outcome and the warm-up's 200s x events."""
    warm = load(server, scenario, WARM_UP_SECONDS, args)
    # CPU is sampled from the start to the end of the sending window, not of wrk's whole run
    # (which ends with an idle grace period), so 100 % means one core busy throughout: the whole
    # process tree (the workers and the store owner with Workers > 1), and per thread of a single
    # process (`threads.py`), so the report can say which thread the CPU went to.
    samples: list[tuple[float, float]] = []

    def sample() -> None:
        samples.append((time.monotonic(), tree_cpu_seconds(server.pid)))

    def end() -> None:
        ended.append(sampler.stop())
        sample()

    sample()
    sampler = ThreadSampler(server.pid).start()
    ended: list[Window] = []
    timer = threading.Timer(args.seconds, end)
    timer.start()
    counts = load(server, scenario, args.seconds, args)
    timer.join()
    (wall_0, cpu_0), (wall_1, cpu_1) = samples[0], samples[-1]
    cpu = (cpu_1 - cpu_0) / (wall_1 - wall_0) * 100

    def ms(key: str) -> float | None:
        return counts[key] / 1000 if key in counts else None

    outcome = Outcome(
        run=run,
        target=target,
        scenario=scenario,
        per_request=counts["per_request"],
        sent=counts["sent"],
        ok=counts["ok"],
        non200=counts["non200"],
        window_s=counts["window_s"],
        p50_ms=ms("p50_us"),
        p90_ms=ms("p90_us"),
        p99_ms=ms("p99_us"),
        socket_errors=sum(
            counts.get(k, 0) for k in ("connect_errors", "read_errors", "write_errors", "timeouts")
        ),
        cpu_percent=cpu,
        peak_rss_mb=peak_rss_mb(server.pid),
        threads=ended[0].groups if per_thread else None,
    )
    return outcome, warm["ok"] * warm["per_request"]


def bench_floor(work: Path, args: argparse.Namespace, run: int) -> Outcome:
    server = floor_server(work, args.server_core).start()
    try:
        outcome, _ = measure(server, "post", args, run, "floor")
    finally:
        server.stop()
    return outcome


def bench_tracker(
    work: Path,
    mode: str,
    scenario: str,
    args: argparse.Namespace,
    run: int,
    source: Path | None = None,
    workers: int = 1,
) -> Outcome:
    label = mode if source is None else f"{mode} (baseline)"
    label += f" w{workers}" if workers > 1 else ""
    data_dir = work / f"run{run}-{mode}-{scenario}{'-baseline' if source else ''}-w{workers}"
    config = {**BASE_CONFIG, "SpoolMode": mode, **args.config, "Workers": workers}
    core = args.server_core if workers == 1 else args.all_cores
    server = tracker_server(data_dir, config, core, source).start()
    try:
        wait_for_workers(server, workers)
        outcome, warm_rows = measure(server, scenario, args, run, label, per_thread=workers == 1)
        metrics = server.get_json("/metrics")
        outcome.server_avg_latency_ms = metrics["calculated"]["avg_latency_ms"]
    except BaseException:
        server.kill()
        raise
    stopping = time.monotonic()
    outcome.exit_code = server.stop()
    outcome.drain_s = time.monotonic() - stopping
    outcome.expected_rows = warm_rows + outcome.ok * outcome.per_request
    outcome.rows = count_rows(data_dir, "SELECT count() FROM events")
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    return outcome


def wait_for_workers(server: Server, workers: int, timeout: float = 120.0) -> None:
    """With `Workers` > 1, until every HTTP worker runs (`/ping` answers once the first does)."""
    deadline = time.monotonic() + timeout
    while workers > 1:
        running = [w for w in server.get_json("/metrics").get("workers", []) if w["running"]]
        if len(running) == workers:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(running)} of {workers} workers run; see the log")
        time.sleep(0.2)


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def summary_line(o: Outcome) -> str:
    rows = (
        ""
        if o.rows is None
        else f"  rows {o.rows}/{o.expected_rows} {'ok' if o.rows_match else 'MISMATCH'}"
    )
    p99 = "n/a" if o.p99_ms is None else f"{o.p99_ms:.1f} ms"
    return (
        f"{o.target:7} {o.scenario:5} {o.requests_per_s:9.0f} req/s {o.events_per_s:9.0f} ev/s"
        f"  p99 {p99}  cpu {o.cpu_percent:.0f}%  rss {o.peak_rss_mb:.0f} MB{rows}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 10)))
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", 3)))
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--modes", default="durable,memory")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument(
        "--workers", default="1,2", help="Workers counts to run (N > 1: durable mode only)"
    )
    parser.add_argument("--out", type=Path, help="report file (default bench/results/<date>.md)")
    parser.add_argument("--work", type=Path, help="data directories (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the data directories")
    parser.add_argument(
        "--config",
        type=json.loads,
        default={},
        help="more config.json keys for the tracker, e.g. '{\"BatchPolicies\": {...}}'",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout's src/ to measure beside this one (post and batch scenarios)",
    )
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    args.server_core, args.client_core = (0, 1) if cores >= 2 else (None, None)
    args.all_cores = f"0-{cores - 1}" if cores >= 2 else None
    args.worker_list = [int(n) for n in args.workers.split(",") if n]
    args.base_config = BASE_CONFIG
    args.mode_list = [m for m in args.modes.split(",") if m]
    args.scenario_list = [s for s in args.scenarios.split(",") if s]
    unknown = set(args.scenario_list) - set(SCENARIOS) | set(args.mode_list) - {"durable", "memory"}
    if unknown:
        parser.error(f"unknown scenario or mode: {', '.join(sorted(unknown))}")
    return args


def results_path(out: Path | None) -> Path:
    if out is not None:
        return out
    base = BENCH / "results" / f"{datetime.now():%Y-%m-%d}"
    path, n = base.with_suffix(".md"), 2
    while path.exists():
        path, n = base.with_name(f"{base.name}-{n}.md"), n + 1
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = missing_tools()
    if missing:
        print(
            f"bench: {', '.join(missing)} not found. Install with: sudo apt-get install -y wrk util-linux",
            file=sys.stderr,
        )
        return 2
    if args.server_core is None:
        log("one core only: server and load generator share it (numbers are not comparable)")
    work = args.work or Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    host = machine()
    log(f"load average at start: {host['load_start']}; data in {work}")
    outcomes: list[Outcome] = []
    for run in range(1, args.runs + 1):
        outcomes.append(bench_floor(work, args, run))
        log(summary_line(outcomes[-1]))
        for mode in args.mode_list:
            for scenario in args.scenario_list:
                for workers in args.worker_list if mode == "durable" else [1]:
                    outcomes.append(bench_tracker(work, mode, scenario, args, run, None, workers))
                    log(summary_line(outcomes[-1]))
                if args.baseline is not None and scenario in ("post", "batch"):
                    outcomes.append(bench_tracker(work, mode, scenario, args, run, args.baseline))
                    log(summary_line(outcomes[-1]))
    host["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    path = results_path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_report(path, host, args, outcomes)
    path.with_suffix(".raw").write_text("\n".join(json.dumps(asdict(o)) for o in outcomes) + "\n")
    if args.work is None and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    log(f"wrote {path}")
    mismatches = [o for o in outcomes if o.expected_rows is not None and not o.rows_match]
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
