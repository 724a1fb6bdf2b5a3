"""`bench/threads.py`: every thread's CPU over a window, grouped, adding up to the process total."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from threads import UNSAMPLED, ThreadSampler, process_cpu  # noqa: E402

# A process like the server: a busy main thread, a busy thread named like our writer, and short
# threads that start and end between two samples.
CHILD = """
import threading, time
from tracker.supervise import name_native_thread

def spin(seconds, name=None):
    if name:
        name_native_thread(name)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass

threading.Thread(target=spin, args=(30, "writer-clickhouse"), daemon=True).start()
def short_ones():
    while True:
        t = threading.Thread(target=spin, args=(0.005,))
        t.start()
        t.join()
threading.Thread(target=short_ones, daemon=True).start()
print("ready", flush=True)
spin(30)
"""


def test_the_groups_add_up_to_the_process_total_and_name_our_threads() -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        sampler = ThreadSampler(child.pid, interval=0.05).start()
        started, deadline = process_cpu(child.pid), time.monotonic() + 60
        while process_cpu(child.pid) - started < 0.6:  # a loaded machine gives it less of a core
            assert time.monotonic() < deadline, "the child used under 0.6 s of CPU in 60 s"
            time.sleep(0.1)
        window = sampler.stop()
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert window.total >= 0.6, window.table()
    assert abs(sum(window.groups.values()) - window.total) < 1e-9
    assert window.groups["event loop"] >= 0.1, window.table()  # a third each, give or take
    assert window.groups["writer"] >= 0.1, window.table()
    assert UNSAMPLED in window.groups
    per = window.per_request_us(1000)
    assert abs(sum(per.values()) - window.total / 1000 * 1e6) < 1e-6
