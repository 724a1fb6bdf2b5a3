"""A sink's cursor into the spool, and the batches it is about to write.

The journal is written (atomically, fsync'd) *before* a batch is sent: the batch is then fixed as
the records of one table between two spool offsets, and its deduplication token is derived from
them. After a crash the writer sends exactly the same batches with the same tokens again, and
ClickHouse stores each once (``non_replicated_deduplication_window`` / replicated dedup).

* ``safe``: every record before this offset is stored; replay starts here.
* ``committed[table]``: records of that table before this offset are stored (skipped on replay).
* ``inflight[table]``: ``[from, to)`` ranges sealed and maybe sent, not yet confirmed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson


@dataclass
class CursorState:
    safe: int = 0
    committed: dict[str, int] = field(default_factory=dict)
    inflight: dict[str, list[tuple[int, int]]] = field(default_factory=dict)


class CursorJournal:
    def __init__(self, path: Path, persist: bool = True) -> None:
        self.path = path
        self.persist = persist  # False in SpoolMode memory: nothing to resume after a restart
        self._dir_made = False

    def load(self, default_safe: int) -> CursorState:
        if not self.persist:
            return CursorState(safe=default_safe)
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return CursorState(safe=default_safe)
        return CursorState(
            safe=int(data["safe"]),
            committed={k: int(v) for k, v in data.get("committed", {}).items()},
            inflight={
                k: [(int(a), int(b)) for a, b in v] for k, v in data.get("inflight", {}).items()
            },
        )

    def save(self, state: CursorState) -> None:
        if not self.persist:
            return
        data = orjson.dumps(
            {"safe": state.safe, "committed": state.committed, "inflight": state.inflight}
        )
        tmp = self.path.with_suffix(".tmp")
        if not self._dir_made:  # once, not on every save: saves come twice per batch
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._dir_made = True
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
