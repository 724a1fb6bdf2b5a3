"""fdatasync rate of this disk with 1, 2, 4 and 8 processes appending at once (bench/README.md).

    python bench/fsync_rate.py [DIR]

Each process appends 400 bytes and `fdatasync`s in a loop for 3 s, in its own file in DIR
(default a temporary directory): the total syncs per second and the CPU each took.
"""

import os
import sys
import tempfile
import time
from multiprocessing import Process, Queue

DIR = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="fsync-rate-")


def run(i: int, q: "Queue[tuple[int, float]]") -> None:
    fd = os.open(f"{DIR}/fs{i}.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    n = 0
    t = time.monotonic()
    c = time.process_time()
    while time.monotonic() - t < 3:
        os.write(fd, b"x" * 400)
        os.fdatasync(fd)
        n += 1
    q.put((n, time.process_time() - c))


if __name__ == "__main__":
    for k in (1, 2, 4, 8):
        q: "Queue[tuple[int, float]]" = Queue()
        ps = [Process(target=run, args=(i, q)) for i in range(k)]
        for p in ps:
            p.start()
        for p in ps:
            p.join()
        res = [q.get() for _ in ps]
        n = sum(r[0] for r in res)
        cpu = sum(r[1] for r in res)
        print(f"{k} writers: {n / 3:.0f} fdatasync/s in all, {cpu / n * 1e6:.0f} us CPU each")
