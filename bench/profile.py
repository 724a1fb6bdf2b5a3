"""Profile the tracker under load with py-spy and summarise where the time goes.

    python bench/profile.py [--scenario post] [--mode durable] [--seconds 10] [--gil] [--svg]

Starts a tracker pinned to one core, warms it up, then samples it with ``py-spy record`` while
wrk (on the other core) sends the scenario's requests. Writes the collapsed stacks to
``bench/results/profile-<scenario>-<mode>.raw`` (and a flame graph ``.svg`` with ``--svg``) and
prints, per thread, the functions with the most samples: *self* (on top of the stack) and
*total* (anywhere in the stack). ``--gil`` keeps only samples that hold the GIL, which shows what
competes with the event loop; without it, time a thread spends waiting is included.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from procs import BENCH, run_wrk, thread_cpu, tracker_server

SCRIPTS = {"get": "get_event.lua", "post": "post_event.lua", "batch": "batch_events.lua"}


def cpu_table(
    before: dict[int, tuple[str, float]],
    after: dict[int, tuple[str, float]],
    wall: float,
    names: dict[int, str],
) -> str:
    """CPU per thread over the window, busiest first; chDB's own threads grouped by name."""
    used: dict[str, float] = collections.defaultdict(float)
    for tid, (comm, seconds) in after.items():
        used[names.get(tid, f"{comm} (native)")] += seconds - before.get(tid, (comm, 0.0))[1]
    lines = [f"CPU over the {wall:.1f} s window (100 % = one core):"]
    total = sum(used.values())
    for name, spent in sorted(used.items(), key=lambda kv: -kv[1]):
        if spent > 0:
            lines.append(f"  {spent / wall:6.1%}  {name}")
    lines.append(f"  {total / wall:6.1%}  all threads")
    return "\n".join(lines)


def thread_names(raw: Path) -> dict[int, str]:
    """Native thread id to Python thread name, from py-spy's ``thread (TID): name`` frames."""
    names: dict[int, str] = {}
    for line in raw.read_text().splitlines():
        for frame in line.split(";"):
            if frame.startswith("thread ("):
                tid, _, name = frame[len("thread (") :].partition("): ")
                if tid.isdigit():
                    names[int(tid)] = name
    return names


def summarise(raw: Path, top: int) -> str:
    """The busiest functions per thread, from py-spy's collapsed ``frame;frame;... count`` lines."""
    per_thread: dict[str, int] = collections.Counter()
    self_time: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    total_time: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = next((f for f in frames if f.startswith("thread ")), "?")
        frames = [f for f in frames if not f.startswith(("thread ", "process "))]
        per_thread[thread] += count
        if frames:
            self_time[thread][frames[-1]] += count
        for frame in set(frames):
            total_time[thread][frame] += count
    everything = sum(per_thread.values()) or 1
    out = [f"{everything} samples"]
    for thread, samples in sorted(per_thread.items(), key=lambda kv: -kv[1]):
        out.append(f"\n## {thread}: {samples} samples ({samples / everything:.0%})")
        out.append("\nself (top of stack):")
        for frame, count in self_time[thread].most_common(top):
            out.append(f"  {count / samples:6.1%}  {frame}")
        out.append("total (anywhere in the stack):")
        for frame, count in total_time[thread].most_common(top):
            out.append(f"  {count / samples:6.1%}  {frame}")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=sorted(SCRIPTS), default="post")
    parser.add_argument("--mode", choices=("durable", "memory"), default="durable")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    parser.add_argument("--gil", action="store_true", help="only samples holding the GIL")
    parser.add_argument("--idle", action="store_true", help="include idle threads' samples")
    parser.add_argument("--svg", action="store_true", help="a flame graph instead of raw stacks")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        print("bench: py-spy is missing: make install-dev (or pip install py-spy)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="tracker-profile-"))
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    name = f"profile-{args.scenario}-{args.mode}{'-gil' if args.gil else ''}"
    output = results / f"{name}.{'svg' if args.svg else 'raw'}"
    server = tracker_server(
        work / "data", {"ApiVersion": 1, "SpoolMode": args.mode}, core=0
    ).start()
    per = args.batch_size if args.scenario == "batch" else 1
    load = {"per_request": per, "connections": args.connections, "core": 1}
    try:
        run_wrk(server.url, SCRIPTS[args.scenario], seconds=1.0, **load)  # warm-up
        spy = [py_spy, "record", "--pid", str(server.pid), "--rate", str(args.rate)]
        spy += ["--duration", str(int(args.seconds)), "--threads", "--nonblocking"]
        spy += ["--format", "flamegraph" if args.svg else "raw", "--output", str(output)]
        spy += ["--gil"] if args.gil else []
        spy += ["--idle"] if args.idle else []
        sampler = subprocess.Popen(["taskset", "-c", "1", *spy], stdout=subprocess.DEVNULL)
        before, started = thread_cpu(server.pid), time.monotonic()
        end: list[tuple[dict[int, tuple[str, float]], float]] = []
        timer = threading.Timer(
            args.seconds, lambda: end.append((thread_cpu(server.pid), time.monotonic() - started))
        )
        timer.start()  # per-thread CPU over the sending window, not wrk's idle grace after it
        counts = run_wrk(server.url, SCRIPTS[args.scenario], seconds=args.seconds, **load)
        timer.join()
        after, wall = end[0]
        sampler.wait(60)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    rate = counts["ok"] / counts["window_s"]
    print(f"{args.scenario}/{args.mode}: {rate:.0f} req/s under the profiler; wrote {output}")
    names = {} if args.svg else thread_names(output)
    print(cpu_table(before, after, wall, names))
    if not args.svg:
        print(summarise(output, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
