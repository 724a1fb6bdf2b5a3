"""Our background threads carry their names into the kernel (``comm``), where `top -H` and
`bench/threads.py` read them; Python 3.11 names a thread for Python only."""

from __future__ import annotations

import threading
from pathlib import Path

from tracker.supervise import Supervised


def test_a_supervised_thread_names_itself_to_the_kernel() -> None:
    seen: list[str] = []
    done = threading.Event()

    def loop() -> None:
        seen.append(Path(f"/proc/self/task/{threading.get_native_id()}/comm").read_text().strip())
        done.set()

    thread = Supervised("writer-clickhouse-long-name", loop)
    thread.start()
    assert done.wait(10), "the supervised loop did not run"
    thread.join(10)
    assert seen == ["writer-clickhou"]  # the kernel keeps 15 bytes
