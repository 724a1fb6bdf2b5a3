"""CPU of every thread of a server over a measured window, grouped, so the parts add up to the whole.

`ThreadSampler` reads ``/proc/<pid>/task/*/stat`` (utime + stime, and ``comm``, the name the kernel
knows the thread by) every ``interval`` seconds from `start` to `stop`, and the process total from
``/proc/<pid>/stat``. A thread's CPU in the window is its last reading minus its first (zero if it
started in the window). What threads that ended in the window used after their last reading, and
before their first for threads that started in it, is the process total minus the sum of the
threads: it is a row of its own (``ended/started between samples``), so the rows always add up to
the process's measured CPU, and a large value there says sampling missed short-lived threads.

The groups (`group_of`):

* ``event loop``: the main thread (its tid is the pid): uvicorn, httptools, and all of our request
  Python (value map, normalise, plan, spool append, response);
* ``spool syncer`` (``spool-fsync``), ``writer`` (``writer-<sink>``): our supervised threads, which
  name themselves to the kernel (`tracker.supervise` sets ``comm``; Python 3.11 does not);
* ``chDB <comm>``: chDB's own threads by the name ClickHouse gives them (``QueryPipelineEx``,
  ``MergeMutate``, ``BgSchPool``, ...);
* ``unnamed (python comm)``: threads that kept the interpreter's name: native threads started
  without a name (chDB's and libuv's pools) and Python threads we did not name.

    python bench/threads.py <pid> [--seconds 10]     # a running server: CPU per group, 100 % = a core
"""

from __future__ import annotations

import argparse
import collections
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
OURS = {"spool-fsync": "spool syncer"}
UNSAMPLED = "ended/started between samples"


def _stat_cpu(stat: str) -> float:
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15)


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of the whole process so far (ended threads included)."""
    return _stat_cpu(Path(f"/proc/{pid}/stat").read_text())


def tasks(pid: int) -> dict[int, tuple[str, float]]:
    """Per live thread (tid): its comm and its CPU seconds so far."""
    out: dict[int, tuple[str, float]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # the thread ended
        out[int(task.name)] = (stat[stat.index("(") + 1 : stat.rindex(")")], _stat_cpu(stat))
    return out


def group_of(pid: int, tid: int, comm: str) -> str:
    if tid == pid:
        return "event loop"
    if comm in OURS:
        return OURS[comm]
    if comm.startswith("writer-"):
        return "writer"
    if comm == "libuv-worker":
        return "libuv pool"
    if comm in ("python", "python3", "python3.11", "tracker"):
        return "unnamed (python comm)"
    return f"chDB {comm}"


@dataclass
class Window:
    """What a sampler measured: seconds of wall time and CPU seconds per group."""

    wall: float
    total: float  # the process's CPU seconds in the window
    groups: dict[str, float] = field(default_factory=dict)

    def per_request_us(self, requests: int) -> dict[str, float]:
        return {g: cpu / requests * 1e6 for g, cpu in self.groups.items()} if requests else {}

    def table(self, requests: int | None = None) -> str:
        head = f"CPU over {self.wall:.1f} s ({self.total / self.wall:.0%} of a core)"
        lines = [head + (f", {requests} requests" if requests else "") + ":"]
        for name, cpu in sorted(self.groups.items(), key=lambda kv: -kv[1]):
            per = f"  {cpu / requests * 1e6:9.1f} µs/request" if requests else ""
            lines.append(f"  {cpu / self.wall:7.1%}{per}  {name}")
        per = f"  {self.total / requests * 1e6:9.1f} µs/request" if requests else ""
        lines.append(f"  {self.total / self.wall:7.1%}{per}  process total")
        return "\n".join(lines)


class ThreadSampler:
    """Samples a process's threads in the background between `start` and `stop`."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self._first: dict[int, tuple[str, float]] = {}
        self._last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="thread-sampler", daemon=True)
        self._started = 0.0
        self._total_0 = 0.0

    def start(self) -> ThreadSampler:
        self._started = time.monotonic()
        self._total_0 = process_cpu(self.pid)
        self._first = tasks(self.pid)
        self._last = dict(self._first)
        self._thread.start()
        return self

    def _sample(self) -> None:
        for tid, (comm, cpu) in tasks(self.pid).items():
            self._last[tid] = (comm, cpu)  # a thread's comm may change (it names itself)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._sample()
            except OSError:
                return  # the process ended

    def stop(self) -> Window:
        self._stop.set()
        self._thread.join()
        self._sample()
        total = process_cpu(self.pid) - self._total_0
        wall = time.monotonic() - self._started
        groups: dict[str, float] = collections.defaultdict(float)
        for tid, (comm, cpu) in self._last.items():
            start = self._first[tid][1] if tid in self._first else 0.0  # started in the window
            groups[group_of(self.pid, tid, comm)] += cpu - start
        groups[UNSAMPLED] = total - sum(groups.values())
        return Window(wall=wall, total=total, groups=dict(groups))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pid", type=int)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    sampler = ThreadSampler(args.pid).start()
    time.sleep(args.seconds)
    print(sampler.stop().table())


if __name__ == "__main__":
    main()
