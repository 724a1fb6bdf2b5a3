"""CPU per event of each process of `tracker serve --workers N`, and of its busiest threads.

    python bench/workers_cpu.py N [WORKDIR]

Starts a tracker with `Workers` N (N = 1: pinned to core 0; more: every core), warms up, sends the
single-event POST with wrk (64 connections, core 1) for 8 s, and prints each process's CPU
(supervisor, store owner, each worker) per acknowledged event, with its busiest threads by name
(Python threads are all named "python"; chDB's by their pools). bench/README.md quotes it.
"""

import shutil
import sys
import tempfile
import time
from pathlib import Path

from procs import cpu_seconds, run_wrk, tracker_server
from threads import tasks as thread_cpu

n = int(sys.argv[1])
work = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="workers-cpu-"))
shutil.rmtree(work, ignore_errors=True)
work.mkdir(parents=True)
cfg = {"ApiVersion": 1, "IdleTimeoutSeconds": 60, "Workers": n}
core = 0 if n == 1 else "0-1"
s = tracker_server(work / "data", cfg, core).start()
time.sleep(15 if n > 1 else 2)  # every worker up (`/ping` answers once the first is)


def procs(pid: int) -> dict[int, str]:
    out = {pid: "supervisor" if n > 1 else "server"}
    for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        cmd = Path(f"/proc/{c}/cmdline").read_bytes().split(b"\0")
        index = cmd[cmd.index(b"--worker-index") + 1].decode() if b"worker" in cmd else ""
        role = "owner" if b"owner" in cmd else f"worker{index}"
        out[int(c)] = role
    return out


ps = procs(s.pid)


def snap() -> dict[int, tuple[float, dict[int, tuple[str, float]]]]:
    return {p: (cpu_seconds(p), thread_cpu(p)) for p in ps}


run_wrk(s.url, "post_event.lua", seconds=1, per_request=1, connections=64, core=1)
a = snap()
c = run_wrk(s.url, "post_event.lua", seconds=8, per_request=1, connections=64, core=1, grace=0)
b = snap()
print("200s", c["ok"], "req/s", round(c["ok"] / c["window_s"]))
for p, role in ps.items():
    d = b[p][0] - a[p][0]
    print(f"{role:10} {d:6.2f} s  {d / c['ok'] * 1e6:7.1f} us/event")
    threads: dict[str, float] = {}
    for tid, (name, cpu) in b[p][1].items():
        before = a[p][1].get(tid, (name, 0.0))[1]
        threads[name] = threads.get(name, 0) + cpu - before
    for name, v in sorted(threads.items(), key=lambda x: -x[1])[:6]:
        if v > 0.01:
            print(f"     {name:20} {v / c['ok'] * 1e6:7.1f} us/event")
print("stop", s.stop())
